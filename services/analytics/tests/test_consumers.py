"""The services' events become the tracking plan's, once each, whatever the delivery."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.domain import registration_id
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from realty.events.v1.envelope_pb2 import Envelope
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from realty.media.v1 import media_pb2
from realty.scheduling.v1 import scheduling_pb2
from servicekit.bus import ConsumerRunner, Event, Subscription
from servicekit.db import UnitOfWork

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # the stack's clock and the events' time
STARTS = NOW + timedelta(days=1)


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


def tour_message(
    tour_id: uuid.UUID, buyer: uuid.UUID, realtor: uuid.UUID, listing: uuid.UUID, **kw: object
) -> scheduling_pb2.TourChanged:
    tour = scheduling_pb2.Tour(
        id=str(tour_id),
        listing_id=str(listing),
        buyer_id=str(buyer),
        realtor_id=str(realtor),
        starts_at=stamp(STARTS),
        ends_at=stamp(STARTS + timedelta(minutes=45)),
    )
    return scheduling_pb2.TourChanged(tour=tour, **kw)  # type: ignore[arg-type]


async def test_every_tour_transition_becomes_its_plan_event(stack: Any) -> None:
    stack.start_consumers()
    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    steps = [
        ("requested", {"actor_id": str(buyer)}),
        ("confirmed", {"actor_id": str(realtor)}),
        ("rescheduled", {"actor_id": str(realtor), "previous_starts_at": stamp(NOW)}),
        ("started", {}),
        ("completed", {}),
        ("declined", {"actor_id": str(realtor), "reason": "sold"}),
        ("cancelled", {"actor_id": str(buyer), "reason": "found another"}),
        ("no_show", {"reason": "nobody came"}),
    ]
    for verb, fields in steps:
        await stack.publish(
            f"scheduling.tour.{verb}", tour_message(tour, buyer, realtor, listing, **fields)
        )
    await stack.consumed()
    found = {
        r.name: r
        for r in await stack.rows(
            "SELECT name, user_id, realtor_id, listing_id, properties FROM events "
            "WHERE tour_id = :t",
            t=tour,
        )
    }
    assert set(found) == {
        "Tour Requested", "Tour Scheduled", "Tour Rescheduled", "Tour Started", "Tour Completed",
        "Tour Declined", "Tour Cancelled", "Tour No Show",
    }  # fmt: skip
    assert found["Tour Requested"].user_id == buyer
    assert found["Tour Requested"].properties == {"scheduledTime": STARTS.isoformat()}
    assert all(r.realtor_id == realtor and r.listing_id == listing for r in found.values())
    assert found["Tour Cancelled"].properties == {"reason": "found another", "cancelledBy": "buyer"}
    assert found["Tour Declined"].properties == {"reason": "sold"}
    assert found["Tour Completed"].properties == {"plannedMinutes": 45}
    assert found["Tour Rescheduled"].properties["previousTime"] == NOW.isoformat()
    assert found["Tour No Show"].user_id is None


async def test_registrations_listings_and_calls_are_recorded(stack: Any) -> None:
    stack.start_consumers()
    user, listing, tour = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await stack.publish(
        "identity.user.registered",
        identity_pb2.UserRegistered(
            user_id=str(user), role=identity_pb2.ROLE_REALTOR, registered_at=stamp(NOW)
        ),
    )
    record = listings_pb2.Listing(
        id=str(listing),
        realtor_id=str(user),
        address=listings_pb2.Address(city="Austin", state="TX"),
    )
    await stack.publish("listings.listing.created", listings_pb2.ListingCreated(listing=record))
    for before, after in (
        (listings_pb2.LISTING_STATUS_DRAFT, listings_pb2.LISTING_STATUS_ACTIVE),
        (listings_pb2.LISTING_STATUS_ACTIVE, listings_pb2.LISTING_STATUS_PENDING),
    ):
        await stack.publish(
            "listings.listing.status_changed",
            listings_pb2.ListingStatusChanged(
                listing_id=str(listing), from_status=before, to_status=after, realtor_id=str(user)
            ),
        )
    meeting = "m-1"
    await stack.publish(
        "media.meeting.started",
        media_pb2.MeetingStarted(tour_id=str(tour), meeting_id=meeting, started_at=stamp(NOW)),
    )
    await stack.publish(
        "media.attendee.joined",
        media_pb2.AttendeeJoined(
            tour_id=str(tour), meeting_id=meeting, user_id=str(user), first=True
        ),
    )
    await stack.publish(
        "media.attendee.left",
        media_pb2.AttendeeLeft(
            tour_id=str(tour), meeting_id=meeting, user_id=str(user), seconds_present=600, last=True
        ),
    )
    await stack.publish(
        "media.meeting.ended",
        media_pb2.MeetingEnded(
            tour_id=str(tour), meeting_id=meeting, duration_seconds=610, attendee_minutes=11
        ),
    )
    await stack.publish(
        "media.recording.available",
        media_pb2.RecordingAvailable(
            tour_id=str(tour), recording_id="rec-1", available_at=stamp(NOW),
            duration_seconds=540, realtor_id=str(user), listing_id=str(listing),
        ),
    )  # fmt: skip
    await stack.consumed()
    rows = await stack.rows(
        "SELECT id, name, properties, realtor_id, listing_id FROM events "
        "WHERE user_id = :u OR listing_id = :l "
        "OR tour_id = :t ORDER BY name",
        u=user,
        l=listing,
        t=tour,
    )
    by_name = {r.name: r for r in rows}
    assert sorted(by_name) == [
        "Listing Created", "Listing Published", "Recording Available", "User Registration",
        "Video Call End", "Video Call Join", "Video Call Leave", "Video Call Start",
    ]  # fmt: skip
    recording = by_name["Recording Available"]
    assert recording.properties == {"recordingId": "rec-1", "durationSeconds": 540}
    assert (recording.realtor_id, recording.listing_id) == (user, listing)
    assert by_name["User Registration"].id == registration_id(user)
    assert by_name["User Registration"].properties == {"role": "REALTOR"}
    assert by_name["Listing Created"].properties == {"city": "Austin", "state": "TX"}
    assert by_name["Listing Published"].properties == {"fromStatus": "DRAFT"}
    assert by_name["Video Call End"].properties == {
        "meetingId": meeting, "durationSeconds": 610, "attendeeMinutes": 11
    }  # fmt: skip
    assert by_name["Video Call Leave"].properties["secondsPresent"] == 600


async def test_redelivery_and_replay_record_an_event_once(stack: Any) -> None:
    stack.start_consumers()
    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    message = tour_message(tour, buyer, realtor, listing, actor_id=str(buyer))
    event_id = await stack.publish("scheduling.tour.requested", message)
    await stack.publish("scheduling.tour.requested", message, event_id=event_id, copy="2")
    await stack.consumed()
    # A replay long after the inbox forgot the event: the event's own id still holds.
    await stack.rows("DELETE FROM inbox RETURNING event_id")
    await stack.publish("scheduling.tour.requested", message, event_id=event_id, copy="3")
    await stack.consumed()
    found = await stack.rows("SELECT id FROM events WHERE tour_id = :t", t=tour)
    assert [r.id for r in found] == [event_id]


async def test_events_out_of_order_are_all_kept(stack: Any) -> None:
    stack.start_consumers()
    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    later, earlier = NOW + timedelta(hours=2), NOW
    await stack.publish(
        "scheduling.tour.completed", tour_message(tour, buyer, realtor, listing), at=later
    )
    await stack.publish(
        "scheduling.tour.requested", tour_message(tour, buyer, realtor, listing), at=earlier
    )
    await stack.consumed()
    found = await stack.rows(
        "SELECT name FROM events WHERE tour_id = :t ORDER BY occurred_at", t=tour
    )
    assert [r.name for r in found] == ["Tour Requested", "Tour Completed"]


async def test_a_batch_with_duplicates_inside_and_across_batches_counts_each_once(
    stack: Any,
) -> None:
    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    asked = tour_message(tour, buyer, realtor, listing, actor_id=str(buyer))
    # Published before the consumers start, so they come in one fetch: an event twice, and
    # a second request of the same tour a day earlier (it arrived late, in the same batch).
    first = await stack.publish("scheduling.tour.requested", asked, at=NOW)
    await stack.publish("scheduling.tour.requested", asked, event_id=first, copy="2", at=NOW)
    late = await stack.publish("scheduling.tour.requested", asked, at=NOW - timedelta(days=1))
    confirmed = await stack.publish(
        "scheduling.tour.confirmed", tour_message(tour, buyer, realtor, listing),
        at=NOW + timedelta(minutes=30),
    )  # fmt: skip
    stack.start_consumers()
    await stack.consumed()
    # The next batch repeats all three after the inbox forgot them, with one new event.
    await stack.rows("DELETE FROM inbox RETURNING event_id")
    for event_id, verb, at in ((first, "requested", NOW), (confirmed, "confirmed", NOW),
                               (late, "requested", NOW - timedelta(days=1))):  # fmt: skip
        await stack.publish(f"scheduling.tour.{verb}", asked, event_id=event_id, copy="3", at=at)
    started = await stack.publish(
        "scheduling.tour.started", tour_message(tour, buyer, realtor, listing),
        at=NOW + timedelta(hours=1),
    )  # fmt: skip
    await stack.consumed()
    stored = await stack.rows("SELECT id FROM events WHERE tour_id = :t", t=tour)
    assert {r.id for r in stored} == {first, late, confirmed, started}
    day, before = NOW.date(), (NOW - timedelta(days=1)).date()
    rollups = await stack.rows(
        "SELECT day, name, n FROM rollups WHERE realtor_id = :r AND n <> 0", r=realtor
    )
    expected = {(before, "Tour Requested", 1), (day, "Tour Scheduled", 1),
                (day, "Tour Started", 1)}  # fmt: skip
    assert {tuple(r) for r in rollups} == expected
    days = await stack.rows(
        "SELECT day, name, n FROM realtor_days WHERE realtor_id = :r AND n <> 0", r=realtor
    )
    assert {tuple(r) for r in days} == expected
    platform = await stack.rows("SELECT day, name, n FROM platform_days WHERE n <> 0")
    assert {tuple(r) for r in platform} == expected
    [(took,)] = await stack.rows(
        "SELECT took_seconds FROM tour_steps WHERE tour_id = :t AND name = 'Tour Requested'",
        t=tour,
    )
    assert took == timedelta(days=1, minutes=30).total_seconds()
    actives = await stack.rows("SELECT day, role, user_id FROM platform_actives")
    assert {tuple(r) for r in actives} == {
        (before, "realtor", realtor), (day, "realtor", realtor),
        (before, "buyer", buyer), (day, "buyer", buyer),
    }  # fmt: skip


async def test_a_batch_with_an_undecodable_event_keeps_the_others_and_dead_letters_it(
    stack: Any,
) -> None:
    """The batch fails whole, is delivered again one event at a time: the events before and
    after the broken one are recorded, it alone is dead-lettered, and nothing stays pending
    (one cumulative ack covers what came before)."""
    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    before = await stack.publish(
        "scheduling.tour.requested", tour_message(tour, buyer, realtor, listing)
    )
    broken = Envelope(
        id=str(uuid.uuid4()),
        type="realty.scheduling.v1.TourChanged",
        subject="scheduling.tour.confirmed",
        subject_id=str(tour),
        source="test",
        payload=b"\x0a\xff\x01",
    )  # a field longer than the message: undecodable
    broken.time.FromDatetime(NOW)
    await stack.bus.publish("scheduling.tour.confirmed", broken.SerializeToString(),
                            msg_id=f"{broken.id}-1")  # fmt: skip
    after = await stack.publish(
        "scheduling.tour.started", tour_message(tour, buyer, realtor, listing)
    )
    stack.start_consumers()
    await stack.consumed()
    stored = await stack.rows("SELECT id FROM events WHERE tour_id = :t", t=tour)
    assert {r.id for r in stored} == {before, after}
    js = await stack.bus.jetstream()
    dead = await js.get_last_msg(await stack.bus.ensure_dlq_stream(),
                                 stack.bus.dlq_subject("analytics", "tours"))  # fmt: skip
    assert Envelope.FromString(dead.data).id == broken.id


async def test_the_cumulative_durable_takes_over_at_the_explicit_ones_ack_floor(
    stack: Any,
) -> None:
    """A durable of the explicit kind acknowledged the first two events (recorded before the
    change, say): its successor starts after them, records the third, and the old one is
    gone, so nothing is lost and nothing replayed."""
    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    verbs = ("requested", "confirmed", "started")
    ids = [await stack.publish(f"scheduling.tour.{verb}",
                               tour_message(tour, buyer, realtor, listing)) for verb in verbs]  # fmt: skip
    js = await stack.bus.jetstream()
    stream = await stack.bus.ensure_stream_for("scheduling.tour.requested")
    explicit = "analytics-tours"
    await js.add_consumer(stream, config=ConsumerConfig(
        durable_name=explicit, filter_subject=stack.bus.subject("scheduling.tour.>"),
        ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL))  # fmt: skip
    pull = await js.pull_subscribe_bind(durable=explicit, stream=stream)
    for msg in await pull.fetch(2, timeout=5):
        await msg.ack_sync()
    await pull.unsubscribe()
    stack.start_consumers()
    await stack.consumed()
    stored = await stack.rows("SELECT id FROM events WHERE tour_id = :t", t=tour)
    assert [r.id for r in stored] == [ids[2]]
    names = {info.name for info in await js.consumers_info(stream)}
    assert f"{explicit}-through" in names and explicit not in names


async def test_a_failing_event_of_a_cumulative_durable_is_retried_in_place(stack: Any) -> None:
    """While its database is down an event is retried where it is, the events after it
    waiting: each is handled once, in stream order, and all end acknowledged."""
    handled: list[uuid.UUID] = []
    failures_left = 3

    async def handle(event: Event, uow: UnitOfWork) -> None:
        nonlocal failures_left
        if event.id == ids[1] and failures_left:
            failures_left -= 1
            raise OSError("the database went away")  # transient: never dead-lettered
        handled.append(event.id)

    async def refuse(events: list[Event], uow: UnitOfWork) -> None:
        raise OSError("the database went away")  # the batch fails whole, then one by one

    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    ids = [await stack.publish("scheduling.tour.requested",
                               tour_message(tour, buyer, realtor, listing)) for _ in range(3)]  # fmt: skip
    sub = Subscription("scheduling.tour.requested", handle, durable="flaky", batched=True,
                       batch_handler=refuse, ack_through=True, backoff=(0.01,))  # fmt: skip
    runner = ConsumerRunner(stack.db, stack.bus, "analytics", [sub])
    stack.tasks.append(asyncio.create_task(runner.run()))
    js = await stack.bus.jetstream()
    stream = await stack.bus.ensure_stream_for("scheduling.tour.requested")
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        with contextlib.suppress(NotFoundError):
            info = await js.consumer_info(stream, "analytics-flaky-through")
            if info.num_pending == 0 and info.num_ack_pending == 0 and len(handled) == 3:
                break
        assert asyncio.get_running_loop().time() < deadline, "not all acknowledged"
        await asyncio.sleep(0.05)
    assert handled == ids and failures_left == 0


async def test_consumers_started_again_go_on_where_they_were(stack: Any) -> None:
    """A restart finds its cumulative durables as they were: what came since is recorded,
    nothing before it delivered again."""
    tour, buyer, realtor, listing = (uuid.uuid4() for _ in range(4))
    first = await stack.publish(
        "scheduling.tour.requested", tour_message(tour, buyer, realtor, listing)
    )
    stack.start_consumers()
    await stack.consumed()
    running = stack.tasks.pop()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    second = await stack.publish(
        "scheduling.tour.confirmed", tour_message(tour, buyer, realtor, listing)
    )
    stack.start_consumers()
    await stack.consumed()
    stored = await stack.rows("SELECT id FROM events WHERE tour_id = :t", t=tour)
    assert {r.id for r in stored} == {first, second}
    [(inbox,)] = await stack.rows("SELECT count(*) FROM inbox WHERE consumer = 'tours'")
    assert inbox == 2
    js = await stack.bus.jetstream()
    info = await js.consumer_info(
        await stack.bus.ensure_stream_for("scheduling.tour.requested"), "analytics-tours-through"
    )
    assert info.delivered.stream_seq == 2 and info.num_redelivered == 0
