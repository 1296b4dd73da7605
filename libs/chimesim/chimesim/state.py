"""The emulator's records: meetings, attendees, pipelines, and the world that holds them.

Plain dataclasses; the rules live in `meetings`, `pipelines` and `capture`. `World` also
collects the effects (events, S3 objects) that a change asks for, in order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chimesim import events
from chimesim.effects import Effect, PublishEvent

VIDEO_SENDING = frozenset({"Send", "SendReceive"})


@dataclass
class Session:
    joined: datetime
    left: datetime | None = None


@dataclass
class Attendee:
    attendee_id: str
    external_user_id: str
    join_token: str
    capabilities: dict[str, str]
    sessions: list[Session] = field(default_factory=list)
    # Sending video now: joined with a video-sending capability, within the meeting's cap.
    publishing: bool = False

    @property
    def present(self) -> bool:
        return bool(self.sessions) and self.sessions[-1].left is None

    @property
    def sends_video(self) -> bool:
        return self.capabilities.get("Video") in VIDEO_SENDING

    def present_during(self, start: datetime, end: datetime) -> bool:
        return any(s.joined < end and (s.left is None or s.left > start) for s in self.sessions)

    def as_output(self) -> dict[str, Any]:
        return {
            "AttendeeId": self.attendee_id,
            "ExternalUserId": self.external_user_id,
            "JoinToken": self.join_token,
            "Capabilities": dict(self.capabilities),
        }


@dataclass(frozen=True)
class TimelineEntry:
    """A meeting event as a capture pipeline records it in `meeting-events/`."""

    at: datetime
    event_type: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class SpokenLine:
    at: datetime
    attendee_id: str
    external_user_id: str
    text: str
    transcribed: bool


@dataclass
class Meeting:
    meeting_id: str
    external_meeting_id: str
    media_region: str
    created: datetime
    output: dict[str, Any]
    max_attendees: int
    client_request_token: str
    attendees: dict[str, Attendee] = field(default_factory=dict)
    deleted_attendees: dict[str, Attendee] = field(default_factory=dict)
    ended: datetime | None = None
    last_presence_change: datetime | None = None
    transcription: dict[str, Any] | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    lines: list[SpokenLine] = field(default_factory=list)
    transcription_log: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.ended is None

    @property
    def ever_joined(self) -> bool:
        return self.last_presence_change is not None

    def present(self) -> list[Attendee]:
        return [a for a in self.attendees.values() if a.present]

    def publishers(self) -> int:
        return sum(1 for a in self.attendees.values() if a.publishing)

    def event_fields(self) -> dict[str, Any]:
        return {
            "meetingId": self.meeting_id,
            "externalMeetingId": self.external_meeting_id,
            "mediaRegion": self.media_region,
        }


@dataclass
class CapturePipeline:
    pipeline_id: str
    arn: str
    meeting_id: str
    created: datetime
    updated: datetime
    request: dict[str, Any]
    bucket: str
    prefix: str
    status: str = "InProgress"
    written_until: datetime | None = None
    chunks_written: int = 0
    deleted: bool = False
    # Where the meeting's timeline stood when the capture began: it records what follows.
    timeline_start: int = 0

    def as_output(self) -> dict[str, Any]:
        output = {
            "MediaPipelineId": self.pipeline_id,
            "MediaPipelineArn": self.arn,
            "SourceType": self.request["SourceType"],
            "SourceArn": self.request["SourceArn"],
            "SinkType": self.request["SinkType"],
            "SinkArn": self.request["SinkArn"],
            "Status": self.status,
            "CreatedTimestamp": self.created,
            "UpdatedTimestamp": self.updated,
        }
        for optional in ("ChimeSdkMeetingConfiguration", "SseAwsKeyManagementParams"):
            if optional in self.request:
                output[optional] = self.request[optional]
        if "SinkIamRoleArn" in self.request:
            output["SinkIamRoleArn"] = self.request["SinkIamRoleArn"]
        return output


@dataclass
class ConcatenationPipeline:
    pipeline_id: str
    arn: str
    meeting_id: str
    created: datetime
    updated: datetime
    request: dict[str, Any]
    status: str = "InProgress"
    deleted: bool = False

    def as_output(self) -> dict[str, Any]:
        return {
            "MediaPipelineId": self.pipeline_id,
            "MediaPipelineArn": self.arn,
            "Sources": self.request["Sources"],
            "Sinks": self.request["Sinks"],
            "Status": self.status,
            "CreatedTimestamp": self.created,
            "UpdatedTimestamp": self.updated,
        }


Pipeline = CapturePipeline | ConcatenationPipeline


@dataclass
class World:
    """All records of one emulated account and region, and the effects not yet carried out."""

    account: str
    region: str
    meetings: dict[str, Meeting] = field(default_factory=dict)
    meeting_tokens: dict[str, str] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    pipeline_tokens: dict[str, str] = field(default_factory=dict)
    effects: list[Effect] = field(default_factory=list)
    recent_events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=500))

    def emit(self, detail_type: str, detail: dict[str, Any], at: datetime) -> None:
        body = events.envelope(detail_type, detail, at=at, account=self.account, region=self.region)
        self.recent_events.append(body)
        self.effects.append(PublishEvent(body))

    def drain(self) -> list[Effect]:
        taken, self.effects = self.effects, []
        return taken
