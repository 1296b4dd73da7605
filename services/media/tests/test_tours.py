"""Media's copy of scheduling's tours, kept from `scheduling.tour.*` over NATS, and the
`Tour` it extends in the supergraph."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from realty.events.v1.envelope_pb2 import Envelope
from realty.scheduling.v1 import scheduling_pb2
from servicekit.auth import Role
from servicekit.bus import ConsumerRunner
from sqlalchemy import event

from .conftest import Stack
from .test_join import join

START = datetime(2027, 1, 4, 12, 5, tzinfo=UTC)


def changed(tour_id: uuid.UUID, buyer: uuid.UUID, status: int, sequence: int) -> bytes:
    tour = scheduling_pb2.Tour(
        id=str(tour_id),
        listing_id=str(uuid.uuid4()),
        buyer_id=str(buyer),
        realtor_id=str(uuid.uuid4()),
        status=status,  # type: ignore[arg-type]
        sequence=sequence,
    )
    tour.starts_at.FromDatetime(START)
    tour.ends_at.FromDatetime(START + timedelta(minutes=30))
    payload = scheduling_pb2.TourChanged(tour=tour)
    envelope = Envelope(
        id=str(uuid.uuid4()),
        type=payload.DESCRIPTOR.full_name,
        subject="scheduling.tour.changed",
        subject_id=str(tour_id),
        source="scheduling",
        payload=payload.SerializeToString(),
    )
    envelope.time.FromDatetime(datetime.now(UTC))
    return envelope.SerializeToString()


async def status_of(stack: Stack, tour_id: uuid.UUID) -> str | None:
    found = await stack.rows("SELECT status FROM tours WHERE id = :id", id=tour_id)
    return found[0].status if found else None


async def eventually(stack: Stack, tour_id: uuid.UUID, status: str) -> None:
    for _ in range(200):
        if await status_of(stack, tour_id) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"tour never became {status}")


async def test_tours_are_followed_from_schedulings_events_newest_wins(stack: Stack) -> None:
    runner = ConsumerRunner(stack.db, stack.bus, "media", stack.parts.consumers.subscriptions())
    stack.start(runner.run)
    tour_id, buyer = uuid.uuid4(), uuid.uuid4()
    scheduled = changed(tour_id, buyer, scheduling_pb2.TOUR_STATUS_SCHEDULED, 2)
    await stack.bus.publish("scheduling.tour.confirmed", scheduled, msg_id=str(uuid.uuid4()))
    await eventually(stack, tour_id, "SCHEDULED")
    stale = changed(tour_id, buyer, scheduling_pb2.TOUR_STATUS_REQUESTED, 1)
    await stack.bus.publish("scheduling.tour.requested", stale, msg_id=str(uuid.uuid4()))
    started = changed(tour_id, buyer, scheduling_pb2.TOUR_STATUS_IN_PROGRESS, 3)
    await stack.bus.publish("scheduling.tour.started", started, msg_id=str(uuid.uuid4()))
    await eventually(stack, tour_id, "IN_PROGRESS")
    [row] = await stack.rows(
        "SELECT buyer_id, sequence, starts_at FROM tours WHERE id = :id", id=tour_id
    )
    assert (row.buyer_id, row.sequence, row.starts_at) == (buyer, 3, START)


ENTITIES = """
query($reps: [_Any!]!) {
  _entities(representations: $reps) {
    ... on Tour { id meeting { id active participants { id } } guests { email } }
  }
}
"""


async def test_one_entities_call_costs_one_query_per_kind(stack: Stack) -> None:
    tours = [await stack.tour() for _ in range(4)]
    for tour, buyer, _ in tours[:2]:
        await join(stack, tour.id, buyer)
    admin = stack.person(Role.ADMIN)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = stack.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        data = await stack.ok(
            ENTITIES,
            {"reps": [{"__typename": "Tour", "id": str(t.id)} for t, _, _ in tours]},
            as_=admin,
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    found = data["_entities"]
    assert [e["id"] for e in found] == [str(t.id) for t, _, _ in tours]
    assert [e["meeting"] is not None for e in found] == [True, True, False, False]
    # tours, guests, meetings (+ who is present in them): one statement each.
    assert len(statements) == 4, statements


async def test_a_stranger_sees_no_meeting(stack: Stack) -> None:
    tour, buyer, _ = await stack.tour()
    await join(stack, tour.id, buyer)
    stranger = stack.person()
    data = await stack.ok(
        ENTITIES, {"reps": [{"__typename": "Tour", "id": str(tour.id)}]}, as_=stranger
    )
    assert data["_entities"][0]["meeting"] is None
    anonymous = await stack.ok(ENTITIES, {"reps": [{"__typename": "Tour", "id": str(tour.id)}]})
    assert anonymous["_entities"][0]["meeting"] is None
