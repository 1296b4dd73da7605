"""The relay is woken by commits, in its own process or another, not by its idle poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from google.protobuf.wrappers_pb2 import StringValue
from servicekit.bus import Bus, OutboxRelay
from servicekit.db import Database
from servicekit.tables import drop_outbox_notify_trigger
from sqlalchemy import text

NEVER = 120.0  # an idle poll this long would fail every wait below


@contextlib.asynccontextmanager
async def relaying(relay: OutboxRelay, db: Database) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        await wait_until(lambda: db.outbox_wakeup.relaying_here)  # leading, LISTENing
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def wait_until(predicate, timeout: float = 40.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def emit(db: Database, value: str) -> None:
    async with db.uow() as uow:
        uow.emit("wake.item.changed", StringValue(value=value), subject_id="a")
        await uow.commit()


async def test_a_commit_wakes_the_relay_of_its_own_process(db: Database, bus: Bus) -> None:
    await bus.ensure_stream_for("wake.item.changed")
    relay = OutboxRelay(db, bus, idle_interval=NEVER)
    async with relaying(relay, db):
        await emit(db, "one")
        await wait_until(lambda: relay.published == 1)
        await emit(db, "two")
        await wait_until(lambda: relay.published == 2)


async def test_a_commit_elsewhere_wakes_the_relay_by_one_notify_after_it(
    db: Database, bus: Bus
) -> None:
    # Another process of the service: its own Database, no relay of its own leading.
    producer = Database(db.url, source="demo")
    await bus.ensure_stream_for("wake.item.changed")
    relay = OutboxRelay(db, bus, idle_interval=NEVER)
    try:
        async with relaying(relay, db):
            assert not producer.outbox_wakeup.relaying_here
            await asyncio.gather(*(emit(producer, str(n)) for n in range(20)))
            await wait_until(lambda: relay.published == 20)
    finally:
        await producer.dispose()


async def test_a_database_from_before_keeps_working_and_loses_its_trigger(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN PERFORM pg_notify('realty_outbox', ''); RETURN NULL; END $$; "
                "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
                "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"
            )
        )
    await emit(db, "with the old trigger")
    async with db.engine.begin() as conn:
        await conn.run_sync(drop_outbox_notify_trigger)
        await conn.run_sync(drop_outbox_notify_trigger)  # idempotent
        triggers = (
            await conn.execute(
                text("SELECT count(*) FROM pg_trigger WHERE tgname = 'outbox_notify'")
            )
        ).scalar_one()
    assert triggers == 0
    await emit(db, "without it")
