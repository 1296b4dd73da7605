from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from chimesim.testing import ChimeSim


@pytest.fixture
def meetings(chime: ChimeSim) -> Any:
    return chime.client("chime-sdk-meetings", retries={"total_max_attempts": 1})


@pytest.fixture
def pipelines(chime: ChimeSim) -> Any:
    return chime.client("chime-sdk-media-pipelines", retries={"total_max_attempts": 1})


@pytest.fixture
def s3(aws_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"captures-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def meeting(meetings: Any) -> dict[str, Any]:
    created = meetings.create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="tour-1"
    )
    return dict(created["Meeting"])


def capture_request(meeting: dict[str, Any], bucket: str, prefix: str = "tour") -> dict[str, Any]:
    """CreateMediaCapturePipeline's parameters for a meeting into `bucket/prefix`."""
    return {
        "SourceType": "ChimeSdkMeeting",
        "SourceArn": meeting["MeetingArn"],
        "SinkType": "S3Bucket",
        "SinkArn": f"arn:aws:s3:::{bucket}/{prefix}",
    }


@pytest.fixture
def capture_params() -> Any:
    return capture_request
