from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from servicekit.db import Database
from servicekit.tables import bus_metadata
from servicekit.testing import DatabaseFactory
from sqlalchemy import text


@pytest_asyncio.fixture(loop_scope="session")
async def db(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    """A fresh database with the outbox/inbox tables and an `effects` table for handlers."""
    url = await database_factory.create()
    database = Database(url, source="demo")
    async with database.engine.begin() as conn:
        await conn.run_sync(bus_metadata.create_all)
        await conn.execute(
            text("CREATE TABLE effects (event_id uuid PRIMARY KEY, body text NOT NULL)")
        )
    try:
        yield database
    finally:
        await database.dispose()
        await database_factory.drop(url)
