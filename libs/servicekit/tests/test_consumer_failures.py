"""A consumer tells a broken world from a broken event: the first is waited out, only the
second is dead-lettered, and dead letters can be listed and replayed."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import psycopg
from google.protobuf.wrappers_pb2 import StringValue
from prometheus_client import REGISTRY
from servicekit.bus import Bus, ConsumerRunner, Event, OutboxRelay, Subscription
from servicekit.bus.deadletters import DeadLetters
from servicekit.bus.failures import Failure, classify
from servicekit.db import Database, UnitOfWork
from servicekit.errors import BadUserInput, NotFound, Unavailable
from servicekit.testing.proxy import TcpProxy
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError


@contextlib.asynccontextmanager
async def running(*coros: object) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coros]  # type: ignore[arg-type]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def effects(db: Database) -> list[str]:
    async with db.session() as session:
        return list(
            (await session.execute(text("SELECT body FROM effects ORDER BY body"))).scalars()
        )


async def record_effect(event: Event, uow: UnitOfWork) -> None:
    await uow.session.execute(
        text("INSERT INTO effects (event_id, body) VALUES (:id, :body)"),
        {"id": event.id, "body": event.unpack(StringValue).value},
    )


async def publish(db: Database, *values: str) -> list[uuid.UUID]:
    async with db.uow() as uow:
        ids = [uow.emit("demo.item.changed", StringValue(value=v), subject_id=v) for v in values]
        await uow.commit()
    return ids


async def dlq_count(bus: Bus) -> int:
    js = await bus.connect()
    info = await js.stream_info(await bus.ensure_dlq_stream())
    return int(info.state.messages)


def counted(name: str, consumer: str) -> float:
    """A consumer counter's current value (the registry is the process's, shared by tests)."""
    value = REGISTRY.get_sample_value(f"{name}_total", {"service": "demo", "consumer": consumer})
    return value or 0.0


async def wait_until_healthy(runner: ConsumerRunner, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await runner.healthy():
        assert asyncio.get_running_loop().time() < deadline, "the runner stays unready"
        await asyncio.sleep(0.01)


def test_failures_are_classified_by_what_they_say_about_the_world() -> None:
    assert classify(Unavailable("identity is down")) is Failure.TRANSIENT
    assert classify(ConnectionRefusedError()) is Failure.TRANSIENT
    assert classify(TimeoutError()) is Failure.TRANSIENT
    refused = OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))
    assert classify(refused) is Failure.TRANSIENT
    serialization = OperationalError(
        "UPDATE", {}, psycopg.errors.SerializationFailure("could not serialize")
    )
    assert classify(serialization) is Failure.TRANSIENT
    assert classify(BadUserInput("no such slot")) is Failure.PERMANENT
    assert classify(NotFound("listing gone")) is Failure.PERMANENT
    assert classify(ValueError("carries the wrong type")) is Failure.UNKNOWN


async def test_a_rule_that_refuses_an_event_dead_letters_it_at_once(db: Database, bus: Bus) -> None:
    attempts = 0

    async def refuse(event: Event, uow: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        raise BadUserInput("this tour cannot be booked")

    await publish(db, "refused")
    dead_before = counted("realty_dead_letters", "rules")
    runner = ConsumerRunner(
        db, bus, "demo", [Subscription("demo.item.changed", refuse, durable="rules", max_deliver=5)]
    )
    async with running(OutboxRelay(db, bus).run(), runner.run()):
        while await dlq_count(bus) == 0:
            await asyncio.sleep(0.05)
    assert attempts == 1  # not retried: the same rule would refuse it again
    assert await dlq_count(bus) == 1
    assert counted("realty_dead_letters", "rules") - dead_before == 1


async def test_a_dependency_that_is_down_is_waited_out_and_never_dead_letters(
    db: Database, bus: Bus
) -> None:
    failures_left = 6  # more than max_deliver: an unforeseen error would be dead-lettered

    readiness: list[bool] = []  # what readiness said at each delivery

    async def flaky(event: Event, uow: UnitOfWork) -> None:
        nonlocal failures_left
        readiness.append(await runner.healthy())
        if failures_left > 0:
            failures_left -= 1
            raise Unavailable("listings is not reachable")
        await record_effect(event, uow)

    await publish(db, "patient")
    runner = ConsumerRunner(
        db,
        bus,
        "demo",
        [Subscription("demo.item.changed", flaky, durable="flaky", max_deliver=2, backoff=(0.02,))],
    )
    transient_before = counted("realty_consumer_transient_failures", "flaky")
    async with running(OutboxRelay(db, bus).run(), runner.run()):
        while not await effects(db):
            await asyncio.sleep(0.01)
        await wait_until_healthy(runner)  # ready again once a delivery went through
    # Ready until the first failure, then not ready through the five retries that failed
    # and the one that succeeded (readiness comes back after it).
    assert readiness == [True, False, False, False, False, False, False]
    assert counted("realty_consumer_transient_failures", "flaky") - transient_before == 6
    assert await effects(db) == ["patient"]
    assert await dlq_count(bus) == 0


async def test_a_database_that_refuses_connections_loses_no_effect_and_does_none_twice(
    db: Database, bus: Bus
) -> None:
    url = make_url(db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    consumer_db = Database(
        url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        source="demo",
        pool_size=2,
        max_overflow=0,
    )
    values = [f"e{i:02d}" for i in range(20)]
    runner = ConsumerRunner(
        consumer_db,
        bus,
        "demo",
        [
            Subscription(
                "demo.item.changed",
                record_effect,
                durable="effects",
                max_deliver=2,
                backoff=(0.05, 0.2),
            )
        ],
    )
    try:
        async with running(OutboxRelay(db, bus).run(), runner.run()):
            await publish(db, *values[:5])
            while len(await effects(db)) < 5:
                await asyncio.sleep(0.02)
            proxy.go_down()  # the consumer's database is gone...
            await publish(db, *values[5:])  # ...while events keep coming
            while await runner.healthy():  # until it notices, and waits
                await asyncio.sleep(0.02)
            assert len(await effects(db)) == 5
            proxy.come_up()  # back
            while len(await effects(db)) < len(values):
                await asyncio.sleep(0.05)
            assert await runner.healthy()
    finally:
        await consumer_db.dispose()
        await proxy.stop()
    assert await effects(db) == values  # each exactly once (event_id is the primary key)
    assert await dlq_count(bus) == 0


async def test_dead_letters_are_listed_and_replayed_once_fixed(db: Database, bus: Bus) -> None:
    fixed = False

    async def until_fixed(event: Event, uow: UnitOfWork) -> None:
        if not fixed:
            raise BadUserInput("not supported yet")
        await record_effect(event, uow)

    (event_id,) = await publish(db, "late")
    runner = ConsumerRunner(
        db, bus, "demo", [Subscription("demo.item.changed", until_fixed, durable="late")]
    )
    letters = DeadLetters(bus)
    async with running(OutboxRelay(db, bus).run(), runner.run()):
        found = await letters.list("demo")
        while not found:
            await asyncio.sleep(0.05)
            found = await letters.list("demo")
        (letter,) = found
        assert (letter.service, letter.consumer, letter.event_id) == ("demo", "late", str(event_id))
        assert "not supported yet" in letter.error
        assert letter.original_subject == bus.subject("demo.item.changed")
        fixed = True
        await letters.replay(letter)
        while not await effects(db):
            await asyncio.sleep(0.05)
        assert await letters.list("demo") == []
    assert await effects(db) == ["late"]
