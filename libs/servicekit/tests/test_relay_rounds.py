"""A leading relay marks each round's rows in the statement that reads the next round's."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.msg import Msg
from realty.events.v1.envelope_pb2 import Envelope
from servicekit.bus import Bus, OutboxRelay
from servicekit.db import Database
from servicekit.tables import outbox
from sqlalchemy import func, select


class RecordingBus(Bus):
    """Counts every publish the relay asks for, copies included (JetStream would hide them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    async def publish(self, logical_subject: str, data: bytes, **options: Any) -> None:
        self.sent.append(options["msg_id"])
        await super().publish(logical_subject, data, **options)


async def unpublished(db: Database) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return (await session.execute(query)).scalar_one()


async def wait_until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_rounds_send_each_event_once_in_order_and_leave_it_marked(
    db: Database, bus: Bus
) -> None:
    recording = RecordingBus(bus.url, namespace=bus.namespace)
    await recording.ensure_stream_for("rounds.item.changed")
    seen: dict[str, list[int]] = defaultdict(list)

    async def on_stored(msg: Msg) -> None:
        envelope = Envelope.FromString(msg.data)
        seen[envelope.subject_id].append(int(StringValue.FromString(envelope.payload).value))

    tap = await recording.nc.subscribe(recording.subject("rounds.item.changed"), cb=on_stored)
    relay = OutboxRelay(db, recording, batch_size=7)  # many rounds, an entity in most of them
    task = asyncio.create_task(relay.run())
    try:
        for burst in range(4):  # commits while rounds run, and between them
            for n in range(burst * 25, burst * 25 + 25):
                async with db.uow() as uow:
                    uow.emit(
                        "rounds.item.changed", StringValue(value=str(n)), subject_id=f"e{n % 3}"
                    )
                    await uow.commit()
            await asyncio.sleep(0.05)

        async def all_marked() -> bool:
            return relay.published == 100 and await unpublished(db) == 0

        await wait_until(all_marked)
        await recording.nc.flush()
        await wait_until(lambda: asyncio.sleep(0, sum(map(len, seen.values())) == 100))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await tap.unsubscribe()
        await recording.close()
    assert len(recording.sent) == 100 == len(set(recording.sent))  # no row read twice
    for entity, values in seen.items():
        assert values == sorted(values), entity  # each entity's events in commit order
    assert sorted(v for values in seen.values() for v in values) == list(range(100))
