"""Media against the Chime SDK emulator: real boto3 calls, real EventBridge events through
moto's SQS, people joining and leaving as clients would."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from chimesim.testing import ChimeSim
from media.domain import TourStatus

from .conftest import Stack
from .test_join import JOIN, LEAVE, join
from .test_lifecycle import announced


async def until_announced(stack: Stack, subjects: list[str], timeout: float = 15.0) -> list[str]:
    """Poll Chime's queue until the outbox holds `subjects` (in order) for this stack."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await stack.parts.queue.poll_once()
        found = [s for s, _ in await announced(stack)]
        if found == subjects or asyncio.get_running_loop().time() > deadline:
            return found


def calls(chime: ChimeSim) -> int:
    return sum(chime.calls().values())


async def test_a_tour_call_on_the_emulator_from_first_join_to_its_end(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, buyer, realtor = await stack.tour()
    chime.reset_calls()
    first = await join(stack, tour.id, buyer, device="laptop")
    assert chime.calls() == {"CreateMeetingWithAttendees": 1}  # the first join: one call
    meeting = first["meeting"]
    assert meeting["ExternalMeetingId"] == str(tour.id)
    assert {"MeetingId", "MediaRegion", "MediaPlacement", "MeetingArn"} <= set(meeting)
    assert {"AttendeeId", "ExternalUserId", "JoinToken", "Capabilities"} <= set(first["attendee"])
    before = calls(chime)
    second = await join(stack, tour.id, realtor, mode="RECEIVE_VIDEO")
    assert calls(chime) - before == 1
    assert second["attendee"]["Capabilities"]["Video"] == "Receive"
    before = calls(chime)
    again = await join(stack, tour.id, buyer, device="laptop")
    assert calls(chime) - before == 0  # a meeting made a moment ago still has it
    assert again["attendee"]["AttendeeId"] == first["attendee"]["AttendeeId"]

    meeting_id = meeting["MeetingId"]
    chime.join(meeting_id, first["attendee"]["AttendeeId"])
    chime.join(meeting_id, second["attendee"]["AttendeeId"])
    chime.leave(meeting_id, second["attendee"]["AttendeeId"])
    left = await stack.ok(LEAVE, {"tourId": str(tour.id), "deviceId": "laptop"}, as_=buyer)
    assert left["leaveTour"] is True
    expected = [
        "media.meeting.started",
        "media.attendee.joined",
        "media.attendee.joined",
        "media.attendee.left",
        "media.attendee.left",
    ]
    assert await until_announced(stack, expected) == expected

    # Nobody is left: after the grace period the meeting is deleted, and Chime says it ended.
    stack.clock.advance(timedelta(minutes=10))
    assert await stack.parts.empty_meetings.run_once() == 1
    expected.append("media.meeting.ended")
    assert await until_announced(stack, expected) == expected
    made_again = await join(stack, tour.id, realtor)
    assert made_again["meeting"]["MeetingId"] != meeting_id


async def test_an_emulated_meeting_that_ended_is_made_again(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, buyer, _ = await stack.tour()
    first = await join(stack, tour.id, buyer)
    chime.advance(6 * 60)  # nobody connected: Chime ends it after five minutes
    stack.clock.advance(timedelta(minutes=6))
    chime.reset_calls()
    again = await join(stack, tour.id, buyer)
    assert again["meeting"]["MeetingId"] != first["meeting"]["MeetingId"]
    # Asked about the old attendee, Chime said it is gone: the meeting is made again.
    assert chime.calls() == {"GetAttendee": 1, "CreateMeetingWithAttendees": 1}


async def until_row(stack: Stack, sql: str, timeout: float = 15.0, **params: object) -> None:
    """Poll Chime's queue until `sql` finds a row (the events it waits for handled)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await stack.rows(sql, **params):
        assert asyncio.get_running_loop().time() < deadline, sql
        await stack.parts.queue.poll_once()


async def test_joining_again_asks_chime_only_when_the_attendee_may_be_gone(
    emulated: Stack, chime: ChimeSim
) -> None:
    """A device's stored attendee is the answer while Chime cannot have ended it (the
    meeting young, or someone in it per Chime's events); otherwise one `GetAttendee`; an
    attendee Chime reports deleted is replaced on the device's next join."""
    stack = emulated
    tour, buyer, realtor = await stack.tour(status=TourStatus.IN_PROGRESS)
    first = await join(stack, tour.id, buyer, device="laptop")
    meeting_id = first["meeting"]["MeetingId"]
    chime.reset_calls()
    assert await join(stack, tour.id, buyer, device="laptop") == first
    assert chime.calls() == {}

    # Four minutes and nobody in: Chime may be about to end it, so it is asked.
    chime.advance(4 * 60)
    stack.clock.advance(timedelta(minutes=4))
    again = await join(stack, tour.id, buyer, device="laptop")
    assert again["attendee"] == first["attendee"]
    assert chime.calls() == {"GetAttendee": 1}

    # The realtor is in as Chime's events tell: hours later, still no call.
    theirs = await join(stack, tour.id, realtor, device="desk")
    chime.join(meeting_id, theirs["attendee"]["AttendeeId"])
    present = "SELECT 1 FROM attendees WHERE attendee_id = :a AND present_since IS NOT NULL"
    await until_row(stack, present, a=theirs["attendee"]["AttendeeId"])
    chime.advance(3 * 3600)
    stack.clock.advance(timedelta(hours=3))
    chime.reset_calls()
    assert await join(stack, tour.id, buyer, device="laptop") == first
    assert chime.calls() == {}

    # Chime deletes the buyer's attendee (not media asking): once its event is handled,
    # the device's next join makes it a new attendee in the same meeting.
    meetings = chime.client("chime-sdk-meetings")
    meetings.delete_attendee(MeetingId=meeting_id, AttendeeId=first["attendee"]["AttendeeId"])
    gone = "SELECT 1 FROM attendees WHERE attendee_id = :a AND deleted"
    await until_row(stack, gone, a=first["attendee"]["AttendeeId"])
    chime.reset_calls()
    back = await join(stack, tour.id, buyer, device="laptop")
    assert chime.calls() == {"CreateAttendee": 1}
    assert back["meeting"]["MeetingId"] == meeting_id
    assert back["attendee"]["AttendeeId"] != first["attendee"]["AttendeeId"]


async def test_simultaneous_joins_of_a_tour_cost_one_meeting_and_one_batch_on_the_emulator(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, buyer, realtor = await stack.tour()
    chime.reset_calls()
    results = await asyncio.gather(
        *(join(stack, tour.id, who, device=f"d{n}") for n, who in enumerate([buyer, realtor] * 4))
    )
    # The meeting made with the devices there, at most one call for those that came while
    # it was made.
    assert chime.calls()["CreateMeetingWithAttendees"] == 1
    assert sum(chime.calls().values()) <= 2
    assert set(chime.calls()) <= {
        "CreateMeetingWithAttendees",
        "BatchCreateAttendee",
        "CreateAttendee",
    }
    meeting_id = results[0]["meeting"]["MeetingId"]
    meetings = chime.client("chime-sdk-meetings")
    listed = meetings.list_attendees(MeetingId=meeting_id)["Attendees"]
    assert {a["AttendeeId"] for a in listed} == {r["attendee"]["AttendeeId"] for r in results}
    assert len(listed) == 8


async def test_emulated_throttling_is_rate_limited_and_nothing_is_kept(
    emulated: Stack, chime: ChimeSim
) -> None:
    """The emulator throttles per operation (one request, then none while its clock stands
    still); botocore's retries run out and the caller is told to come back."""
    stack = emulated
    tour, buyer, _ = await stack.tour()
    other, other_buyer, _ = await stack.tour()
    chime.throttling(0.001, burst=1)
    try:
        # Each operation's one request: the meeting made with the first device, then the
        # second device's CreateAttendee; the third device's is refused.
        await join(stack, tour.id, buyer, device="one")
        await join(stack, tour.id, buyer, device="two")
        third = await stack.error(JOIN, {"tourId": str(tour.id), "deviceId": "three"}, as_=buyer)
        assert third["code"] == "RATE_LIMITED"
        rows = await stack.rows("SELECT device_key FROM attendees WHERE tour_id = :t", t=tour.id)
        assert len(rows) == 2
        fresh = await stack.error(JOIN, {"tourId": str(other.id)}, as_=other_buyer)
        assert fresh["code"] == "RATE_LIMITED"
        assert await stack.rows("SELECT 1 FROM meetings WHERE tour_id = :t", t=other.id) == []
    finally:
        chime.throttling(0.0)
    joined = await join(stack, other.id, other_buyer)
    assert joined["meeting"]["ExternalMeetingId"] == str(other.id)
    assert uuid.UUID(joined["meeting"]["MeetingId"])


CHIME_JS = Path(__file__).with_name("chime_js")


@pytest.fixture(scope="session")
def chime_js() -> Path:
    """The Chime SDK for JavaScript the clients use, installed from its lock file once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js is not installed: the JavaScript client cannot be run")
    if not (CHIME_JS / "node_modules" / "amazon-chime-sdk-js").is_dir():
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=CHIME_JS,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return CHIME_JS / "session.js"


async def test_the_javascript_client_reads_our_join_info_as_it_reads_chimes(
    emulated: Stack, chime_js: Path
) -> None:
    stack = emulated
    tour, buyer, _ = await stack.tour()
    joined = await join(stack, tour.id, buyer, device="browser")
    done = await asyncio.to_thread(
        subprocess.run,
        ["node", str(chime_js)],
        input=json.dumps(joined).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    read = json.loads(done.stdout)
    meeting, attendee = joined["meeting"], joined["attendee"]
    placement = meeting["MediaPlacement"]
    assert read == {
        "meetingId": meeting["MeetingId"],
        "externalMeetingId": str(tour.id),
        "attendeeId": attendee["AttendeeId"],
        "externalUserId": attendee["ExternalUserId"],
        "joinToken": attendee["JoinToken"],
        "audioHostURL": placement["AudioHostUrl"],
        "signalingURL": placement["SignalingUrl"],
        "turnControlURL": placement["TurnControlUrl"],
        "eventIngestionURL": placement["EventIngestionUrl"],
    }
