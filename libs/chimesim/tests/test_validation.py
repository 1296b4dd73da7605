"""What the service rejects and botocore lets through, read from the model's shapes, and
the error as botocore parses it (type from `x-amzn-ErrorType`, message and code from the
body)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError


def rejected(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return dict(caught.value.response)


def test_a_meeting_id_that_is_not_a_guid_is_a_bad_request(meetings: Any) -> None:
    error = rejected(meetings.get_meeting, MeetingId="not-a-guid")
    assert error["Error"]["Code"] == "BadRequestException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "MeetingId" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "BadRequestException"


def test_an_unknown_meeting_is_not_found_with_the_model_code(meetings: Any) -> None:
    error = rejected(meetings.get_meeting, MeetingId=str(uuid.uuid4()))
    assert error["Error"]["Code"] == "NotFoundException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Code"] == "NotFound"
    assert error["RequestId"]


def test_lengths_enums_and_reserved_prefixes(meetings: Any, meeting: dict[str, Any]) -> None:
    meeting_id = meeting["MeetingId"]
    too_long = rejected(meetings.create_attendee, MeetingId=meeting_id, ExternalUserId="x" * 65)
    assert "at most 64" in too_long["Error"]["Message"]
    reserved = rejected(meetings.create_attendee, MeetingId=meeting_id, ExternalUserId="AWS:bot")
    assert "reserved" in reserved["Error"]["Message"]
    capabilities = {"Audio": "SendReceive", "Video": "Loud", "Content": "None"}
    enum = rejected(
        meetings.create_attendee,
        MeetingId=meeting_id,
        ExternalUserId="buyer-9",
        Capabilities=capabilities,
    )
    assert "must be one of" in enum["Error"]["Message"]
    tag = rejected(
        meetings.create_meeting,
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion="us-east-1",
        ExternalMeetingId="tagged",
        Tags=[{"Key": "aws:owner", "Value": "me"}],
    )
    assert tag["Error"]["Code"] == "BadRequestException"
    region = rejected(
        meetings.create_meeting,
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion="mars-north-1",
        ExternalMeetingId="far",
    )
    assert "media Region" in region["Error"]["Message"]


def test_batches_hold_one_to_one_hundred_attendees(meetings: Any, meeting: dict[str, Any]) -> None:
    items = [{"ExternalUserId": f"buyer-{i:03d}"} for i in range(101)]
    error = rejected(
        meetings.batch_create_attendee, MeetingId=meeting["MeetingId"], Attendees=items
    )
    assert "at most 100" in error["Error"]["Message"]
    created = meetings.batch_create_attendee(MeetingId=meeting["MeetingId"], Attendees=items[:100])
    assert len(created["Attendees"]) == 100


def test_content_needs_video_receive(meetings: Any, meeting: dict[str, Any]) -> None:
    error = rejected(
        meetings.create_attendee,
        MeetingId=meeting["MeetingId"],
        ExternalUserId="viewer",
        Capabilities={"Audio": "SendReceive", "Video": "None", "Content": "Receive"},
    )
    assert error["Error"]["Code"] == "BadRequestException"


def test_pipeline_arns_and_enums(pipelines: Any, meeting: dict[str, Any], bucket: str) -> None:
    base = {
        "SourceType": "ChimeSdkMeeting",
        "SourceArn": meeting["MeetingArn"],
        "SinkType": "S3Bucket",
        "SinkArn": f"arn:aws:s3:::{bucket}",
    }
    wrong_sink = rejected(pipelines.create_media_capture_pipeline, **{**base, "SinkType": "Ftp"})
    assert "S3Bucket" in wrong_sink["Error"]["Message"]
    not_an_arn = rejected(pipelines.create_media_capture_pipeline, **{**base, "SinkArn": "s3://x"})
    assert "pattern" in not_an_arn["Error"]["Message"]
    error = rejected(pipelines.get_media_pipeline, MediaPipelineId=str(uuid.uuid4()))
    assert error["Error"]["Code"] == "NotFoundException"


def test_a_meeting_without_video_rejects_requests_for_video(meetings: Any) -> None:
    meeting = meetings.create_meeting(
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion="us-east-1",
        ExternalMeetingId="audio-only",
        MeetingFeatures={"Video": {"MaxResolution": "None"}},
    )["Meeting"]
    asks_for_video = {"Audio": "SendReceive", "Video": "Receive", "Content": "None"}
    error = rejected(
        meetings.create_attendee,
        MeetingId=meeting["MeetingId"],
        ExternalUserId="viewer",
        Capabilities=asks_for_video,
    )
    assert error["Error"]["Code"] == "BadRequestException"
    plain = meetings.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId="listener")
    assert plain["Attendee"]["AttendeeId"]
