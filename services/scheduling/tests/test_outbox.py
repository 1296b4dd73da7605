"""Every kind of domain event reaches the outbox through a real use case, in the transaction
of its change: the unit of work announces what the tours it tracked recorded, so no use
case can forget one. Read back from the real database, envelope and payload decoded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from realty.events.v1.envelope_pb2 import Envelope
from realty.scheduling.v1 import scheduling_pb2
from scheduling.domain import TourStatus, Verb
from scheduling.events import SUBJECT, status_from_proto
from servicekit.auth import Role
from sqlalchemy import text

FIRST = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York
SPACING = timedelta(minutes=45)

# What each verb leaves the tour as.
OUTCOME = {
    Verb.REQUESTED: TourStatus.REQUESTED,
    Verb.CONFIRMED: TourStatus.SCHEDULED,
    Verb.DECLINED: TourStatus.DECLINED,
    Verb.RESCHEDULED: TourStatus.SCHEDULED,
    Verb.CANCELLED: TourStatus.CANCELLED,
    Verb.STARTED: TourStatus.IN_PROGRESS,
    Verb.COMPLETED: TourStatus.COMPLETED,
    Verb.NO_SHOW: TourStatus.NO_SHOW,
}


async def act(stack: Any, name: str, tour_id: str, who: Any, **args: str) -> None:
    extra = "".join(f', {key}: "{value}"' for key, value in args.items())
    await stack.ok(
        f"mutation($id: ID!) {{ {name}(id: $id{extra}) {{ id }} }}", {"id": tour_id}, as_=who
    )


async def test_every_domain_event_reaches_the_outbox_through_a_use_case(stack: Any) -> None:
    assert set(OUTCOME) == set(Verb), "a new kind of event needs a use case below"
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)

    async def request(at: datetime) -> str:
        return str((await stack.request(buyer, listing, at))["data"]["requestTour"]["id"])

    hosted, declined, cancelled, missed = [await request(FIRST + i * SPACING) for i in range(4)]
    await act(stack, "confirmTour", hosted, realtor)
    next_day = FIRST + timedelta(days=1)
    await stack.ok(
        "mutation($id: ID!, $at: DateTime!) { rescheduleTour(id: $id, startsAt: $at) { id } }",
        {"id": hosted, "at": next_day.isoformat()},
        as_=realtor,
    )
    await act(stack, "declineTour", declined, realtor, reason="fully booked")
    await act(stack, "cancelTour", cancelled, buyer, reason="found another home")
    await act(stack, "confirmTour", missed, realtor)
    # A day later the missed tour's window is long over; the hosted one is about to start.
    stack.clock.now = next_day
    assert await stack.parts.scheduling.mark_no_shows() == 1
    await act(stack, "startTour", hosted, realtor)
    await act(stack, "completeTour", hosted, realtor)

    async with stack.db.session() as session:
        rows = (
            await session.execute(
                text("SELECT subject, subject_id, envelope FROM outbox ORDER BY seq")
            )
        ).all()
    seen: dict[str, list[tuple[str, scheduling_pb2.TourChanged]]] = {}
    for row in rows:
        envelope = Envelope.FromString(bytes(row.envelope))
        assert envelope.subject == row.subject
        assert envelope.subject_id == row.subject_id
        assert envelope.source == "scheduling"
        changed = scheduling_pb2.TourChanged.FromString(envelope.payload)
        assert changed.tour.id == row.subject_id
        seen.setdefault(row.subject, []).append((row.subject_id, changed))

    assert set(seen) == {SUBJECT.format(verb=verb.value) for verb in Verb}
    for verb, outcome in OUTCOME.items():
        for _, changed in seen[SUBJECT.format(verb=verb.value)]:
            assert status_from_proto(changed.to_status) is outcome, verb
            assert status_from_proto(changed.tour.status) is outcome, verb
    assert len(seen["scheduling.tour.requested"]) == 4
    assert [tour for tour, _ in seen["scheduling.tour.no_show"]] == [missed]
    ((_, moved),) = seen["scheduling.tour.rescheduled"]
    assert moved.previous_starts_at.ToDatetime(tzinfo=UTC) == FIRST
    assert moved.actor_id == str(realtor.id)
    ((_, refused),) = seen["scheduling.tour.declined"]
    assert refused.reason == "fully booked"
    # The system marked the no-show: no actor.
    ((_, no_show),) = seen["scheduling.tour.no_show"]
    assert no_show.actor_id == ""
    # One event per change, each announced once (the unit of work clears what it wrote).
    assert len(rows) == 12
