"""The path a bare machine takes: embedded PostgreSQL and NATS, nothing configured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from servicekit.bus import Bus, ConsumerRunner, Event, OutboxRelay, Subscription
from servicekit.db import Database, UnitOfWork, ensure_database
from servicekit.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from servicekit.tables import bus_metadata
from sqlalchemy import text
from sqlalchemy.engine import make_url


@pytest.mark.embedded
async def test_change_to_event_to_consumer_on_embedded_servers(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "pg", free_port())
    nats = EmbeddedNats(tmp_path / "nats", free_port())
    await asyncio.to_thread(postgres.start)
    await asyncio.to_thread(nats.start)
    url = make_url(postgres.url).set(database="realty_demo").render_as_string()
    db = Database(url, source="demo")
    bus = Bus(nats.url)
    try:
        assert await ensure_database(url) is True
        assert await ensure_database(url) is False
        async with db.engine.begin() as conn:
            await conn.run_sync(bus_metadata.create_all)
            extensions = await conn.execute(
                text("CREATE EXTENSION IF NOT EXISTS btree_gist; SELECT 1")
            )
            assert extensions is not None
        received: list[str] = []
        arrived = asyncio.Event()

        async def record(event: Event, uow: UnitOfWork) -> None:
            received.append(event.unpack(StringValue).value)
            arrived.set()

        async with db.uow() as uow:
            uow.emit("demo.thing.happened", StringValue(value="hello"), subject_id="t1")
            await uow.commit()
        relay = OutboxRelay(db, bus)
        runner = ConsumerRunner(db, bus, "demo", [Subscription("demo.thing.happened", record, "e")])
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
        try:
            await asyncio.wait_for(arrived.wait(), timeout=30)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert received == ["hello"]
    finally:
        await bus.close()
        await db.dispose()
        await asyncio.to_thread(nats.stop)
        await asyncio.to_thread(postgres.stop)
