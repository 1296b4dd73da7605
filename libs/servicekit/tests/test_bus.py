"""The outbox, the relay and consumers against real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.msg import Msg
from servicekit.bus import Bus, ConsumerRunner, Event, OutboxRelay, Subscription
from servicekit.db import Database, UnitOfWork
from servicekit.embedded import EmbeddedNats, free_port
from servicekit.tables import outbox
from sqlalchemy import func, select, text


@contextlib.asynccontextmanager
async def running(*coros: object) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coros]  # type: ignore[arg-type]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wait_until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def drained(bus: Bus, subject: str, durable: str, timeout: float = 30.0) -> None:
    """Wait until JetStream has nothing left for the consumer: every message delivered and
    acknowledged, none pending or awaiting redelivery. After that nothing more arrives."""
    js = await bus.connect()
    stream = await bus.ensure_stream_for(subject)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await js.consumer_info(stream, durable)
        if info.num_pending == 0 and info.num_ack_pending == 0 and info.num_redelivered == 0:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{durable} not drained: {info}")
        await asyncio.sleep(0.02)


class CountingBus(Bus):
    """A bus that counts the publishes that failed, so a test sees the relay trying."""

    failures = 0

    async def publish(self, logical_subject: str, data: bytes, **options: Any) -> None:
        try:
            await super().publish(logical_subject, data, **options)
        except Exception:
            self.failures += 1
            raise


async def test_events_commit_with_the_change_or_not_at_all(db: Database) -> None:
    async with db.uow() as uow:
        uow.emit("demo.item.changed", StringValue(value="kept"), subject_id="a")
        await uow.commit()
    async with db.uow() as uow:
        uow.emit("demo.item.changed", StringValue(value="dropped"), subject_id="a")
        # no commit: rolled back with the change
    async with db.session() as session:
        count = (await session.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert count == 1


async def test_outbox_loses_nothing_while_nats_is_down(db: Database, tmp_path: Path) -> None:
    nats = EmbeddedNats(tmp_path / "nats", free_port())
    nats.start()
    publisher = CountingBus(nats.url, namespace="chaos")
    await publisher.connect()
    await publisher.ensure_stream_for("demo.item.changed")
    nats.stop()

    async def change_entity(entity: int) -> None:
        # 20 changes per entity, one transaction each, in order; entities interleave.
        for n in range(entity, 1000, 50):
            async with db.uow() as uow:
                uow.emit(
                    "demo.item.changed", StringValue(value=str(n)), subject_id=f"item-{entity}"
                )
                await uow.commit()

    await asyncio.gather(*(change_entity(e) for e in range(50)))

    received: list[Event] = []

    async def record(event: Event, uow: UnitOfWork) -> None:
        received.append(event)

    consumer_bus = Bus(nats.url, namespace="chaos")
    relay = OutboxRelay(db, publisher, idle_interval=0.2)
    runner = ConsumerRunner(
        db, consumer_bus, "demo", [Subscription("demo.item.changed", record, durable="rec")]
    )
    async with running(relay.run(), runner.run()):
        # The relay runs and fails while NATS is down: every entity's first publish failed.
        await wait_until(lambda: publisher.failures >= 50, timeout=60)
        assert relay.published == 0
        assert received == []
        nats.start()
        await wait_until(lambda: len(received) >= 1000, timeout=60)
        await drained(consumer_bus, "demo.item.changed", "demo-rec")
        js = await consumer_bus.connect()
        stream = await js.stream_info(consumer_bus.stream_for("demo.item.changed"))
    await publisher.close()
    await consumer_bus.close()
    nats.stop()

    assert stream.state.messages == 1000  # retried publishes were deduplicated by event id
    assert len(received) == 1000
    assert len({e.id for e in received}) == 1000
    by_entity: dict[str, list[int]] = defaultdict(list)
    for event in received:
        by_entity[event.subject_id].append(int(event.unpack(StringValue).value))
    for entity, values in by_entity.items():
        assert values == sorted(values), f"{entity} out of commit order"
    async with db.session() as session:
        pending = (
            await session.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        ).scalar_one()
    assert pending == 0


async def test_redelivered_event_has_its_effect_once(db: Database, bus: Bus) -> None:
    calls = 0

    async def apply(event: Event, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await uow.session.execute(
            text("INSERT INTO effects (event_id, body) VALUES (:id, :body)"),
            {"id": event.id, "body": event.unpack(StringValue).value},
        )

    async with db.uow() as uow:
        uow.emit("demo.item.changed", StringValue(value="once"), subject_id="x")
        await uow.commit()
    async with db.session() as session:
        envelope = (await session.execute(select(outbox.c.envelope))).scalar_one()
    # The same event arrives twice (a redelivery after a lost ack looks exactly like this).
    await bus.publish("demo.item.changed", envelope, msg_id=str(uuid.uuid4()))
    await bus.publish("demo.item.changed", envelope, msg_id=str(uuid.uuid4()))

    runner = ConsumerRunner(
        db, bus, "demo", [Subscription("demo.item.changed", apply, durable="fx")]
    )
    async with running(runner.run()):
        await wait_until(lambda: calls >= 1)
        await drained(bus, "demo.item.changed", "demo-fx")  # both copies handled and acked
    async with db.session() as session:
        rows = (await session.execute(text("SELECT body FROM effects"))).scalars().all()
    assert rows == ["once"]
    assert calls == 1


async def test_failing_handler_sends_event_to_dead_letter_subject(db: Database, bus: Bus) -> None:
    attempts = 0

    async def broken(event: Event, uow: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("cannot handle this")

    dead: list[tuple[bytes, dict[str, str]]] = []
    await bus.ensure_dlq_stream()

    async def on_dead(msg: Msg) -> None:
        dead.append((msg.data, dict(msg.headers or {})))

    sub = await bus.nc.subscribe(bus.dlq_subject("demo", "broken"), cb=on_dead)
    async with db.uow() as uow:
        event_id = uow.emit("demo.item.changed", StringValue(value="poison"), subject_id="p")
        await uow.commit()
    relay = OutboxRelay(db, bus)
    runner = ConsumerRunner(
        db,
        bus,
        "demo",
        [
            Subscription(
                "demo.item.changed", broken, durable="broken", max_deliver=3, backoff=(0.05,)
            )
        ],
    )
    async with running(relay.run(), runner.run()):
        await wait_until(lambda: len(dead) == 1)
        await drained(bus, "demo.item.changed", "demo-broken")  # acked: never delivered again
    await sub.unsubscribe()
    assert attempts == 3
    data, headers = dead[0]
    assert Event.from_envelope(data).id == event_id
    assert "cannot handle this" in headers["Realty-Error"]
    assert headers["Realty-Original-Subject"] == bus.subject("demo.item.changed")
    async with db.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == 0


@pytest.mark.parametrize("nested", [True, False])
async def test_nested_unit_of_work_commits_once_at_the_outer_level(
    db: Database, nested: bool
) -> None:
    async with db.uow() as outer:
        if nested:
            async with outer as inner:
                inner.emit("demo.item.changed", StringValue(value="n"), subject_id="n")
                await inner.commit()
                assert not outer.committed
            await outer.rollback()
        else:
            outer.emit("demo.item.changed", StringValue(value="n"), subject_id="n")
            await outer.commit()
    async with db.session() as session:
        count = (await session.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert count == (0 if nested else 1)


async def test_streams_are_provisioned_with_the_configured_replicas(nats_url: str) -> None:
    """`NATS_STREAM_REPLICAS` reaches the stream: R1 on one server, and a single server
    refuses R3 (a cluster is needed), so the number is really sent."""
    from nats.js.errors import ServerError
    from servicekit.settings import InfraSettings

    assert InfraSettings(NATS_STREAM_REPLICAS="3").nats_stream_replicas == 3  # type: ignore[call-arg]
    namespace = f"r{uuid.uuid4().hex[:8]}"
    one = Bus(nats_url, namespace=namespace, replicas=1)
    three = Bus(nats_url, namespace=f"{namespace}x", replicas=3)
    js = await one.connect()
    stream = one.stream_for("replicated.thing.happened")
    try:
        stream = await one.ensure_stream_for("replicated.thing.happened")
        assert (await js.stream_info(stream)).config.num_replicas == 1
        with pytest.raises(ServerError, match="replicas"):
            await three.ensure_stream_for("replicated.thing.happened")
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(stream)
        await one.close()
        await three.close()


class ProcessDied(BaseException):
    """The relay's process ending abruptly (not an error the relay could handle)."""


