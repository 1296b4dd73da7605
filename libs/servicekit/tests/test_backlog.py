"""The backlog gauges against real PostgreSQL and NATS JetStream: what waits in the outbox
and for each durable consumer, and the pool's use."""

from __future__ import annotations

from google.protobuf.wrappers_pb2 import StringValue
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import REGISTRY
from servicekit.backlog import Backlog
from servicekit.bus import Bus, OutboxRelay, Subscription
from servicekit.bus.events import Event
from servicekit.db import Database, UnitOfWork
from sqlalchemy import text


def value(name: str, service: str, consumer: str | None = None) -> float | None:
    labels = {"service": service} | ({"consumer": consumer} if consumer else {})
    return REGISTRY.get_sample_value(name, labels)


async def _ignore(event: Event, uow: UnitOfWork) -> None:
    return None


async def test_the_outbox_backlog_counts_unpublished_rows_and_the_oldest_age(
    db: Database, bus: Bus
) -> None:
    backlog = Backlog(db, bus, "backlogdemo")
    await backlog.sample()
    assert value("realty_outbox_unpublished", "backlogdemo") == 0
    assert value("realty_outbox_oldest_unpublished_seconds", "backlogdemo") == 0

    async with db.uow() as uow:
        for item in ("a", "b"):
            uow.emit("demo.item.changed", StringValue(value=item), subject_id=item)
        await uow.commit()
    async with db.engine.begin() as conn:  # one row waiting for a minute and a half
        await conn.execute(
            text("UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE seq = 1")
        )
    await backlog.sample()
    assert value("realty_outbox_unpublished", "backlogdemo") == 2
    assert 90 <= value("realty_outbox_oldest_unpublished_seconds", "backlogdemo") < 120

    await OutboxRelay(db, bus).relay_once()
    await backlog.sample()
    assert value("realty_outbox_unpublished", "backlogdemo") == 0
    assert value("realty_outbox_oldest_unpublished_seconds", "backlogdemo") == 0


async def test_consumer_lag_is_what_the_durable_consumer_has_not_taken(
    db: Database, bus: Bus
) -> None:
    subscription = Subscription(subject="demo.item.changed", handler=_ignore, durable="lagging")
    backlog = Backlog(db, bus, "backlogdemo", [subscription])
    await backlog.sample()  # no consumer yet: nothing to say, and no failure
    async with db.uow() as uow:
        for item in ("a", "b", "c"):
            uow.emit("demo.item.changed", StringValue(value=item), subject_id=item)
        await uow.commit()
    await OutboxRelay(db, bus).relay_once()
    js = await bus.jetstream()
    stream = await bus.ensure_stream_for("demo.item.changed")
    await js.add_consumer(
        stream,
        config=ConsumerConfig(
            durable_name="backlogdemo-lagging",
            filter_subject=bus.subject("demo.item.changed"),
            ack_policy=AckPolicy.EXPLICIT,
        ),
    )
    await backlog.sample()
    assert value("realty_consumer_pending", "backlogdemo", "lagging") == 3
    assert value("realty_consumer_ack_pending", "backlogdemo", "lagging") == 0

    pull = await js.pull_subscribe(
        bus.subject("demo.item.changed"), durable="backlogdemo-lagging", stream=stream
    )
    (first,) = await pull.fetch(1, timeout=5)
    await backlog.sample()
    assert value("realty_consumer_pending", "backlogdemo", "lagging") == 2
    assert value("realty_consumer_ack_pending", "backlogdemo", "lagging") == 1
    await first.ack_sync()
    await pull.unsubscribe()


async def test_the_pool_gauges_follow_connections_checked_out(db: Database, bus: Bus) -> None:
    backlog = Backlog(db, bus, "pooldemo")
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        await backlog.sample()
        assert value("realty_db_pool_in_use", "pooldemo") >= 1
    await backlog.sample()
    assert value("realty_db_pool_in_use", "pooldemo") == 0
    assert value("realty_db_pool_size", "pooldemo") == 10
