"""Recording a tour's call against the Chime SDK emulator and moto (S3, KMS, SQS): capture
into the encrypted bucket, concatenation, Chime's pipeline events, transcript, summary,
playback, deletion, retention."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from datetime import timedelta
from typing import Any

import av
import boto3
import httpx
from botocore.exceptions import ClientError
from chimesim.testing import ChimeSim
from media.domain import Tour
from realty.media.v1 import media_pb2
from servicekit.bus.events import Envelope

from .conftest import Person, Stack
from .test_join import join

START = "mutation($t: ID!) { startRecording(tourId: $t) { id status startedAt } }"
STOP = "mutation($t: ID!) { stopRecording(tourId: $t) { id status endedAt durationSeconds } }"
DELETE = "mutation($id: ID!) { deleteRecording(id: $id) }"
TOUR = """
query($r: [_Any!]!) { _entities(representations: $r) { ... on Tour {
  meeting { recording }
  recordings { id status durationSeconds playbackUrl summary
    transcript { language text segments { speaker { id } speakerName startSeconds endSeconds text } } }
} } }
"""


async def tour_view(stack: Stack, tour_id: uuid.UUID, who: Person) -> dict[str, Any]:
    data = await stack.ok(TOUR, {"r": [{"__typename": "Tour", "id": str(tour_id)}]}, as_=who)
    found: dict[str, Any] = data["_entities"][0]
    return found


async def in_call(
    stack: Stack, chime: ChimeSim, tour: Tour, *people: Person
) -> tuple[str, dict[uuid.UUID, str]]:
    """Everyone joins the tour's call and connects; the meeting id and attendee ids."""
    attendees: dict[uuid.UUID, str] = {}
    meeting_id = ""
    for person in people:
        joined = await join(stack, tour.id, person)
        meeting_id = joined["meeting"]["MeetingId"]
        attendees[person.id] = joined["attendee"]["AttendeeId"]
        chime.join(meeting_id, attendees[person.id])
    return meeting_id, attendees


