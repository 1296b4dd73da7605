"""A batched subscription records a fetched batch in one transaction, keeps the inbox's
once-only rule, and a poison event in a batch neither blocks nor loses the others."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from google.protobuf.wrappers_pb2 import StringValue
from servicekit.bus import Bus, ConsumerRunner, Event, OutboxRelay, Subscription
from servicekit.db import Database, UnitOfWork
from servicekit.errors import BadUserInput
from sqlalchemy import text


@contextlib.asynccontextmanager
async def running(*coros: object) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coros]  # type: ignore[arg-type]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def record_with_transaction(event: Event, uow: UnitOfWork) -> None:
    value = event.unpack(StringValue).value
    if value.startswith("poison"):
        raise BadUserInput("this one breaks a rule")
    await uow.session.execute(
        text("INSERT INTO batch_effects (event_id, body, tx) VALUES (:id, :body, txid_current())"),
        {"id": event.id, "body": value},
    )


async def prepare(db: Database, *values: str) -> list[uuid.UUID]:
    async with db.uow() as uow:
        await uow.session.execute(
            text(
                "CREATE TABLE IF NOT EXISTS batch_effects "
                "(event_id uuid PRIMARY KEY, body text NOT NULL, tx bigint NOT NULL)"
            )
        )
        ids = [uow.emit("demo.item.changed", StringValue(value=v), subject_id=v) for v in values]
        await uow.commit()
    return ids


async def relay_all(db: Database, bus: Bus) -> None:
    """Publish the outbox before the consumer starts, so its first fetch is one batch."""
    relay = OutboxRelay(db, bus)
    while (await relay.relay_once())[0]:
        pass


async def recorded(db: Database) -> list[tuple[str, int]]:
    async with db.session() as session:
        rows = await session.execute(text("SELECT body, tx FROM batch_effects ORDER BY body"))
        return [(r.body, int(r.tx)) for r in rows]


async def dead_letters(bus: Bus) -> int:
    js = await bus.connect()
    info = await js.stream_info(await bus.ensure_dlq_stream())
    return int(info.state.messages)


async def wait_for(db: Database, count: int, timeout: float = 30.0) -> list[tuple[str, int]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found := await recorded(db)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"only {len(found)} recorded"
        await asyncio.sleep(0.02)
    return found


async def test_a_batch_is_recorded_in_one_transaction_once(db: Database, bus: Bus) -> None:
    values = [f"item-{i:03}" for i in range(40)]
    ids = await prepare(db, *values)
    # One of them was processed before: the inbox knows it, the batch does not record it.
    async with db.uow() as uow:
        await uow.session.execute(
            text("INSERT INTO inbox (consumer, event_id, subject) VALUES ('batch', :id, 's')"),
            {"id": ids[7]},
        )
        await uow.commit()
    await relay_all(db, bus)
    sub = Subscription("demo.item.changed", record_with_transaction, durable="batch", batched=True)
    runner = ConsumerRunner(db, bus, "demo", [sub], batch=64)
    async with running(runner.run()):
        found = await wait_for(db, 39)
    assert [body for body, _ in found] == [v for i, v in enumerate(values) if i != 7]
    # Fetched together, recorded together: far fewer transactions than events.
    assert len({tx for _, tx in found}) <= 3


async def test_a_poison_event_in_a_batch_loses_none_of_the_others(db: Database, bus: Bus) -> None:
    values = [f"item-{i:03}" for i in range(20)] + ["poison"] + [f"more-{i:03}" for i in range(9)]
    await prepare(db, *values)
    await relay_all(db, bus)
    before = await dead_letters(bus)
    sub = Subscription("demo.item.changed", record_with_transaction, durable="poisoned",
                       batched=True)  # fmt: skip
    runner = ConsumerRunner(db, bus, "demo", [sub], batch=64)
    async with running(runner.run()):
        found = await wait_for(db, 29)
        deadline = asyncio.get_running_loop().time() + 30
        while await dead_letters(bus) == before:
            assert asyncio.get_running_loop().time() < deadline, "the poison event stayed"
            await asyncio.sleep(0.02)
    assert sorted(body for body, _ in found) == sorted(v for v in values if v != "poison")
    assert await dead_letters(bus) - before == 1


async def test_a_batch_handler_takes_the_fresh_events_of_a_fetch_whole(
    db: Database, bus: Bus
) -> None:
    values = [f"whole-{i:03}" for i in range(120)]
    ids = await prepare(db, *values)
    async with db.uow() as uow:  # processed before: not handed to the batch handler again
        await uow.session.execute(
            text("INSERT INTO inbox (consumer, event_id, subject) VALUES ('whole', :id, 's')"),
            {"id": ids[3]},
        )
        await uow.commit()
    await relay_all(db, bus)
    calls: list[int] = []

    async def record_all(events: list[Event], uow: UnitOfWork) -> None:
        calls.append(len(events))
        for event in events:
            await record_with_transaction(event, uow)

    sub = Subscription("demo.item.changed", record_with_transaction, durable="whole",
                       batched=True, batch_handler=record_all, fetch=200)  # fmt: skip
    runner = ConsumerRunner(db, bus, "demo", [sub], batch=64)
    async with running(runner.run()):
        found = await wait_for(db, 119)
    assert [body for body, _ in found] == [v for i, v in enumerate(values) if i != 3]
    assert sum(calls) == 119
    # Fetches of 200, not of the runner's 64: the 120 published come in one or two calls.
    assert len(calls) <= 2 and max(calls) > 64
