"""One process among a service's leads its background work; another takes over when it goes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest
from servicekit.db import Database
from servicekit.leadership import Leadership
from sqlalchemy import text

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Job:
    """A background worker that says when it starts and counts how many copies run."""

    def __init__(self) -> None:
        self.running = 0
        self.most_at_once = 0
        self.started = asyncio.Event()

    async def run(self) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.running -= 1


async def test_one_candidate_leads_and_the_other_takes_over_when_it_stops(db: Database) -> None:
    job = Job()
    first = Leadership(db.url, "demo", [job.run], retry_interval=0.05, check_interval=0.05)
    second = Leadership(db.url, "demo", [job.run], retry_interval=0.05, check_interval=0.05)
    leading = asyncio.create_task(first.run())
    await asyncio.wait_for(job.started.wait(), 10)
    waiting = asyncio.create_task(second.run())
    try:
        # The second candidate has tried the lock at least once and been refused.
        await asyncio.wait_for(_until(lambda: _candidates(db), 2), 10)
        assert first.is_leader and not second.is_leader
        assert job.running == 1

        job.started.clear()
        leading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leading
        await asyncio.wait_for(job.started.wait(), 10)
        assert second.is_leader and second.terms == 1
        assert job.running == 1 and job.most_at_once == 1
    finally:
        for task in (leading, waiting):
            task.cancel()
        await asyncio.gather(leading, waiting, return_exceptions=True)


async def _candidates(db: Database) -> int:
    """Leadership connections open on the database (leader and waiting candidates)."""
    async with db.engine.connect() as conn:
        count = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name LIKE 'demo leadership%' AND state IS NOT NULL"
            )
        )
    return int(count or 0)


async def _until(probe: Callable[[], Awaitable[int]], expected: int) -> None:
    while await probe() != expected:
        await asyncio.sleep(0.02)
