"""Per-fetch timeouts that cost no timer per fetch.

`asyncio.timeout` arms and cancels an event-loop timer for every block it guards: about
5 µs per subgraph fetch, more than the rest of the gateway's own bookkeeping around one.
Every fetch of a transport (or of an engine) is given the same number of seconds, so
deadlines arrive in the order the fetches started: a FIFO queue is already sorted by
deadline, and one timer, armed for the oldest unfinished entry, serves them all.

`Deadlines.guard()` behaves like `asyncio.timeout(seconds)`: when the deadline passes the
guarded block's task is cancelled and the block raises `TimeoutError`; a cancellation
from elsewhere still propagates as `CancelledError`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType

__all__ = ["Deadlines"]


class _Guard:
    """One guarded block: its task, its deadline, and whether the deadline cancelled it."""

    __slots__ = ("cancelling", "done", "expired", "queue", "task", "when")

    def __init__(self, queue: Deadlines) -> None:
        self.queue = queue
        self.task: asyncio.Task[object] | None = None
        self.when = 0.0
        self.cancelling = 0
        self.done = False
        self.expired = False

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline guard must be used inside a task")
        self.task = task
        self.cancelling = task.cancelling()
        self.queue._enter(self)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = self.task
        self.task = None  # a finished entry may wait in the queue; it keeps nothing alive
        self.done = True
        self.queue._exit()
        if (
            self.expired
            and task is not None
            and task.uncancel() <= self.cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc


class Deadlines:
    """Deadlines `seconds` after each guarded block starts, on the running event loop.

    One instance serves one constant timeout; it follows the running loop (a new loop
    starts an empty queue).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._queue: deque[_Guard] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def guard(self) -> _Guard:
        """An `async with` block bounded by this queue's timeout."""
        return _Guard(self)

    def _enter(self, guard: _Guard) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._timer = loop, None
            self._queue.clear()
        guard.when = loop.time() + self.seconds
        self._queue.append(guard)
        if self._timer is None:
            self._timer = loop.call_at(guard.when, self._expire)

    def _exit(self) -> None:
        queue = self._queue
        while queue and queue[0].done:
            queue.popleft()

    def _expire(self) -> None:
        """Cancel every block whose deadline has passed; re-arm for the oldest remaining."""
        loop = self._loop
        assert loop is not None
        self._timer = None
        queue = self._queue
        # Event loops run a timer up to their clock resolution early; a deadline within
        # a millisecond is due now rather than worth another timer.
        now = loop.time() + 0.001
        while queue and (queue[0].done or queue[0].when <= now):
            guard = queue.popleft()
            if not guard.done and guard.task is not None:
                guard.expired = True
                guard.task.cancel()
        if queue:
            self._timer = loop.call_at(queue[0].when, self._expire)
