"""Chime's events as EventBridge delivers them (to SQS): the envelope read into a signal.

An event is "Chime Meeting State Change" with `detail.eventType` such as
`chime:AttendeeJoined`; its `id` is EventBridge's, unique per event, which is what makes
handling idempotent. "Chime Media Pipeline State Change" events tell how a recording's
capture and concatenation pipelines went.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

MEETING_STATE_CHANGE = "Chime Meeting State Change"
PIPELINE_STATE_CHANGE = "Chime Media Pipeline State Change"
# EventBridge ids are UUIDs; anything else is mapped into one deterministically.
_NAMESPACE = uuid.UUID("7d9b1f5e-0c1a-4d55-9d2c-3f1e6a0b9c11")


class Kind(StrEnum):
    MEETING_STARTED = "MeetingStarted"
    MEETING_ENDED = "MeetingEnded"
    ATTENDEE_JOINED = "AttendeeJoined"
    ATTENDEE_LEFT = "AttendeeLeft"
    ATTENDEE_DROPPED = "AttendeeDropped"
    ATTENDEE_DELETED = "AttendeeDeleted"


class PipelineKind(StrEnum):
    IN_PROGRESS = "MediaPipelineInProgress"
    DELETED = "MediaPipelineDeleted"  # stopped: a capture deleted, a concatenation done
    FAILED = "MediaPipelinePermanentFailure"


@dataclass(frozen=True, slots=True)
class PipelineSignal:
    id: uuid.UUID
    kind: PipelineKind
    pipeline_id: str
    meeting_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChimeSignal:
    id: uuid.UUID
    kind: Kind
    meeting_id: str
    at: datetime
    attendee_id: str | None = None
    external_user_id: str | None = None
    external_meeting_id: str | None = None


def _event_id(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return uuid.uuid5(_NAMESPACE, str(value))


def _instant(detail: dict[str, Any], envelope: dict[str, Any]) -> datetime:
    stamp = detail.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp / 1000, tz=UTC)
    when = envelope.get("time")
    if isinstance(when, str):
        parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("the event has no time")


def parse(body: str) -> ChimeSignal | PipelineSignal | None:
    """The signal in an SQS message body; None for anything that is not one (other event
    types, other detail types). Malformed JSON raises ValueError."""
    envelope = json.loads(body)
    if not isinstance(envelope, dict):
        return None
    detail = envelope.get("detail")
    if not isinstance(detail, dict):
        return None
    if envelope.get("detail-type") == PIPELINE_STATE_CHANGE:
        return _pipeline(envelope, detail)
    if envelope.get("detail-type") != MEETING_STATE_CHANGE:
        return None
    try:
        kind = Kind(str(detail.get("eventType", "")).removeprefix("chime:"))
    except ValueError:
        return None
    meeting_id = detail.get("meetingId")
    if not isinstance(meeting_id, str) or not meeting_id:
        return None

    def text(name: str) -> str | None:
        value = detail.get(name)
        return value if isinstance(value, str) and value else None

    return ChimeSignal(
        id=_event_id(envelope.get("id")),
        kind=kind,
        meeting_id=meeting_id,
        at=_instant(detail, envelope),
        attendee_id=text("attendeeId"),
        external_user_id=text("externalUserId"),
        external_meeting_id=text("externalMeetingId"),
    )


def _pipeline(envelope: dict[str, Any], detail: dict[str, Any]) -> PipelineSignal | None:
    try:
        kind = PipelineKind(str(detail.get("eventType", "")).removeprefix("chime:"))
    except ValueError:
        return None
    pipeline_id, meeting_id = detail.get("mediaPipelineId"), detail.get("meetingId")
    if not isinstance(pipeline_id, str) or not isinstance(meeting_id, str):
        return None
    return PipelineSignal(
        id=_event_id(envelope.get("id")),
        kind=kind,
        pipeline_id=pipeline_id,
        meeting_id=meeting_id,
        at=_instant(detail, envelope),
    )
