"""`Deadlines` times blocks out like `asyncio.timeout`, with one timer for all of them."""

from __future__ import annotations

import asyncio
import time

import pytest
from gateway.deadlines import Deadlines


async def test_a_block_past_its_deadline_raises_timeout_error() -> None:
    deadlines = Deadlines(0.05)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with deadlines.guard():
            await asyncio.sleep(5)
    assert time.monotonic() - started >= 0.04  # never early; the raise shows it was not late
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    await asyncio.sleep(0)  # the task is usable afterwards


async def test_a_block_done_in_time_is_never_cancelled() -> None:
    deadlines = Deadlines(0.05)
    fired = asyncio.Event()
    expire = deadlines._expire

    def expire_and_tell() -> None:
        expire()
        fired.set()

    deadlines._expire = expire_and_tell  # type: ignore[method-assign]
    async with deadlines.guard():
        await asyncio.sleep(0)
    await asyncio.wait_for(fired.wait(), 10)  # the block's deadline came, after it was done
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    await asyncio.sleep(0)  # no cancellation is pending either


async def test_outside_cancellation_stays_a_cancellation() -> None:
    deadlines = Deadlines(5)

    async def guarded() -> None:
        async with deadlines.guard():
            await asyncio.sleep(5)

    task = asyncio.create_task(guarded())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_each_block_gets_its_own_deadline() -> None:
    deadlines = Deadlines(0.3)

    async def block(delay: float, sleep: float) -> str:
        await asyncio.sleep(delay)
        try:
            async with deadlines.guard():
                await asyncio.sleep(sleep)
        except TimeoutError:
            return "timeout"
        return "done"

    outcomes = await asyncio.gather(
        block(0, 0.01),  # done first: must not hold the others back
        block(0, 5),
        block(0.05, 0.02),
        block(0.05, 5),
        block(0.4, 5),  # starts after the first deadlines passed
    )
    assert outcomes == ["done", "timeout", "done", "timeout", "timeout"]


def test_a_new_event_loop_starts_a_fresh_queue() -> None:
    deadlines = Deadlines(0.05)

    async def slow() -> None:
        async with deadlines.guard():
            await asyncio.sleep(5)

    for _ in range(2):
        with pytest.raises(TimeoutError):
            asyncio.run(slow())
