"""A started pool has every thread running before any work is submitted."""

from __future__ import annotations

import threading

from servicekit.threads import started_pool


def _pool_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{prefix}_")]


def test_every_thread_of_the_pool_is_running_once_it_is_made() -> None:
    pool = started_pool(6, "started-six")
    try:
        assert len(_pool_threads("started-six")) == 6
        # Work submitted now takes a thread already there: none is added.
        assert pool.submit(lambda: threading.current_thread().name).result() in {
            t.name for t in _pool_threads("started-six")
        }
        assert len(_pool_threads("started-six")) == 6
    finally:
        pool.shutdown(wait=True)
    assert _pool_threads("started-six") == []


def test_a_pool_of_one_thread_starts_it() -> None:
    pool = started_pool(1, "started-one")
    try:
        assert len(_pool_threads("started-one")) == 1
        assert pool.submit(sum, [1, 2, 3]).result() == 6
    finally:
        pool.shutdown(wait=True)
