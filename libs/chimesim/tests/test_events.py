"""Chime's events reach the SQS queue in EventBridge's envelope, as a rule delivers them."""

from __future__ import annotations

import uuid
from typing import Any

from chimesim.testing import ChimeSim, EventQueue


def test_meeting_state_changes(chime: ChimeSim, chime_events: EventQueue, meetings: Any) -> None:
    meeting = meetings.create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="eu-central-1", ExternalMeetingId="tour-9"
    )["Meeting"]
    meeting_id = meeting["MeetingId"]
    agent = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="agent")["Attendee"]
    buyer = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="buyer")["Attendee"]
    chime.join(meeting_id, agent["AttendeeId"])
    chime.join(meeting_id, buyer["AttendeeId"])
    chime.advance(1)
    chime.drop(meeting_id, buyer["AttendeeId"])
    chime.advance(1)
    chime.leave(meeting_id, agent["AttendeeId"])
    meetings.delete_attendee(MeetingId=meeting_id, AttendeeId=buyer["AttendeeId"])
    chime.advance(300)

    events = chime_events.of(meeting_id, at_least=9)
    kinds = [(e["detail"]["eventType"], e["detail"].get("externalUserId")) for e in events]
    assert kinds[0] == ("chime:MeetingStarted", None)
    assert kinds[-1] == ("chime:MeetingEnded", None)
    assert sorted(kinds[1:-1], key=str) == sorted(
        [
            ("chime:AttendeeAdded", "agent"),
            ("chime:AttendeeAdded", "buyer"),
            ("chime:AttendeeJoined", "agent"),
            ("chime:AttendeeJoined", "buyer"),
            ("chime:AttendeeDropped", "buyer"),
            ("chime:AttendeeLeft", "agent"),
            ("chime:AttendeeDeleted", "buyer"),
        ],
        key=str,
    )
    started, ended = events[0], events[-1]
    assert set(started) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert started["detail-type"] == "Chime Meeting State Change"
    assert started["source"] == "aws.chime"
    assert started["version"] == "0"
    assert started["account"] == "123456789012"
    assert started["detail"]["meetingId"] == meeting_id
    assert started["detail"]["externalMeetingId"] == "tour-9"
    assert started["detail"]["mediaRegion"] == "eu-central-1"
    # It ended five minutes after the last one left, whenever the clock got there.
    left = next(e for e in events if e["detail"]["eventType"] == "chime:AttendeeLeft")
    assert ended["detail"]["timestamp"] - left["detail"]["timestamp"] == 300_000
    joined = next(e for e in events if e["detail"]["eventType"] == "chime:AttendeeJoined")
    assert joined["detail"]["attendeeId"] in {agent["AttendeeId"], buyer["AttendeeId"]}


def test_media_pipeline_state_changes(
    chime_events: EventQueue,
    meetings: Any,
    pipelines: Any,
    meeting: dict[str, Any],
    bucket: str,
    capture_params: Any,
) -> None:
    capture = pipelines.create_media_capture_pipeline(**capture_params(meeting, bucket))
    pipeline_id = capture["MediaCapturePipeline"]["MediaPipelineId"]
    assert capture["MediaCapturePipeline"]["Status"] == "Initializing"
    assert (
        pipelines.get_media_capture_pipeline(MediaPipelineId=pipeline_id)["MediaCapturePipeline"][
            "Status"
        ]
        == "InProgress"
    )
    meetings.delete_meeting(MeetingId=meeting["MeetingId"])
    events = chime_events.of(meeting["MeetingId"], at_least=4)
    pipeline_events = [e for e in events if e["detail-type"] == "Chime Media Pipeline State Change"]
    assert [e["detail"]["eventType"] for e in pipeline_events] == [
        "chime:MediaPipelineInProgress",
        "chime:MediaPipelineDeleted",
    ]
    assert all(e["detail"]["mediaPipelineId"] == pipeline_id for e in pipeline_events)
    assert events[-1]["detail"]["eventType"] == "chime:MeetingEnded"
