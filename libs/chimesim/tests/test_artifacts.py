"""A capture writes Chime's layout to S3 with real media; a concatenation makes one MP4
that a browser plays (H.264 + AAC, index first); transcripts carry what was said."""

from __future__ import annotations

import io
import re
import time
import uuid
from typing import Any

import av
import orjson
import pytest
from chimesim.testing import ChimeSim

CHUNK_NAME = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}"
ALL_ENABLED = {
    "Audio": {"State": "Enabled"},
    "Video": {"State": "Disabled"},
    "Content": {"State": "Disabled"},
    "DataChannel": {"State": "Disabled"},
    "TranscriptionMessages": {"State": "Enabled"},
    "MeetingEvents": {"State": "Enabled"},
    "CompositedVideo": {"State": "Disabled"},
}


def keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def read(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture
def recorded(
    chime: ChimeSim, meetings: Any, pipelines: Any, s3: Any, bucket: str, capture_params: Any
) -> dict[str, Any]:
    """A meeting where the agent talks for twelve seconds while captured with transcription."""
    meeting = meetings.create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId="tour-3"
    )["Meeting"]
    meeting_id = meeting["MeetingId"]
    agent = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="agent")["Attendee"]
    chime.join(meeting_id, agent["AttendeeId"])
    meetings.start_meeting_transcription(
        MeetingId=meeting_id,
        TranscriptionConfiguration={"EngineTranscribeSettings": {"LanguageCode": "en-US"}},
    )
    capture = pipelines.create_media_capture_pipeline(**capture_params(meeting, bucket, "tours/3"))
    assert chime.speak(meeting_id, agent["AttendeeId"], "Welcome to the living room.")
    chime.advance(7)
    chime.speak(meeting_id, agent["AttendeeId"], "The kitchen is next.")
    chime.advance(5)
    pipelines.delete_media_capture_pipeline(
        MediaPipelineId=capture["MediaCapturePipeline"]["MediaPipelineId"]
    )
    return {"meeting": meeting, "agent": agent, "capture": capture["MediaCapturePipeline"]}


def test_capture_layout_and_media(recorded: dict[str, Any], s3: Any, bucket: str) -> None:
    audio = keys(s3, bucket, "tours/3/audio/")
    video = keys(s3, bucket, "tours/3/video/")
    agent_id = recorded["agent"]["AttendeeId"]
    # Twelve seconds: chunks starting at 0, 5 and 10 s.
    assert len(audio) == 3
    assert all(re.fullmatch(rf"tours/3/audio/{CHUNK_NAME}\.mp4", k) for k in audio)
    assert len(video) == 3
    assert all(re.fullmatch(rf"tours/3/video/{CHUNK_NAME}-{agent_id}\.mp4", k) for k in video)
    with av.open(io.BytesIO(read(s3, bucket, audio[0]))) as chunk:
        kinds = {s.type: s.codec_context.name for s in chunk.streams}
        assert kinds == {"audio": "aac", "video": "h264"}
        assert chunk.duration is not None and 4.9 <= chunk.duration / 1e6 <= 5.2
        assert sum(1 for _ in chunk.decode(audio=0)) > 0
    with av.open(io.BytesIO(read(s3, bucket, video[0]))) as chunk:
        assert [s.type for s in chunk.streams] == ["video"]


def test_meeting_events_and_transcripts(recorded: dict[str, Any], s3: Any, bucket: str) -> None:
    event_lines = [
        orjson.loads(line)
        for key in keys(s3, bucket, "tours/3/meeting-events/")
        for line in read(s3, bucket, key).splitlines()
    ]
    assert [e["EventType"] for e in event_lines] == ["CaptureStarted", "CaptureEnded"]
    messages = [
        orjson.loads(line)
        for key in keys(s3, bucket, "tours/3/transcription-messages/")
        for line in read(s3, bucket, key).splitlines()
    ]
    transcripts = [m["transcript"]["results"][0] for m in messages if "transcript" in m]
    assert [r["alternatives"][0]["transcript"] for r in transcripts] == [
        "Welcome to the living room.",
        "The kitchen is next.",
    ]
    words = transcripts[1]["alternatives"][0]["items"]
    assert [w["content"] for w in words] == ["The", "kitchen", "is", "next", "."]
    assert words[0]["attendee"] == {
        "attendeeId": recorded["agent"]["AttendeeId"],
        "externalUserId": "agent",
    }
    assert transcripts[0]["isPartial"] is False


def test_concatenation_makes_one_playable_file(
    recorded: dict[str, Any], pipelines: Any, s3: Any, bucket: str
) -> None:
    created = pipelines.create_media_concatenation_pipeline(
        Sources=[
            {
                "Type": "MediaCapturePipeline",
                "MediaCapturePipelineSourceConfiguration": {
                    "MediaPipelineArn": recorded["capture"]["MediaPipelineArn"],
                    "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": ALL_ENABLED},
                },
            }
        ],
        Sinks=[
            {
                "Type": "S3Bucket",
                "S3BucketSinkConfiguration": {"Destination": f"arn:aws:s3:::{bucket}/joined/3"},
            }
        ],
    )["MediaConcatenationPipeline"]
    pipeline_id = created["MediaPipelineId"]
    deadline = time.monotonic() + 20
    status = "InProgress"
    while status == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.05)
        got = pipelines.get_media_pipeline(MediaPipelineId=pipeline_id)
        status = got["MediaPipeline"]["MediaConcatenationPipeline"]["Status"]
    assert status == "Stopped"
    assert keys(s3, bucket, "joined/3/") == [
        f"joined/3/audio/{pipeline_id}.mp4",
        f"joined/3/meeting-events/{pipeline_id}.txt",
        f"joined/3/transcription-messages/{pipeline_id}.txt",
    ]
    data = read(s3, bucket, f"joined/3/audio/{pipeline_id}.mp4")
    assert data.index(b"moov") < data.index(b"mdat"), "faststart: the index comes first"
    with av.open(io.BytesIO(data)) as joined:
        assert {s.type: s.codec_context.name for s in joined.streams} == {
            "video": "h264",
            "audio": "aac",
        }
        assert joined.duration is not None and 14.5 <= joined.duration / 1e6 <= 15.5
        lengths = {s.type: float(s.duration * s.time_base) for s in joined.streams}
        assert abs(lengths["audio"] - lengths["video"]) < 0.05, "sound and picture in step"
        assert sum(1 for _ in joined.decode(video=0)) == 75
    transcript = read(s3, bucket, f"joined/3/transcription-messages/{pipeline_id}.txt")
    assert b"The kitchen is next." in transcript


def test_a_capture_writes_nothing_while_nobody_is_there(
    chime: ChimeSim,
    pipelines: Any,
    meeting: dict[str, Any],
    s3: Any,
    bucket: str,
    capture_params: Any,
) -> None:
    capture = pipelines.create_media_capture_pipeline(**capture_params(meeting, bucket, "empty"))
    chime.advance(20)
    pipelines.delete_media_capture_pipeline(
        MediaPipelineId=capture["MediaCapturePipeline"]["MediaPipelineId"]
    )
    assert keys(s3, bucket, "empty/audio/") == []
    assert len(keys(s3, bucket, "empty/meeting-events/")) == 2
