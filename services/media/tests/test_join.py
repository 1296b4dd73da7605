"""Joining and leaving a tour's call through the subgraph, against PostgreSQL and Chime."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from media.domain import MAX_VIDEO_SENDERS, TourStatus, device_key
from servicekit.auth import Role
from sqlalchemy import text

from .conftest import Person, Stack

JOIN = """
mutation($tourId: ID!, $mode: JoinMode, $deviceId: String) {
  joinTour(tourId: $tourId, mode: $mode, deviceId: $deviceId) { meeting attendee }
}
"""
LEAVE = (
    "mutation($tourId: ID!, $deviceId: String) { leaveTour(tourId: $tourId, deviceId: $deviceId) }"
)


async def join(
    stack: Stack, tour_id: uuid.UUID, who: Person, *, mode: str = "FULL", device: str | None = None
) -> dict[str, Any]:
    data = await stack.ok(JOIN, {"tourId": str(tour_id), "mode": mode, "deviceId": device}, as_=who)
    joined: dict[str, Any] = data["joinTour"]
    return joined


async def join_error(stack: Stack, tour_id: uuid.UUID, who: Person) -> dict[str, Any]:
    extensions: dict[str, Any] = await stack.error(JOIN, {"tourId": str(tour_id)}, as_=who)
    return extensions


async def test_the_first_join_creates_the_meeting_and_returns_chimes_records_unchanged(
    stack: Stack,
) -> None:
    tour, buyer, _ = await stack.tour()
    joined = await join(stack, tour.id, buyer, device="phone")
    assert stack.chime.calls == {"CreateMeetingWithAttendees": 1}  # one call in all
    meeting_id = joined["meeting"]["MeetingId"]
    assert joined["meeting"] == stack.chime.meetings[meeting_id]
    assert joined["meeting"]["ExternalMeetingId"] == str(tour.id)
    assert joined["meeting"]["MediaRegion"] == stack.settings.media_region
    attendee = stack.chime.attendees[meeting_id][joined["attendee"]["AttendeeId"]]
    assert joined["attendee"] == attendee
    assert attendee["ExternalUserId"].startswith(f"{buyer.id}#")
    assert set(joined["attendee"]) == {"ExternalUserId", "AttendeeId", "JoinToken", "Capabilities"}


async def test_twenty_simultaneous_first_joins_make_one_meeting(stack: Stack) -> None:
    tour, buyer, realtor = await stack.tour()
    people = [buyer if n % 2 else realtor for n in range(20)]
    results = await asyncio.gather(
        *(join(stack, tour.id, p, device=f"device-{n}") for n, p in enumerate(people))
    )
    assert stack.chime.calls["CreateMeetingWithAttendees"] == 1
    # The joins that came while Chime made the meeting: one call for all of them.
    assert sum(stack.chime.calls.values()) <= 2
    assert set(stack.chime.calls) <= {
        "CreateMeetingWithAttendees",
        "BatchCreateAttendee",
        "CreateAttendee",
    }
    assert len({r["meeting"]["MeetingId"] for r in results}) == 1
    assert len({r["attendee"]["AttendeeId"] for r in results}) == 20
    found = await stack.rows("SELECT count(*) AS n FROM attendees WHERE tour_id = :t", t=tour.id)
    assert found[0].n == 20


async def test_joins_arriving_together_cost_one_meeting_and_one_batch_of_attendees(
    stack: Stack,
) -> None:
    """Joins that arrive together are answered together: one CreateMeetingWithAttendees
    with the devices there when the meeting is made, then at most one call for every
    device that came while Chime made it, nothing one by one."""
    tour, buyer, realtor = await stack.tour()
    stack.chime.create_delay = 1.0  # Chime taking its time: the others arrive meanwhile
    people = [buyer if n % 2 else realtor for n in range(12)]
    results = await asyncio.gather(
        *(join(stack, tour.id, p, device=f"device-{n}") for n, p in enumerate(people))
    )
    assert stack.chime.calls["CreateMeetingWithAttendees"] == 1
    assert sum(stack.chime.calls.values()) <= 2
    meeting_id = results[0]["meeting"]["MeetingId"]
    assert all(r["meeting"] == stack.chime.meetings[meeting_id] for r in results)
    made = stack.chime.attendees[meeting_id]
    assert [made[r["attendee"]["AttendeeId"]] for r in results] == [r["attendee"] for r in results]
    assert [r["attendee"]["ExternalUserId"] for r in results] == [
        device_key(p.id, f"device-{n}") for n, p in enumerate(people)
    ]
    found = await stack.rows("SELECT count(*) AS n FROM attendees WHERE tour_id = :t", t=tour.id)
    assert found[0].n == 12


async def test_an_attendee_the_batch_refuses_gets_its_own_coded_error(stack: Stack) -> None:
    """Chime refuses one attendee of a batch (`Errors`): that caller is told why, in our
    codes; the others are in the call."""
    tour, buyer, realtor = await stack.tour()
    stack.chime.refused[device_key(realtor.id, "full")] = "LimitExceeded"
    stack.chime.create_delay = 1.0
    refused, *joined = await asyncio.gather(
        stack.gql(JOIN, {"tourId": str(tour.id), "deviceId": "full"}, as_=realtor),
        stack.gql(JOIN, {"tourId": str(tour.id), "deviceId": "phone"}, as_=buyer),
        stack.gql(JOIN, {"tourId": str(tour.id), "deviceId": "desk"}, as_=realtor),
    )
    assert stack.chime.calls["CreateMeetingWithAttendees"] == 1
    assert sum(stack.chime.calls.values()) <= 2
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert refused["errors"][0]["extensions"]["reason"] == "MEETING_FULL"
    assert [body["data"]["joinTour"]["attendee"]["ExternalUserId"] for body in joined] == [
        device_key(buyer.id, "phone"),
        device_key(realtor.id, "desk"),
    ]
    rows = await stack.rows("SELECT device_key FROM attendees WHERE tour_id = :t", t=tour.id)
    assert sorted(r.device_key for r in rows) == sorted(
        [device_key(buyer.id, "phone"), device_key(realtor.id, "desk")]
    )


async def test_one_attendee_per_device_and_one_chime_call_per_join_once_the_meeting_exists(
    stack: Stack,
) -> None:
    tour, buyer, _ = await stack.tour()
    first = await join(stack, tour.id, buyer, device="laptop")
    before = sum(stack.chime.calls.values())
    # Made a moment ago: Chime cannot have ended it, so the stored attendee is the answer.
    again = await join(stack, tour.id, buyer, device="laptop")
    assert sum(stack.chime.calls.values()) - before == 0
    assert again == first
    # Four minutes with nobody in, as far as Chime's events tell: Chime is asked.
    stack.clock.advance(timedelta(minutes=4))
    before = sum(stack.chime.calls.values())
    again = await join(stack, tour.id, buyer, device="laptop")
    assert stack.chime.calls["GetAttendee"] == 1
    assert sum(stack.chime.calls.values()) - before == 1
    assert again["attendee"]["AttendeeId"] == first["attendee"]["AttendeeId"]
    assert again["attendee"]["JoinToken"] == first["attendee"]["JoinToken"]
    before = sum(stack.chime.calls.values())
    other = await join(stack, tour.id, buyer, device="phone")
    assert sum(stack.chime.calls.values()) - before == 1
    assert other["attendee"]["AttendeeId"] != first["attendee"]["AttendeeId"]
    assert other["meeting"]["MeetingId"] == first["meeting"]["MeetingId"]
    # The device may come from a header instead of the argument.
    data = await stack.ok(
        JOIN, {"tourId": str(tour.id)}, as_=buyer, headers={"X-Device-Id": "phone"}
    )
    assert data["joinTour"]["attendee"]["AttendeeId"] == other["attendee"]["AttendeeId"]


async def test_an_ended_meeting_is_made_again_on_the_next_join(stack: Stack) -> None:
    tour, buyer, realtor = await stack.tour()
    first = await join(stack, tour.id, buyer, device="laptop")
    stack.chime.end(first["meeting"]["MeetingId"])  # nobody came for five minutes
    stack.clock.advance(timedelta(minutes=5))
    again = await join(stack, tour.id, realtor)
    assert again["meeting"]["MeetingId"] != first["meeting"]["MeetingId"]
    assert again["meeting"]["ExternalMeetingId"] == str(tour.id)
    # The buyer's old attendee went with the old meeting: the same device gets a new one.
    back = await join(stack, tour.id, buyer, device="laptop")
    assert back["meeting"]["MeetingId"] == again["meeting"]["MeetingId"]
    assert back["attendee"]["AttendeeId"] != first["attendee"]["AttendeeId"]
    assert stack.chime.calls["CreateMeetingWithAttendees"] == 2


async def test_a_device_rejoining_an_ended_meeting_gets_a_new_attendee_in_the_new_one(
    stack: Stack,
) -> None:
    # The old attendee's row is deleted in the statement that writes the new one, for the
    # same device: one live attendee per device, and the new one kept.
    tour, buyer, _ = await stack.tour()
    first = await join(stack, tour.id, buyer, device="laptop")
    stack.chime.end(first["meeting"]["MeetingId"])  # nobody came for five minutes
    stack.clock.advance(timedelta(minutes=5))
    back = await join(stack, tour.id, buyer, device="laptop")
    assert back["meeting"]["MeetingId"] != first["meeting"]["MeetingId"]
    assert back["attendee"]["AttendeeId"] != first["attendee"]["AttendeeId"]
    rows = await stack.rows(
        "SELECT attendee_id, meeting_id FROM attendees WHERE tour_id = :t AND NOT deleted",
        t=tour.id,
    )
    assert [(r.attendee_id, r.meeting_id) for r in rows] == [
        (back["attendee"]["AttendeeId"], back["meeting"]["MeetingId"])
    ]
    again = await join(stack, tour.id, buyer, device="laptop")
    assert again["attendee"]["AttendeeId"] == back["attendee"]["AttendeeId"]


async def test_data_saver_modes_and_a_changed_mode_on_the_same_device(stack: Stack) -> None:
    tour, buyer, realtor = await stack.tour()
    audio = await join(stack, tour.id, buyer, mode="AUDIO_ONLY", device="farm")
    assert audio["attendee"]["Capabilities"] == {
        "Audio": "SendReceive",
        "Video": "None",
        "Content": "None",
    }
    watch = await join(stack, tour.id, realtor, mode="RECEIVE_VIDEO")
    assert watch["attendee"]["Capabilities"]["Video"] == "Receive"
    full = await join(stack, tour.id, buyer, mode="FULL", device="farm")
    assert full["attendee"]["AttendeeId"] == audio["attendee"]["AttendeeId"]
    assert full["attendee"]["Capabilities"]["Video"] == "SendReceive"
    assert full["attendee"]["JoinToken"] == audio["attendee"]["JoinToken"]
    assert stack.chime.calls["UpdateAttendeeCapabilities"] == 1


async def test_past_twenty_five_video_senders_newcomers_receive_only(stack: Stack) -> None:
    tour, buyer, _ = await stack.tour()
    for n in range(MAX_VIDEO_SENDERS):
        sent = await join(stack, tour.id, buyer, device=f"cam-{n}")
        assert sent["attendee"]["Capabilities"]["Video"] == "SendReceive"
    late = await join(stack, tour.id, buyer, device="late")
    assert late["attendee"]["Capabilities"]["Video"] == "Receive"
    # One sender leaves: the next newcomer sends again.
    assert (await stack.ok(LEAVE, {"tourId": str(tour.id), "deviceId": "cam-0"}, as_=buyer))[
        "leaveTour"
    ]
    again = await join(stack, tour.id, buyer, device="later")
    assert again["attendee"]["Capabilities"]["Video"] == "SendReceive"


async def test_who_may_join_and_when(stack: Stack) -> None:
    tour, buyer, realtor = await stack.tour(starts_in=timedelta(minutes=30))
    assert (await join_error(stack, tour.id, buyer))["reason"] == "TOO_EARLY"
    stack.clock.advance(timedelta(minutes=21))
    await join(stack, tour.id, realtor)
    stranger = stack.person(Role.BUYER)
    assert (await join_error(stack, tour.id, stranger))["code"] == "FORBIDDEN"
    admin = stack.person(Role.ADMIN)
    assert (await join_error(stack, tour.id, admin))["code"] == "FORBIDDEN"
    missing = await stack.error(JOIN, {"tourId": str(uuid.uuid4())}, as_=buyer)
    assert missing["code"] == "NOT_FOUND"
    assert (await stack.error(JOIN, {"tourId": "nope"}, as_=buyer))["field"] == "tourId"
    assert (await stack.error(JOIN, {"tourId": str(tour.id)}))["code"] == "UNAUTHENTICATED"
    stack.clock.advance(timedelta(minutes=30 + 30 + 10))
    late = await join_error(stack, tour.id, buyer)
    assert (late["code"], late["reason"]) == ("CONFLICT", "TOO_LATE")
    started, b2, _ = await stack.tour(status=TourStatus.IN_PROGRESS, starts_in=-timedelta(hours=3))
    await join(stack, started.id, b2)
    done, b3, _ = await stack.tour(status=TourStatus.COMPLETED)
    assert (await join_error(stack, done.id, b3))["reason"] == "TOUR_NOT_JOINABLE"


async def test_leaving_deletes_the_devices_attendee(stack: Stack) -> None:
    tour, buyer, _ = await stack.tour()
    joined = await join(stack, tour.id, buyer, device="tablet")
    meeting_id = joined["meeting"]["MeetingId"]
    left = await stack.ok(LEAVE, {"tourId": str(tour.id), "deviceId": "tablet"}, as_=buyer)
    assert left["leaveTour"] is True
    assert joined["attendee"]["AttendeeId"] not in stack.chime.attendees[meeting_id]
    again = await stack.ok(LEAVE, {"tourId": str(tour.id), "deviceId": "tablet"}, as_=buyer)
    assert again["leaveTour"] is False
    back = await join(stack, tour.id, buyer, device="tablet")
    assert back["attendee"]["AttendeeId"] != joined["attendee"]["AttendeeId"]


async def test_chime_throttling_and_outage_are_coded_and_leave_nothing_half_made(
    stack: Stack,
) -> None:
    tour, buyer, _ = await stack.tour()
    stack.chime.fail("CreateMeetingWithAttendees", "ThrottlingException", 429)
    assert (await join_error(stack, tour.id, buyer))["code"] == "RATE_LIMITED"
    assert await stack.rows("SELECT 1 FROM meetings WHERE tour_id = :t", t=tour.id) == []
    stack.chime.fail("CreateMeetingWithAttendees", "ServiceUnavailableException", 503)
    assert (await join_error(stack, tour.id, buyer))["code"] == "UNAVAILABLE"
    assert await stack.rows("SELECT 1 FROM meetings WHERE tour_id = :t", t=tour.id) == []
    # The meeting is made but Chime refuses its one attendee: nothing is kept, and the
    # retry finds the same Chime meeting by its request token. That answer holds no
    # attendee for the device (none was made), so the device is added as to a live meeting.
    key = device_key(buyer.id, None)
    stack.chime.refused[key] = "ServiceUnavailable"
    assert (await join_error(stack, tour.id, buyer))["code"] == "UNAVAILABLE"
    assert await stack.rows("SELECT 1 FROM meetings WHERE tour_id = :t", t=tour.id) == []
    assert await stack.rows("SELECT 1 FROM attendees WHERE tour_id = :t", t=tour.id) == []
    del stack.chime.refused[key]
    made = len(stack.chime.meetings)
    joined = await join(stack, tour.id, buyer)
    assert len(stack.chime.meetings) == made
    assert joined["meeting"]["ExternalMeetingId"] == str(tour.id)
    assert joined["attendee"]["ExternalUserId"] == key
    assert stack.chime.calls == {"CreateMeetingWithAttendees": 4, "CreateAttendee": 1}
    assert await stack.outbox() == []


async def test_a_retried_creation_answers_its_attendees_and_adds_the_devices_it_left_out(
    stack: Stack,
) -> None:
    """Chime made the meeting and the phone's attendee, but media kept nothing (the caller
    was told to try again): the retry's CreateMeetingWithAttendees, with the same token,
    returns the phone's attendee made then and nothing for the desk, which is then added as
    to a live meeting (never "no attendee")."""
    tour, buyer, realtor = await stack.tour()
    phone, desk = device_key(buyer.id, "phone"), device_key(realtor.id, "desk")
    stack.chime.refused[phone] = "Throttling"
    refused = await stack.error(JOIN, {"tourId": str(tour.id), "deviceId": "phone"}, as_=buyer)
    assert refused["code"] == "RATE_LIMITED"
    assert await stack.rows("SELECT 1 FROM meetings WHERE tour_id = :t", t=tour.id) == []
    del stack.chime.refused[phone]
    (meeting_id,) = stack.chime.meetings
    stack.chime.attendees[meeting_id]["made-before"] = {
        "ExternalUserId": phone,
        "AttendeeId": "made-before",
        "JoinToken": "token-before",
        "Capabilities": {"Audio": "SendReceive", "Video": "SendReceive", "Content": "Receive"},
    }
    stack.chime.calls.clear()
    first, second = await asyncio.gather(
        join(stack, tour.id, buyer, device="phone"), join(stack, tour.id, realtor, device="desk")
    )
    assert first["attendee"]["AttendeeId"] == "made-before"
    assert first["meeting"]["MeetingId"] == second["meeting"]["MeetingId"] == meeting_id
    assert second["attendee"]["ExternalUserId"] == desk
    assert stack.chime.calls == {"CreateMeetingWithAttendees": 1, "CreateAttendee": 1}
    rows = await stack.rows("SELECT device_key FROM attendees WHERE tour_id = :t", t=tour.id)
    assert sorted(r.device_key for r in rows) == sorted([phone, desk])


async def held(stack: Stack, tour_id: uuid.UUID, joins: list[tuple[Person, str]]) -> list[Any]:
    """Each join's response body, the joins sent while the test holds the tour's meeting
    row (making it, as a first join does, when the tour has none): every one of them is
    waiting when media gets the row, so all are in the batch that finds the meeting."""
    media = stack.parts.media
    arrived: list[object] = []
    answer = media.join

    async def counted(*args: Any) -> Any:
        arrived.append(args[-1])  # the join is queued with its tour's in this same step
        return await answer(*args)

    media.join = counted  # type: ignore[method-assign]
    try:
        async with stack.db.session() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO meetings (tour_id) VALUES (:t)"
                    " ON CONFLICT (tour_id) DO UPDATE SET tour_id = excluded.tour_id"
                ),
                {"t": tour_id},
            )
            sent = [
                asyncio.create_task(
                    stack.gql(JOIN, {"tourId": str(tour_id), "deviceId": device}, as_=who)
                )
                for who, device in joins
            ]
            while len(arrived) < len(joins):
                await asyncio.sleep(0.01)
    finally:
        media.join = answer  # type: ignore[method-assign]
    return list(await asyncio.gather(*sent))


async def test_a_device_the_creating_call_refuses_gets_its_own_coded_error(
    stack: Stack,
) -> None:
    """Three first joins, all in the call that makes the meeting; Chime refuses one
    attendee in its `Errors`: that caller is told why in our codes, the others are in."""
    tour, buyer, realtor = await stack.tour()
    stack.chime.refused[device_key(realtor.id, "full")] = "LimitExceeded"
    refused, *joined = await held(
        stack, tour.id, [(realtor, "full"), (buyer, "phone"), (realtor, "desk")]
    )
    assert stack.chime.calls == {"CreateMeetingWithAttendees": 1}
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["reason"] == "MEETING_FULL"
    assert [body["data"]["joinTour"]["attendee"]["ExternalUserId"] for body in joined] == [
        device_key(buyer.id, "phone"),
        device_key(realtor.id, "desk"),
    ]
    rows = await stack.rows("SELECT device_key FROM attendees WHERE tour_id = :t", t=tour.id)
    assert sorted(r.device_key for r in rows) == sorted(
        [device_key(buyer.id, "phone"), device_key(realtor.id, "desk")]
    )


async def test_a_lost_meeting_is_made_again_with_twenty_devices_and_the_rest_in_one_batch(
    stack: Stack,
) -> None:
    """Chime lost the live meeting: the batch's first twenty devices come with the new one
    (CreateMeetingWithAttendees takes twenty), the five beyond in one BatchCreateAttendee."""
    tour, buyer, realtor = await stack.tour()
    first = await join(stack, tour.id, buyer, device="old")
    stack.chime.end(first["meeting"]["MeetingId"])
    stack.chime.calls.clear()
    people = [buyer if n % 2 else realtor for n in range(25)]
    bodies = await held(stack, tour.id, [(p, f"d{n}") for n, p in enumerate(people)])
    results = [body["data"]["joinTour"] for body in bodies]
    assert stack.chime.calls == {
        "BatchCreateAttendee": 2,  # to the old meeting (found gone), then the five beyond
        "CreateMeetingWithAttendees": 1,
    }
    meeting_id = results[0]["meeting"]["MeetingId"]
    assert meeting_id != first["meeting"]["MeetingId"]
    made = stack.chime.attendees[meeting_id]
    assert [made[r["attendee"]["AttendeeId"]] for r in results] == [r["attendee"] for r in results]
    senders = [r["attendee"]["Capabilities"]["Video"] == "SendReceive" for r in results]
    assert senders == [True] * MAX_VIDEO_SENDERS
    found = await stack.rows(
        "SELECT count(*) AS n FROM attendees WHERE tour_id = :t AND meeting_id = :m",
        t=tour.id,
        m=meeting_id,
    )
    assert found[0].n == 25
