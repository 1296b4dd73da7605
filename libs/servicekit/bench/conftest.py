from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from servicekit.db import Database
from servicekit.tables import bus_metadata
from servicekit.testing import DatabaseFactory


@pytest_asyncio.fixture(loop_scope="session")
async def db(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    url = await database_factory.create()
    database = Database(url, source="bench", pool_size=20)
    async with database.engine.begin() as conn:
        await conn.run_sync(bus_metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()
        await database_factory.drop(url)
