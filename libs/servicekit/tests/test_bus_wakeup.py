"""The relay is woken by commits, in its own process or another, not by its idle poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psycopg
from google.protobuf.wrappers_pb2 import StringValue
from servicekit.bus import Bus, OutboxRelay
from servicekit.db import Database, libpq_url
from servicekit.outbox_wakeup import OutboxWakeup
from servicekit.tables import OUTBOX_CHANNEL, drop_outbox_notify_trigger
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


async def test_a_burst_of_commits_elsewhere_shares_its_notifies(db: Database, bus: Bus) -> None:
    """The first commit notifies at once, the rest of the burst share one NOTIFY after the
    interval: every commit is announced, by a handful of NOTIFYs rather than one each."""
    producer = Database(db.url, source="demo")
    producer.outbox_wakeup = OutboxWakeup(
        libpq_url(db.url), "demo outbox wake-up", min_interval=0.5
    )
    notifies: list[object] = []
    await bus.ensure_stream_for("wake.item.changed")
    relay = OutboxRelay(db, bus, idle_interval=NEVER)

    async def count_notifies(conn: psycopg.AsyncConnection[object]) -> None:
        async for notify in conn.notifies():
            notifies.append(notify)

    async with await psycopg.AsyncConnection.connect(
        libpq_url(db.url), autocommit=True
    ) as listener:
        await listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
        counting = asyncio.create_task(count_notifies(listener))
        try:
            async with relaying(relay, db):
                await emit(producer, "first")
                await wait_until(lambda: relay.published == 1)  # the first at once
                await asyncio.gather(*(emit(producer, str(n)) for n in range(30)))
                await wait_until(lambda: relay.published == 31)  # the rest, after the interval
        finally:
            counting.cancel()
            await asyncio.gather(counting, return_exceptions=True)
            await producer.dispose()
    assert 2 <= len(notifies) <= 4
