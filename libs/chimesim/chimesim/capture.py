"""What a capture pipeline writes to its bucket, in Chime's layout under `<prefix>/`:

- `audio/<start>.mp4` — the mixed audio of each 5-second chunk (with the active speaker's
  video unless `MuxType` is `AudioOnly`),
- `video/<start>-<attendeeId>.mp4` — each video-sending attendee's picture, when enabled,
- `meeting-events/<start>.txt` — one JSON object per line, the chunk's meeting events,
- `transcription-messages/<start>.txt` — the chunk's transcript events (live transcription).

`<start>` is the chunk's UTC start, `yyyy-mm-dd-hh-mm-ss-mmm`. Chunks are written as the
clock passes their end, only while someone is in the meeting, and at most `max_chunks`
per pipeline (a dev stack advanced by a day would otherwise write 17,280 of them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson

from chimesim import media
from chimesim.effects import PutObject
from chimesim.events import epoch_ms
from chimesim.state import CapturePipeline, Meeting

CHUNK = timedelta(seconds=5)


def chunk_name(at: datetime) -> str:
    return at.strftime("%Y-%m-%d-%H-%M-%S-") + f"{at.microsecond // 1000:03d}"


def write_until(
    pipeline: CapturePipeline, meeting: Meeting, until: datetime, *, final: bool, max_chunks: int
) -> list[PutObject]:
    """The objects for every chunk that ends by `until` (and, when the capture stops, the
    last partial one)."""
    start = pipeline.written_until or pipeline.created
    puts: list[PutObject] = []
    while start + CHUNK <= until:
        puts.extend(_chunk(pipeline, meeting, start, start + CHUNK, max_chunks, last=False))
        start = start + CHUNK
    if final:
        puts.extend(_chunk(pipeline, meeting, start, until, max_chunks, last=True))
        start = until
    pipeline.written_until = start
    return puts


def _chunk(
    pipeline: CapturePipeline,
    meeting: Meeting,
    start: datetime,
    end: datetime,
    max_chunks: int,
    *,
    last: bool,
) -> list[PutObject]:
    """One chunk's objects; the last chunk of a capture also takes what happened at its
    very end (CaptureEnded)."""

    def within(at: datetime) -> bool:
        return start <= at < end or (last and at == end)

    artifacts = _artifacts(pipeline)
    name = chunk_name(start)
    base = f"{pipeline.prefix}/" if pipeline.prefix else ""
    everyone = [*meeting.attendees.values(), *meeting.deleted_attendees.values()]
    present = [a for a in everyone if a.present_during(start, end)]
    puts: list[PutObject] = []
    if present and end > start and pipeline.chunks_written < max_chunks:
        pipeline.chunks_written += 1
        mux = artifacts.get("Audio", {}).get("MuxType", "AudioWithActiveSpeakerVideo")
        kind: media.ChunkKind = "audio" if mux == "AudioOnly" else "audio+video"
        puts.append(_media(pipeline, f"{base}audio/{name}.mp4", kind))
        if artifacts.get("Video", {}).get("State", "Enabled") == "Enabled":
            for attendee in present:
                if attendee.sends_video:
                    key = f"{base}video/{name}-{attendee.attendee_id}.mp4"
                    puts.append(_media(pipeline, key, "video"))
    events = [e for e in meeting.timeline[pipeline.timeline_start :] if within(e.at)]
    if events:
        lines = [
            {
                "Timestamp": _iso(e.at),
                "EventType": e.event_type,
                "EventParameters": e.parameters,
            }
            for e in events
        ]
        puts.append(_text(pipeline, f"{base}meeting-events/{name}.txt", lines))
    transcripts = [
        _transcript(line)
        for line in meeting.lines
        if within(line.at) and line.at >= pipeline.created
    ]
    statuses = [
        _status(at, kind, meeting)
        for at, kind in meeting.transcription_log
        if within(at) and at >= pipeline.created
    ]
    messages = sorted([*statuses, *[t for t in transcripts if t is not None]], key=_message_time)
    if messages:
        key = f"{base}transcription-messages/{name}.txt"
        puts.append(_text(pipeline, key, messages))
    return puts


def _artifacts(pipeline: CapturePipeline) -> dict[str, Any]:
    config = pipeline.request.get("ChimeSdkMeetingConfiguration", {})
    artifacts: dict[str, Any] = config.get("ArtifactsConfiguration", {})
    return artifacts


def _kms_key(pipeline: CapturePipeline) -> str | None:
    """The customer-managed key the pipeline's artifacts are encrypted with (SSE-KMS)."""
    params = pipeline.request.get("SseAwsKeyManagementParams") or {}
    key = params.get("AwsKmsKeyId")
    return str(key) if key else None


def _media(pipeline: CapturePipeline, key: str, kind: media.ChunkKind) -> PutObject:
    make: Callable[[], bytes] = lambda: media.chunk(kind)  # noqa: E731
    return PutObject(pipeline.bucket, key, make, "video/mp4", _kms_key(pipeline))


def _text(pipeline: CapturePipeline, key: str, lines: list[dict[str, Any]]) -> PutObject:
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    return PutObject(pipeline.bucket, key, lambda: body, "text/plain", _kms_key(pipeline))


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _message_time(message: dict[str, Any]) -> int:
    if "transcriptionStatus" in message:
        return int(message["transcriptionStatus"]["eventTimeMs"])
    return int(message["transcript"]["results"][0]["startTimeMs"])


def _status(at: datetime, kind: str, meeting: Meeting) -> dict[str, Any]:
    config = meeting.transcription or {}
    return {
        "transcriptionStatus": {
            "type": kind,
            "eventTimeMs": epoch_ms(at),
            "transcriptionRegion": config.get("Region", meeting.media_region),
            "transcriptionConfiguration": orjson.dumps(config).decode(),
        }
    }


def _transcript(line: Any) -> dict[str, Any] | None:
    """A spoken line as Chime's transcript event: one final result, one alternative, an item
    per word (0.4 s each) and per trailing punctuation mark."""
    if not line.transcribed:
        return None
    speaker = {"attendeeId": line.attendee_id, "externalUserId": line.external_user_id}
    begin = epoch_ms(line.at)
    items: list[dict[str, Any]] = []
    cursor = begin
    for word in line.text.split():
        stripped = word.rstrip(".,!?;:")
        if stripped:
            items.append(_item("pronunciation", stripped, cursor, cursor + 400, speaker))
            cursor += 400
        for mark in word[len(stripped) :]:
            items.append(_item("punctuation", mark, cursor, cursor, speaker))
    return {
        "transcript": {
            "results": [
                {
                    "resultId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{line.attendee_id}/{begin}")),
                    "channelId": "",
                    "isPartial": False,
                    "startTimeMs": begin,
                    "endTimeMs": cursor,
                    "alternatives": [{"items": items, "transcript": line.text}],
                }
            ]
        }
    }


def _item(kind: str, content: str, start: int, end: int, speaker: dict[str, str]) -> dict[str, Any]:
    return {
        "type": kind,
        "content": content,
        "startTimeMs": start,
        "endTimeMs": end,
        "attendee": speaker,
        "vocabularyFilterMatch": False,
        "confidence": 1.0,
        "stable": True,
    }
