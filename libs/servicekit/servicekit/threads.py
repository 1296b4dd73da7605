"""Thread pools whose threads are all running before the first request needs one.

`ThreadPoolExecutor` starts a thread when work is submitted and no thread is idle, and
`Thread.start` waits until the new thread runs: a thread needs the GIL to say it started,
so the event loop that submitted the work stands still for a switch interval or more. A
burst — 25 tours' first joins each making a Chime call, a crowd signing in — then holds
the loop once per new thread, in the middle of the requests that caused it (about a fifth
of the loop's time in media's first-join benchmark). Started at assembly instead, the
pool's threads cost that once, before any request is taken.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["started_pool"]

log = logging.getLogger(__name__)

# Long enough for any machine to start a few dozen threads; a pool that could not start
# them all still works, starting the rest on demand as a plain pool would.
_START_TIMEOUT_SECONDS = 10.0


def started_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A pool of `workers` threads named `name_N`, every one of them started."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    # Every task waits for the others: no thread is idle when the next one is submitted,
    # so the pool starts a new thread for each, up to `workers`.
    gathered = threading.Barrier(workers, timeout=_START_TIMEOUT_SECONDS)
    waits = [pool.submit(gathered.wait) for _ in range(workers)]
    if any(wait.exception() is not None for wait in waits):  # the barrier timed out
        log.warning(
            "%s: not every one of %d threads started; the rest start on demand", name, workers
        )
    return pool
