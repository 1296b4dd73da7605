"""Events from other services change tours exactly once, even when NATS delivers them twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from realty.events.v1.envelope_pb2 import Envelope
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from realty.media.v1 import media_pb2
from servicekit.auth import Role
from sqlalchemy import text

FIRST = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York
SPACING = timedelta(minutes=45)


async def publish_twice(
    stack: Any, subject: str, payload: Message, subject_id: str, at: datetime | None = None
) -> None:
    """Publish one event (of time `at`, now by default), then the very same event again
    (as a redelivery would bring it)."""
    envelope = Envelope(
        id=str(uuid.uuid4()),
        type=payload.DESCRIPTOR.full_name,
        subject=subject,
        subject_id=subject_id,
        source="test",
        payload=payload.SerializeToString(),
    )
    envelope.time.FromDatetime(at or datetime.now(UTC))
    data = envelope.SerializeToString()
    # Different message ids get past JetStream's duplicate window, like a redelivery does.
    await stack.bus.publish(subject, data, msg_id=f"{envelope.id}-1")
    await stack.bus.publish(subject, data, msg_id=f"{envelope.id}-2")


async def consumed(stack: Any, subject: str, timeout: float = 10.0) -> None:
    """Wait until scheduling's consumer of `subject` has acked everything published so far."""
    js = await stack.bus.jetstream()
    stream = stack.bus.stream_for(subject)
    last = (await js.stream_info(stream)).state.last_seq
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for info in await js.consumers_info(stream):
            mine = (info.config.filter_subject or "").endswith(subject)
            if mine and info.ack_floor.stream_seq >= last and not info.num_ack_pending:
                return
        assert asyncio.get_running_loop().time() < deadline, f"{subject} not consumed"
        await asyncio.sleep(0.05)


async def rows(stack: Any, sql: str, **params: Any) -> list[Any]:
    async with stack.db.session() as session:
        return list((await session.execute(text(sql), params)).all())


async def status_of(stack: Any, tour_id: str) -> str:
    found = await rows(stack, "SELECT status FROM tours WHERE id = :id", id=tour_id)
    return str(found[0].status)


async def events_of(stack: Any, tour_id: str) -> list[str]:
    found = await rows(
        stack, "SELECT subject FROM outbox WHERE subject_id = :id ORDER BY seq", id=tour_id
    )
    return [r.subject for r in found]


async def book(stack: Any, realtor: Any, listing: uuid.UUID, at: datetime, confirm: bool) -> str:
    buyer = stack.peers.person(Role.BUYER)
    tour = (await stack.request(buyer, listing, at))["data"]["requestTour"]
    if confirm:
        await stack.ok(
            "mutation($id: ID!) { confirmTour(id: $id) { id } }", {"id": tour["id"]}, as_=realtor
        )
    return str(tour["id"])


async def test_media_events_start_and_complete_a_tour_once(stack: Any) -> None:
    stack.start_consumers()
    realtor, listing = await stack.open_for_tours()
    tour_id = await book(stack, realtor, listing, FIRST, confirm=True)

    # Not the first attendee: nothing happens.
    joined_late = media_pb2.AttendeeJoined(
        tour_id=tour_id, meeting_id="m", user_id=str(realtor.id), first=False
    )
    await publish_twice(stack, "media.attendee.joined", joined_late, tour_id)
    await consumed(stack, "media.attendee.joined")
    assert await status_of(stack, tour_id) == "SCHEDULED"

    joined = media_pb2.AttendeeJoined(
        tour_id=tour_id, meeting_id="m", user_id=str(realtor.id), first=True
    )
    await publish_twice(stack, "media.attendee.joined", joined, tour_id)
    await consumed(stack, "media.attendee.joined")
    assert await status_of(stack, tour_id) == "IN_PROGRESS"

    await publish_twice(
        stack,
        "media.meeting.ended",
        media_pb2.MeetingEnded(tour_id=tour_id, meeting_id="m"),
        tour_id,
    )
    await consumed(stack, "media.meeting.ended")
    assert await status_of(stack, tour_id) == "COMPLETED"
    assert await events_of(stack, tour_id) == [
        "scheduling.tour.requested",
        "scheduling.tour.confirmed",
        "scheduling.tour.started",
        "scheduling.tour.completed",
    ]
    history = await rows(
        stack,
        "SELECT to_status, by_user FROM tour_transitions WHERE tour_id = :id ORDER BY id",
        id=tour_id,
    )
    assert [(h.to_status, h.by_user) for h in history[2:]] == [
        ("IN_PROGRESS", None),
        ("COMPLETED", None),
    ]


