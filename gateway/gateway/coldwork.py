"""Cold work (parsing, validating, planning an operation not seen yet) off the event loop.

A pathological operation may take the planner its whole budget (seconds); run on the
event loop, that would hold every other client for as long. `ColdWork` runs such work in
a small thread pool of its own (not the loop's default executor, which DNS look-ups and
other blocking calls share) and coalesces identical work: while one caller computes a
key, later callers of the same key await the same result instead of computing it again.

The functions it runs must be pure: they read shared state that does not change (the
schema, the planner) and return a new value. Caches stay on the loop, in the caller, so
no lock is needed around them. The worker still shares the GIL with the loop, but the
interpreter switches threads every few milliseconds, so the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

__all__ = ["ColdWork"]

T = TypeVar("T")


class ColdWork:
    """Runs pure, CPU-bound functions in `workers` threads, one run per key at a time."""

    def __init__(self, workers: int = 2, *, name: str = "gateway-cold") -> None:
        # Threads start on first use; idle ones end when the pool is collected.
        self._executor = ThreadPoolExecutor(max(1, workers), thread_name_prefix=name)
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    @property
    def running(self) -> int:
        """How many distinct keys are being computed now."""
        return len(self._running)

    async def run(self, key: Hashable, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a worker, or the result of the run of `key` under way.

        The caller's context (the current span) goes with the work. A cancelled caller
        leaves the run going for the others awaiting it.
        """
        future = self._running.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            context = contextvars.copy_context()
            future = loop.run_in_executor(self._executor, context.run, function, *args)
            self._running[key] = future
            future.add_done_callback(lambda done: self._forget(key, done))
        return cast(T, await asyncio.shield(future))

    def _forget(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            # Nobody may be left awaiting: read the exception so it is not reported as lost.
            done.exception()