class RelayDyingBeforeItMarks(OutboxRelay):
    """A relay whose process dies after JetStream acknowledged a batch, before the mark."""

    async def _mark_published(self, connection: Any, done: list[uuid.UUID]) -> None:
        raise ProcessDied


async def test_a_batch_published_but_never_marked_goes_out_again_and_once(
    db: Database, bus: Bus
) -> None:
    for n in range(30):
        async with db.uow() as uow:
            uow.emit("demo.item.changed", StringValue(value=str(n)), subject_id=f"item-{n % 3}")
            await uow.commit()
    js = await bus.connect()
    stream = await bus.ensure_stream_for("demo.item.changed")

    with pytest.raises(ProcessDied):
        await RelayDyingBeforeItMarks(db, bus).relay_once()
    assert (await js.stream_info(stream)).state.messages == 30  # in JetStream already

    async def unpublished() -> int:
        async with db.session() as session:
            query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            return (await session.execute(query)).scalar_one()

    assert await unpublished() == 30  # the dead relay's transaction never committed

    assert await OutboxRelay(db, bus).relay_once() == (30, 0)  # the next leader sends again
    assert await unpublished() == 0
    assert (await js.stream_info(stream)).state.messages == 30  # copies dropped by Nats-Msg-Id

    received: list[Event] = []

    async def record(event: Event, uow: UnitOfWork) -> None:
        received.append(event)

    runner = ConsumerRunner(
        db, bus, "demo", [Subscription("demo.item.changed", record, durable="resent")]
    )
    async with running(runner.run()):
        await wait_until(lambda: len(received) >= 30)
        await drained(bus, "demo.item.changed", "demo-resent")
    assert len({e.id for e in received}) == 30
    by_entity: dict[str, list[int]] = defaultdict(list)
    for event in received:
        by_entity[event.subject_id].append(int(event.unpack(StringValue).value))
    assert by_entity == {f"item-{e}": list(range(e, 30, 3)) for e in range(3)}
