"""Throttling: a burst of 20, then 10 a second, per operation, as ThrottlingException 429 —
and the client's retries show in the call counter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chimesim.testing import ChimeSim


@pytest.fixture
def throttled(chime: ChimeSim) -> Iterator[ChimeSim]:
    chime.throttling(rate=10, burst=20)
    chime.reset_calls()
    try:
        yield chime
    finally:
        chime.throttling(rate=0)


def test_burst_then_rate(throttled: ChimeSim, meetings: Any, meeting: dict[str, Any]) -> None:
    for _ in range(20):
        meetings.get_meeting(MeetingId=meeting["MeetingId"])
    with pytest.raises(ClientError) as caught:
        meetings.get_meeting(MeetingId=meeting["MeetingId"])
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # Other operations have buckets of their own.
    meetings.list_attendees(MeetingId=meeting["MeetingId"])
    throttled.advance(0.1)
    meetings.get_meeting(MeetingId=meeting["MeetingId"])
    with pytest.raises(ClientError):
        meetings.get_meeting(MeetingId=meeting["MeetingId"])
    assert throttled.calls()["GetMeeting"] == 23


def test_clients_retry_throttled_calls(throttled: ChimeSim, meeting: dict[str, Any]) -> None:
    patient = throttled.client(
        "chime-sdk-meetings", retries={"total_max_attempts": 2, "mode": "legacy"}
    )
    for _ in range(20):
        patient.get_meeting(MeetingId=meeting["MeetingId"])
    throttled.reset_calls()
    with pytest.raises(ClientError) as caught:
        patient.get_meeting(MeetingId=meeting["MeetingId"])
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert throttled.calls() == {"GetMeeting": 2}


def test_media_pipelines_throttle_with_their_own_error(throttled: ChimeSim, pipelines: Any) -> None:
    throttled.throttling(rate=10, burst=1)
    pipelines.list_media_capture_pipelines()
    with pytest.raises(ClientError) as caught:
        pipelines.list_media_capture_pipelines()
    assert caught.value.response["Error"]["Code"] == "ThrottledClientException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
