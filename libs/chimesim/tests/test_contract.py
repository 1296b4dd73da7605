"""Every implemented operation, called through boto3, answers with exactly what the
botocore model's output shape declares: required members, types, enums, patterns, and no
member the model does not know."""

from __future__ import annotations

import datetime
import re
import time
import uuid
from typing import Any

from botocore.model import Shape
from chimesim.emulator import MEETING_OPERATIONS, PIPELINE_OPERATIONS
from chimesim.model import MEETINGS, PIPELINES, service_model
from chimesim.testing import ChimeSim

PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "float": (float, int),
    "double": (float, int),
    "timestamp": (datetime.datetime,),
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
}


def conform(shape: Shape, value: Any, where: str) -> list[str]:
    problems: list[str] = []
    if not isinstance(value, PYTHON_TYPES[shape.type_name]):
        return [f"{where}: {type(value).__name__} is not a {shape.type_name}"]
    if shape.type_name == "structure":
        members = shape.members  # type: ignore[attr-defined]
        for name in shape.required_members:  # type: ignore[attr-defined]
            if name not in value:
                problems.append(f"{where}.{name}: required but missing")
        for name, item in value.items():
            if name not in members:
                problems.append(f"{where}.{name}: not in the model")
            else:
                problems += conform(members[name], item, f"{where}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            problems += conform(shape.member, item, f"{where}[{index}]")  # type: ignore[attr-defined]
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} not in {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern and re.fullmatch(pattern, value) is None:
            problems.append(f"{where}: {value!r} does not match {pattern}")
        if len(value) > shape.metadata.get("max", 10**9):
            problems.append(f"{where}: longer than {shape.metadata['max']}")
    return problems


def check(service: str, operation: str, response: dict[str, Any]) -> None:
    op = service_model(service).operation_model(operation)
    metadata = response.pop("ResponseMetadata")
    assert metadata["HTTPStatusCode"] == int(op.http.get("responseCode", 200)), operation
    if op.output_shape is None:
        assert response == {}, operation
        return
    problems = conform(op.output_shape, response, operation)
    assert problems == [], problems


def test_every_operation_answers_as_the_model_says(
    chime: ChimeSim, meetings: Any, pipelines: Any, bucket: str, capture_params: Any
) -> None:
    called: dict[str, set[str]] = {MEETINGS: set(), PIPELINES: set()}

    def call(client: Any, service: str, operation: str, **params: Any) -> dict[str, Any]:
        method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
        response = dict(method(**params))
        check(service, operation, dict(response))
        called[service].add(operation)
        return response

    def m(operation: str, **params: Any) -> dict[str, Any]:
        return call(meetings, MEETINGS, operation, **params)

    def p(operation: str, **params: Any) -> dict[str, Any]:
        return call(pipelines, PIPELINES, operation, **params)

    meeting = m(
        "CreateMeeting",
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion="us-east-1",
        ExternalMeetingId="contract",
        MeetingHostId="host-1",
        Tags=[{"Key": "listing", "Value": "42"}],
    )["Meeting"]
    meeting_id = meeting["MeetingId"]
    with_attendees = m(
        "CreateMeetingWithAttendees",
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion="eu-west-2",
        ExternalMeetingId="contract-2",
        Attendees=[{"ExternalUserId": "agent-1"}, {"ExternalUserId": "buyer-1"}],
    )
    assert len(with_attendees["Attendees"]) == 2
    attendee = m("CreateAttendee", MeetingId=meeting_id, ExternalUserId="agent-7")["Attendee"]
    m(
        "BatchCreateAttendee",
        MeetingId=meeting_id,
        Attendees=[{"ExternalUserId": f"buyer-{i}"} for i in range(3)],
    )
    m("GetMeeting", MeetingId=meeting_id)
    m("GetAttendee", MeetingId=meeting_id, AttendeeId=attendee["AttendeeId"])
    listed = m("ListAttendees", MeetingId=meeting_id, MaxResults=2)
    assert listed["NextToken"]
    m(
        "UpdateAttendeeCapabilities",
        MeetingId=meeting_id,
        AttendeeId=attendee["AttendeeId"],
        Capabilities={"Audio": "SendReceive", "Video": "Receive", "Content": "None"},
    )
    m(
        "StartMeetingTranscription",
        MeetingId=meeting_id,
        TranscriptionConfiguration={"EngineTranscribeSettings": {"LanguageCode": "en-US"}},
    )
    m("StopMeetingTranscription", MeetingId=meeting_id)
    chime.join(meeting_id, attendee["AttendeeId"])

    capture = p("CreateMediaCapturePipeline", **capture_params(meeting, bucket))[
        "MediaCapturePipeline"
    ]
    p("GetMediaCapturePipeline", MediaPipelineId=capture["MediaPipelineId"])
    p("ListMediaCapturePipelines", MaxResults=100)
    p("GetMediaPipeline", MediaPipelineId=capture["MediaPipelineId"])
    chime.advance(6)
    p("DeleteMediaCapturePipeline", MediaPipelineId=capture["MediaPipelineId"])
    concatenation = p(
        "CreateMediaConcatenationPipeline",
        Sources=[
            {
                "Type": "MediaCapturePipeline",
                "MediaCapturePipelineSourceConfiguration": {
                    "MediaPipelineArn": capture["MediaPipelineArn"],
                    "ChimeSdkMeetingConfiguration": {
                        "ArtifactsConfiguration": {
                            "Audio": {"State": "Enabled"},
                            "Video": {"State": "Disabled"},
                            "Content": {"State": "Disabled"},
                            "DataChannel": {"State": "Disabled"},
                            "TranscriptionMessages": {"State": "Enabled"},
                            "MeetingEvents": {"State": "Enabled"},
                            "CompositedVideo": {"State": "Disabled"},
                        }
                    },
                },
            }
        ],
        Sinks=[
            {
                "Type": "S3Bucket",
                "S3BucketSinkConfiguration": {"Destination": f"arn:aws:s3:::{bucket}/joined"},
            }
        ],
    )["MediaConcatenationPipeline"]
    concatenation_id = concatenation["MediaPipelineId"]
    status = p("GetMediaPipeline", MediaPipelineId=concatenation_id)
    while status["MediaPipeline"]["MediaConcatenationPipeline"]["Status"] == "InProgress":
        time.sleep(0.05)
        status = pipelines.get_media_pipeline(MediaPipelineId=concatenation_id)
    assert status["MediaPipeline"]["MediaConcatenationPipeline"]["Status"] == "Stopped"
    p("DeleteMediaPipeline", MediaPipelineId=concatenation_id)

    m("DeleteAttendee", MeetingId=meeting_id, AttendeeId=attendee["AttendeeId"])
    m("DeleteMeeting", MeetingId=meeting_id)

    assert called[MEETINGS] == set(MEETING_OPERATIONS)
    assert called[PIPELINES] == set(PIPELINE_OPERATIONS)
