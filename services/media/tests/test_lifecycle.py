"""The call's lifecycle from Chime's events (EventBridge → SQS), through the outbox; empty
calls deleted after the grace period; attendee-minutes kept per tour."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from prometheus_client import REGISTRY
from realty.events.v1.envelope_pb2 import Envelope
from realty.media.v1 import media_pb2

from .conftest import Stack, sqs
from .test_join import LEAVE, join

MEETING = """
query($reps: [_Any!]!) {
  _entities(representations: $reps) {
    ... on Tour { meeting { id active startedAt attendeeMinutes recording participants { id } } }
  }
}
"""


class Chime:
    """Sends Chime's events into the test's SQS queue as EventBridge would."""

    def __init__(self, stack: Stack, meeting_id: str, tour_id: uuid.UUID) -> None:
        self.stack = stack
        self.meeting_id = meeting_id
        self.tour_id = tour_id
        self.client = sqs(stack.settings.sqs_endpoint() or "")
        self.sent: list[str] = []

    async def url(self) -> str:
        return await self.stack.parts.queue.ensure_ready()

    async def send(
        self, event_type: str, at: datetime, attendee: dict[str, Any] | None = None
    ) -> str:
        detail: dict[str, Any] = {
            "version": "0",
            "eventType": f"chime:{event_type}",
            "timestamp": int(at.timestamp() * 1000),
            "meetingId": self.meeting_id,
            "externalMeetingId": str(self.tour_id),
            "mediaRegion": "us-east-1",
        }
        if attendee is not None:
            detail["attendeeId"] = attendee["AttendeeId"]
            detail["externalUserId"] = attendee["ExternalUserId"]
        body = json.dumps(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Chime Meeting State Change",
                "source": "aws.chime",
                "account": "123456789012",
                "time": at.isoformat(),
                "region": "us-east-1",
                "resources": [],
                "detail": detail,
            }
        )
        self.client.send_message(QueueUrl=await self.url(), MessageBody=body)
        self.sent.append(body)
        return body

    async def resend(self, body: str) -> None:
        self.client.send_message(QueueUrl=await self.url(), MessageBody=body)

    async def drain(self) -> None:
        while await self.stack.parts.queue.poll_once():
            pass


async def announced(stack: Stack) -> list[tuple[str, Message]]:
    kinds = {
        "media.meeting.started": media_pb2.MeetingStarted,
        "media.attendee.joined": media_pb2.AttendeeJoined,
        "media.attendee.left": media_pb2.AttendeeLeft,
        "media.meeting.ended": media_pb2.MeetingEnded,
    }
    out: list[tuple[str, Message]] = []
    for subject, data in await stack.outbox():
        envelope = Envelope.FromString(data)
        message = kinds[subject]()
        message.ParseFromString(envelope.payload)
        out.append((subject, message))
    return out


def minutes_metric() -> float:
    return REGISTRY.get_sample_value("realty_media_attendee_minutes_total") or 0.0


async def test_chimes_events_become_ours_once_and_the_bot_is_no_person(stack: Stack) -> None:
    tour, buyer, realtor = await stack.tour()
    b = await join(stack, tour.id, buyer)
    r = await join(stack, tour.id, realtor)
    chime = Chime(stack, b["meeting"]["MeetingId"], tour.id)
    t0 = stack.clock()
    bot = {"AttendeeId": str(uuid.uuid4()), "ExternalUserId": "aws:MediaPipeline-abc123"}
    before = minutes_metric()
    await chime.send("MeetingStarted", t0)
    joined = await chime.send("AttendeeJoined", t0, b["attendee"])
    await chime.send("AttendeeJoined", t0 + timedelta(minutes=1), r["attendee"])
    await chime.send("AttendeeJoined", t0 + timedelta(minutes=1), bot)
    await chime.drain()
    await chime.resend(joined)  # at-least-once delivery: the same event again
    await chime.drain()

    view = await stack.ok(
        MEETING, {"reps": [{"__typename": "Tour", "id": str(tour.id)}]}, as_=buyer
    )
    meeting = view["_entities"][0]["meeting"]
    assert meeting["active"] is True and meeting["recording"] is False
    assert [p["id"] for p in meeting["participants"]] == [str(buyer.id), str(realtor.id)]
    assert meeting["startedAt"] is not None

    await chime.send("AttendeeLeft", t0 + timedelta(minutes=11), r["attendee"])
    await chime.send("AttendeeLeft", t0 + timedelta(minutes=20), bot)
    await chime.send("AttendeeDropped", t0 + timedelta(minutes=20, seconds=30), b["attendee"])
    await chime.drain()
    await chime.send("MeetingEnded", t0 + timedelta(minutes=25))
    await chime.drain()

    events = await announced(stack)
    assert [s for s, _ in events] == [
        "media.meeting.started",
        "media.attendee.joined",
        "media.attendee.joined",
        "media.attendee.left",
        "media.attendee.left",
        "media.meeting.ended",
    ]
    first, second = events[1][1], events[2][1]
    assert isinstance(first, media_pb2.AttendeeJoined) and isinstance(
        second, media_pb2.AttendeeJoined
    )
    assert (first.user_id, first.first, second.first) == (str(buyer.id), True, False)
    ended = events[-1][1]
    assert isinstance(ended, media_pb2.MeetingEnded)
    assert ended.tour_id == str(tour.id)
    assert ended.duration_seconds == 25 * 60
    assert ended.attendee_minutes == 31  # 10 + 20.5 minutes, rounded up
    assert minutes_metric() - before == 30.5
    view = await stack.ok(
        MEETING, {"reps": [{"__typename": "Tour", "id": str(tour.id)}]}, as_=realtor
    )
    meeting = view["_entities"][0]["meeting"]
    assert (meeting["active"], meeting["participants"], meeting["attendeeMinutes"]) == (
        False,
        [],
        31,
    )
    handled = await stack.rows("SELECT count(*) AS n FROM inbox WHERE consumer = 'chime-events'")
    assert handled[0].n == len(chime.sent)


async def test_a_call_everyone_left_is_deleted_after_the_grace_period(stack: Stack) -> None:
    tour, buyer, _ = await stack.tour()
    b = await join(stack, tour.id, buyer)
    meeting_id = b["meeting"]["MeetingId"]
    chime = Chime(stack, meeting_id, tour.id)
    t0 = stack.clock()
    await chime.send("AttendeeJoined", t0, b["attendee"])
    await chime.drain()
    await stack.ok(LEAVE, {"tourId": str(tour.id)}, as_=buyer)
    await chime.send("AttendeeDeleted", t0 + timedelta(minutes=3), b["attendee"])
    await chime.drain()
    worker = stack.parts.empty_meetings
    stack.clock.now = t0 + timedelta(minutes=4, seconds=59)
    assert await worker.run_once() == 0
    assert meeting_id in stack.chime.meetings
    stack.clock.now = t0 + timedelta(minutes=5)
    assert await worker.run_once() == 1
    assert meeting_id not in stack.chime.meetings
    assert await worker.run_once() == 0
    # Chime reports the end of the meeting it deleted; a later join makes a new one.
    await chime.send("MeetingEnded", t0 + timedelta(minutes=5, seconds=1))
    await chime.drain()
    assert [s for s, _ in await announced(stack)][-1] == "media.meeting.ended"
    again = await join(stack, tour.id, buyer)
    assert again["meeting"]["MeetingId"] != meeting_id


async def test_a_quick_return_keeps_the_call(stack: Stack) -> None:
    tour, buyer, _ = await stack.tour()
    b = await join(stack, tour.id, buyer)
    chime = Chime(stack, b["meeting"]["MeetingId"], tour.id)
    t0 = stack.clock()
    await chime.send("AttendeeJoined", t0, b["attendee"])
    await chime.send("AttendeeDropped", t0 + timedelta(minutes=1), b["attendee"])
    await chime.drain()
    await chime.send("AttendeeJoined", t0 + timedelta(minutes=2), b["attendee"])
    await chime.drain()
    stack.clock.now = t0 + timedelta(minutes=10)
    assert await stack.parts.empty_meetings.run_once() == 0
    assert b["meeting"]["MeetingId"] in stack.chime.meetings
