"""Chime's limits: 250 attendees and 25 video publishers a meeting, one active capture."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from chimesim.testing import ChimeSim

VIDEO = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "Receive"}
NO_VIDEO = {"Audio": "SendReceive", "Video": "Receive", "Content": "Receive"}


def add(meetings: Any, meeting_id: str, names: list[str], capabilities: dict[str, str]) -> Any:
    items = [{"ExternalUserId": n, "Capabilities": capabilities} for n in names]
    return meetings.batch_create_attendee(MeetingId=meeting_id, Attendees=items)


def test_a_meeting_takes_250_attendees(meetings: Any, meeting: dict[str, Any]) -> None:
    meeting_id = meeting["MeetingId"]
    for start in (0, 100, 200):
        names = [f"viewer-{i:03d}" for i in range(start, min(start + 100, 250))]
        assert add(meetings, meeting_id, names, NO_VIDEO)["Errors"] == []
    with pytest.raises(ClientError) as caught:
        meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="one-too-many")
    assert caught.value.response["Error"]["Code"] == "LimitExceededException"
    over = add(meetings, meeting_id, ["late-1", "late-2"], NO_VIDEO)
    assert [e["ExternalUserId"] for e in over["Errors"]] == ["late-1", "late-2"]
    assert over["Attendees"] == []


def test_25_attendees_publish_video(
    chime: ChimeSim, meetings: Any, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    cameras = add(meetings, meeting_id, [f"cam-{i}" for i in range(26)], VIDEO)["Attendees"]
    assert len(cameras) == 26, "creating attendees that may send video is not limited"
    published = [chime.join(meeting_id, a["AttendeeId"]) for a in cameras]
    assert published == [True] * 25 + [False]
    listener = meetings.create_attendee(
        MeetingId=meeting_id, ExternalUserId="listener", Capabilities=NO_VIDEO
    )["Attendee"]
    assert chime.join(meeting_id, listener["AttendeeId"]) is False
    with pytest.raises(ClientError) as caught:
        meetings.update_attendee_capabilities(
            MeetingId=meeting_id, AttendeeId=listener["AttendeeId"], Capabilities=VIDEO
        )
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    chime.leave(meeting_id, cameras[0]["AttendeeId"])
    meetings.update_attendee_capabilities(
        MeetingId=meeting_id, AttendeeId=listener["AttendeeId"], Capabilities=VIDEO
    )


def test_one_active_capture_pipeline_per_meeting(
    pipelines: Any, meeting: dict[str, Any], bucket: str, capture_params: Any
) -> None:
    first = pipelines.create_media_capture_pipeline(**capture_params(meeting, bucket))
    with pytest.raises(ClientError) as caught:
        pipelines.create_media_capture_pipeline(**capture_params(meeting, bucket, "again"))
    assert caught.value.response["Error"]["Code"] == "ResourceLimitExceededException"
    pipelines.delete_media_capture_pipeline(
        MediaPipelineId=first["MediaCapturePipeline"]["MediaPipelineId"]
    )
    pipelines.create_media_capture_pipeline(**capture_params(meeting, bucket, "again"))