async def until_status(
    stack: Stack, tour_id: uuid.UUID, who: Person, status: str, timeout: float = 15.0
) -> dict[str, Any]:
    """Read Chime's queue until the tour's last recording has `status`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await stack.parts.queue.poll_once()
        view = await tour_view(stack, tour_id, who)
        last: dict[str, Any] = view["recordings"][-1]
        if last["status"] == status or asyncio.get_running_loop().time() > deadline:
            return last


async def subjects(stack: Stack, prefix: str = "media.recording.") -> list[str]:
    return [s for s, _ in await stack.outbox() if s.startswith(prefix)]


def s3(stack: Stack) -> Any:
    return boto3.client("s3", endpoint_url=stack.settings.s3_endpoint(), region_name="us-east-1")


async def record_a_tour(
    stack: Stack, chime: ChimeSim
) -> tuple[Tour, Person, Person, str, dict[uuid.UUID, str]]:
    tour, buyer, realtor = await stack.tour()
    meeting_id, attendees = await in_call(stack, chime, tour, realtor, buyer)
    started = await stack.ok(START, {"t": str(tour.id)}, as_=realtor)
    assert started["startRecording"]["status"] == "RECORDING"
    chime.speak(meeting_id, attendees[realtor.id], "Welcome, this kitchen was renovated last year.")
    chime.advance(4)
    chime.speak(meeting_id, attendees[buyer.id], "I love the light here. Is the roof new?")
    chime.advance(4)
    chime.speak(
        meeting_id,
        attendees[realtor.id],
        "The roof is from 2019. I will send you the inspection report tomorrow.",
    )
    chime.advance(4)
    stack.clock.advance(timedelta(seconds=12))
    return tour, buyer, realtor, meeting_id, attendees


async def test_a_recording_from_start_to_playback_transcript_and_summary(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, buyer, realtor, _meeting_id, _ = await record_a_tour(stack, chime)
    view = await tour_view(stack, tour.id, buyer)
    assert view["meeting"]["recording"] is True  # everyone in the call is told
    again = await stack.error(START, {"t": str(tour.id)}, as_=realtor)
    assert again["code"] == "CONFLICT"
    assert (await stack.error(START, {"t": str(tour.id)}, as_=buyer))["code"] == "FORBIDDEN"
    assert (await stack.error(STOP, {"t": str(tour.id)}, as_=buyer))["code"] == "FORBIDDEN"

    stopped = (await stack.ok(STOP, {"t": str(tour.id)}, as_=realtor))["stopRecording"]
    assert stopped["status"] == "PROCESSING"
    assert stopped["durationSeconds"] == 12
    assert (await tour_view(stack, tour.id, buyer))["meeting"]["recording"] is False
    available = await until_status(stack, tour.id, buyer, "AVAILABLE")
    assert available["status"] == "AVAILABLE", available
    assert available["durationSeconds"] == 12

    # The file plays: a short-lived presigned URL to an MP4 with sound and picture.
    url = available["playbackUrl"]
    assert "X-Amz-Expires=300" in url
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    with av.open(io.BytesIO(response.content)) as container:
        kinds = {s.type for s in container.streams}
    assert {"audio", "video"} <= kinds

    # Everything Chime wrote is encrypted under the customer-managed key.
    client = s3(stack)
    keys = await stack.parts.storage.keys(f"recordings/{tour.id}")
    chunk = next(k for k in keys if "/audio/" in k and "concatenated" not in k)
    head = client.head_object(Bucket=stack.settings.recordings_bucket, Key=chunk)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == await stack.parts.storage.ensure_ready()

    # The transcript, by speaker, then the (offline) summary.
    assert available["transcript"] is None
    assert await stack.parts.recording_worker.run_once() == 1
    described = (await tour_view(stack, tour.id, realtor))["recordings"][-1]
    segments = described["transcript"]["segments"]
    names = {realtor.id: realtor.name, buyer.id: buyer.name}
    assert [(s["speakerName"], s["text"]) for s in segments] == [
        (names[realtor.id], "Welcome, this kitchen was renovated last year."),
        (names[buyer.id], "I love the light here. Is the roof new?"),
        (
            names[realtor.id],
            "The roof is from 2019. I will send you the inspection report tomorrow.",
        ),
    ]
    assert segments[1]["speaker"]["id"] == str(buyer.id)
    assert segments[0]["startSeconds"] < segments[1]["startSeconds"] < segments[2]["startSeconds"]
    assert described["transcript"]["language"] == "en-US"
    summary = described["summary"]
    assert "What the buyer asked and liked" in summary
    assert "Is the roof new?" in summary
    assert "inspection report tomorrow" in summary.split("Agreed next steps", 1)[1]

    # Someone not in the tour sees nothing of it.
    stranger = stack.person()
    assert (await tour_view(stack, tour.id, stranger))["recordings"] == []

    announced = await subjects(stack)
    assert announced == [
        "media.recording.started",
        "media.recording.stopped",
        "media.recording.available",
    ]
    envelope = Envelope.FromString(
        next(e for s, e in await stack.outbox() if s.endswith("available"))
    )
    message = media_pb2.RecordingAvailable.FromString(envelope.payload)
    assert message.duration_seconds == 12 and message.realtor_id == str(realtor.id)

    # The realtor deletes it: its objects go, its words too.
    recording_id = described["id"]
    assert (await stack.error(DELETE, {"id": recording_id}, as_=buyer))["code"] == "FORBIDDEN"
    assert (await stack.ok(DELETE, {"id": recording_id}, as_=realtor))["deleteRecording"] is True
    assert await stack.parts.storage.keys(f"recordings/{tour.id}") == []
    gone = (await tour_view(stack, tour.id, realtor))["recordings"][-1]
    assert gone["status"] == "DELETED"
    assert gone["playbackUrl"] is None and gone["transcript"] is None and gone["summary"] is None
    assert (await stack.ok(DELETE, {"id": recording_id}, as_=realtor))["deleteRecording"] is False


async def test_no_recording_without_a_call_and_no_stop_without_a_recording(
    emulated: Stack,
) -> None:
    stack = emulated
    tour, _, realtor = await stack.tour()
    assert (await stack.error(START, {"t": str(tour.id)}, as_=realtor))["reason"] == "NO_CALL"
    assert (await stack.error(STOP, {"t": str(tour.id)}, as_=realtor))["reason"] == "NOT_RECORDING"
    missing = await stack.error(START, {"t": str(uuid.uuid4())}, as_=realtor)
    assert missing["code"] == "NOT_FOUND"


def running_captures(chime: ChimeSim, meeting_id: str) -> list[str]:
    client = chime.client("chime-sdk-media-pipelines")
    found = []
    for summary in client.list_media_capture_pipelines()["MediaCapturePipelines"]:
        pipeline = client.get_media_capture_pipeline(MediaPipelineId=summary["MediaPipelineId"])
        capture = pipeline["MediaCapturePipeline"]
        if capture["Status"] == "InProgress" and meeting_id in capture["SourceArn"]:
            found.append(capture["MediaPipelineId"])
    return found


async def test_chime_throttling_a_start_leaves_nothing_half_made(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, _, realtor = await stack.tour()
    meeting_id, _ = await in_call(stack, chime, tour, realtor)
    pipelines = chime.client("chime-sdk-media-pipelines")
    chime.throttling(0.001, burst=1)
    try:
        # Use up the capture's one request: the service's capture is throttled, every retry too.
        with contextlib.suppress(ClientError):
            pipelines.create_media_capture_pipeline(
                SourceType="ChimeSdkMeeting",
                SourceArn=f"arn:aws:chime:us-east-1:123456789012:meeting/{uuid.uuid4()}",
                SinkType="S3Bucket",
                SinkArn="arn:aws:s3:::realty-recordings/nothing",
            )
        failed = await stack.error(START, {"t": str(tour.id)}, as_=realtor)
    finally:
        chime.throttling(0.0)
    assert failed["code"] == "RATE_LIMITED"
    assert await stack.rows("SELECT id FROM recordings WHERE tour_id = :t", t=tour.id) == []
    assert running_captures(chime, meeting_id) == []
    # Once Chime answers again, recording works.
    again = await stack.ok(START, {"t": str(tour.id)}, as_=realtor)
    assert again["startRecording"]["status"] == "RECORDING"
    assert len(running_captures(chime, meeting_id)) == 1
    await stack.ok(STOP, {"t": str(tour.id)}, as_=realtor)
    assert running_captures(chime, meeting_id) == []


async def test_a_capture_chime_refuses_is_a_conflict_and_undone(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, _, realtor = await stack.tour()
    meeting_id, _ = await in_call(stack, chime, tour, realtor)
    meeting = chime.client("chime-sdk-meetings").get_meeting(MeetingId=meeting_id)["Meeting"]
    pipelines = chime.client("chime-sdk-media-pipelines")
    other = pipelines.create_media_capture_pipeline(
        SourceType="ChimeSdkMeeting",
        SourceArn=meeting["MeetingArn"],
        SinkType="S3Bucket",
        SinkArn="arn:aws:s3:::realty-recordings/elsewhere",
    )["MediaCapturePipeline"]["MediaPipelineId"]
    refused = await stack.error(START, {"t": str(tour.id)}, as_=realtor)
    assert (refused["code"], refused["reason"]) == ("CONFLICT", "CAPTURE_RUNNING")
    assert await stack.rows("SELECT id FROM recordings WHERE tour_id = :t", t=tour.id) == []
    assert running_captures(chime, meeting_id) == [other]


async def test_the_call_emptying_stops_the_capture_and_retention_deletes_old_recordings(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, buyer, _realtor, meeting_id, attendees = await record_a_tour(stack, chime)
    for attendee in attendees.values():
        chime.leave(meeting_id, attendee)
    for _ in range(3):
        await stack.parts.queue.poll_once()
    stack.clock.advance(timedelta(minutes=5))
    assert await stack.parts.empty_meetings.run_once() == 1
    available = await until_status(stack, tour.id, buyer, "AVAILABLE")
    assert available["status"] == "AVAILABLE"

    assert await stack.parts.recordings.expire() == 0
    stack.clock.advance(timedelta(days=366))
    assert await stack.parts.recordings.expire() == 1
    assert await stack.parts.storage.keys(f"recordings/{tour.id}") == []
    assert (await tour_view(stack, tour.id, buyer))["recordings"][-1]["status"] == "DELETED"