async def test_listing_leaving_the_market_cancels_live_tours_once(stack: Any) -> None:
    stack.start_consumers()
    realtor, listing = await stack.open_for_tours()
    requested = await book(stack, realtor, listing, FIRST, confirm=False)
    scheduled = await book(stack, realtor, listing, FIRST + SPACING, confirm=True)
    declined = await book(stack, realtor, listing, FIRST + 2 * SPACING, confirm=False)
    await stack.ok(
        'mutation($id: ID!) { declineTour(id: $id, reason: "busy") { id } }',
        {"id": declined},
        as_=realtor,
    )
    _, elsewhere = await stack.open_for_tours()
    untouched = await book(stack, realtor, elsewhere, FIRST, confirm=False)

    still_open = listings_pb2.ListingStatusChanged(
        listing_id=str(listing), to_status=listings_pb2.LISTING_STATUS_COMING_SOON
    )
    await publish_twice(stack, "listings.listing.status_changed", still_open, str(listing))
    await consumed(stack, "listings.listing.status_changed")
    assert await status_of(stack, requested) == "REQUESTED"

    withdrawn = listings_pb2.ListingStatusChanged(
        listing_id=str(listing),
        from_status=listings_pb2.LISTING_STATUS_ACTIVE,
        to_status=listings_pb2.LISTING_STATUS_WITHDRAWN,
    )
    await publish_twice(stack, "listings.listing.status_changed", withdrawn, str(listing))
    await consumed(stack, "listings.listing.status_changed")
    for tour_id in (requested, scheduled):
        assert await status_of(stack, tour_id) == "CANCELLED"
        assert (await events_of(stack, tour_id)).count("scheduling.tour.cancelled") == 1
        reason = await rows(stack, "SELECT status_reason FROM tours WHERE id = :id", id=tour_id)
        assert "withdrawn" in reason[0].status_reason
    assert await status_of(stack, declined) == "DECLINED"
    assert await status_of(stack, untouched) == "REQUESTED"

    await publish_twice(
        stack,
        "listings.listing.deleted",
        listings_pb2.ListingDeleted(listing_id=str(elsewhere)),
        str(elsewhere),
    )
    await consumed(stack, "listings.listing.deleted")
    assert await status_of(stack, untouched) == "CANCELLED"
    assert (await events_of(stack, untouched)).count("scheduling.tour.cancelled") == 1


async def test_deleted_user_loses_future_tours_and_notes(stack: Any) -> None:
    stack.start_consumers()
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    future = (await stack.request(buyer, listing, FIRST, note="my phone is 555-0100"))["data"][
        "requestTour"
    ]
    other_buyer_tour = await book(stack, realtor, listing, FIRST + SPACING, confirm=True)
    withdrawn = (await stack.request(buyer, listing, FIRST + 2 * SPACING))["data"]["requestTour"]
    await stack.ok(
        'mutation($id: ID!) { cancelTour(id: $id, reason: "moving to Ohio") { id } }',
        {"id": withdrawn["id"]},
        as_=buyer,
    )

    deleted = identity_pb2.UserDeleted(user_id=str(buyer.id))
    await publish_twice(stack, "identity.user.deleted", deleted, str(buyer.id))
    await consumed(stack, "identity.user.deleted")

    assert await status_of(stack, future["id"]) == "CANCELLED"
    assert (await events_of(stack, future["id"])).count("scheduling.tour.cancelled") == 1
    notes = await rows(
        stack, "SELECT note, status_reason FROM tours WHERE buyer_id = :id", id=str(buyer.id)
    )
    assert [n.note for n in notes] == [None, None]
    # What the user wrote is gone; the system's own reason stays.
    assert sorted(str(n.status_reason) for n in notes) == [
        "None",
        "a participant deleted their account",
    ]
    reasons = await rows(
        stack, "SELECT reason FROM tour_transitions WHERE by_user = :id", id=str(buyer.id)
    )
    assert {r.reason for r in reasons} == {None}
    assert await status_of(stack, other_buyer_tour) == "SCHEDULED"


SLOTS = """query($l: ID!, $f: DateTime!, $t: DateTime!) {
  availableSlots(listingId: $l, from: $f, to: $t, durationMinutes: 30) { startsAt } }"""


async def test_available_slots_read_the_listing_as_its_events_describe_it(stack: Any) -> None:
    stack.start_consumers()
    realtor, listing = await stack.open_for_tours()
    window = {
        "l": str(listing),
        "f": FIRST.isoformat(),
        "t": (FIRST + timedelta(days=1)).isoformat(),
    }
    buyer = stack.peers.person(Role.BUYER)
    known = datetime.now(UTC)

    async def slots() -> int:
        return len((await stack.ok(SLOTS, window, as_=buyer))["availableSlots"])

    async def publish(subject: str, payload: Message, at: datetime) -> None:
        await publish_twice(stack, subject, payload, str(listing), at)
        await consumed(stack, subject)

    def described(status: int) -> listings_pb2.Listing:
        return listings_pb2.Listing(
            id=str(listing), realtor_id=str(realtor.id), status=status, time_zone="America/New_York"
        )

    asked = stack.peers.listings.calls
    assert await slots() > 0  # no event yet: listings is asked
    assert stack.peers.listings.calls == asked + 1

    active = listings_pb2.LISTING_STATUS_ACTIVE
    created = listings_pb2.ListingCreated(listing=described(active))
    await publish("listings.listing.created", created, known)
    # What listings answers no longer matters: the events' copy is read.
    stack.peers.listings.listings[str(listing)].status = listings_pb2.LISTING_STATUS_WITHDRAWN
    asked = stack.peers.listings.calls
    assert await slots() > 0
    assert stack.peers.listings.calls == asked

    withdrawn = listings_pb2.ListingStatusChanged(
        listing_id=str(listing), to_status=listings_pb2.LISTING_STATUS_WITHDRAWN
    )
    await publish("listings.listing.status_changed", withdrawn, known + timedelta(seconds=2))
    assert await slots() == 0
    # An older update delivered late changes nothing; a newer one does.
    older = listings_pb2.ListingUpdated(listing=described(active))
    await publish("listings.listing.updated", older, known + timedelta(seconds=1))
    assert await slots() == 0
    await publish("listings.listing.updated", older, known + timedelta(seconds=3))
    assert await slots() > 0

    deleted = listings_pb2.ListingDeleted(listing_id=str(listing), realtor_id=str(realtor.id))
    await publish("listings.listing.deleted", deleted, known + timedelta(seconds=4))
    assert await stack.error_code(SLOTS, window, as_=buyer) == "NOT_FOUND"
    # Nothing brings a deleted listing back, however late it comes.
    await publish("listings.listing.updated", older, known + timedelta(seconds=5))
    assert await stack.error_code(SLOTS, window, as_=buyer) == "NOT_FOUND"
    assert stack.peers.listings.calls == asked
