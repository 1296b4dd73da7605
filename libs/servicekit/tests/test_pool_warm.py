"""A warmed pool: the connections a crowd needs are open before it comes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest_asyncio
from servicekit.db import Database, libpq_url
from servicekit.testing import DatabaseFactory
from sqlalchemy import text
from sqlalchemy.engine import make_url


@pytest_asyncio.fixture(loop_scope="session")
async def pooled(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    url = await database_factory.create()
    database = Database(url, source="demo", pool_size=4, max_overflow=4)
    try:
        yield database
    finally:
        await database.dispose()
        await database_factory.drop(url)


async def backends(db: Database) -> set[int]:
    """The server processes connected to the database, seen from a connection of its own."""
    name = make_url(db.url).database
    async with await psycopg.AsyncConnection.connect(libpq_url(db.url), autocommit=True) as conn:
        rows = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        return {int(pid) for (pid,) in await rows.fetchall()}


async def crowd(db: Database, size: int) -> set[int]:
    """The backends of `size` units of work holding a connection at the same time."""
    together = asyncio.Barrier(size)

    async def one() -> int:
        async with db.engine.connect() as conn:
            pid = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            await together.wait()
            return pid

    return set(await asyncio.gather(*(one() for _ in range(size))))


async def test_a_crowd_after_warming_opens_no_connection(pooled: Database) -> None:
    assert await pooled.warm(4) == 4
    warmed = await backends(pooled)
    assert len(warmed) == 4
    assert await crowd(pooled, 4) == warmed
    assert await backends(pooled) == warmed


async def test_warming_counts_connections_in_use_and_stops_at_the_pool_size(
    pooled: Database,
) -> None:
    async with pooled.engine.connect() as busy:
        await busy.execute(text("SELECT 1"))
        assert await pooled.warm(4) == 3
    assert await pooled.warm(10) == 4  # the pool keeps four; overflow would only close again
    assert len(await backends(pooled)) == 4
