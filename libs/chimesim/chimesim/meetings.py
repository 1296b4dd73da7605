"""Chime SDK Meetings: meetings and attendees, their limits and their lifecycle.

A meeting ends when nobody has joined five minutes after it was created, five minutes after
the last attendee left, 24 hours after it was created, when it is deleted, or (a replica)
when its primary meeting ends; it is then
gone (NotFound) for every call. An attendee joins, leaves or drops through the control
endpoints, standing in for a client SDK connecting to the media service.

Limits: 250 attendees a meeting (or `MeetingFeatures.Attendee.MaxCount`), and 25 video
publishers — attendees in the meeting whose `Video` capability is `Send` or `SendReceive`.
A 26th joins without its video (as a client SDK hears "video at capacity"), and raising
an attendee in the meeting to sending video while 25 publish is a conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chimesim.errors import ServiceError, bad_request, not_found
from chimesim.events import MEETING_STATE_CHANGE
from chimesim.paging import page
from chimesim.placement import MEDIA_REGIONS, join_token, media_placement
from chimesim.state import (
    VIDEO_SENDING,
    Attendee,
    Meeting,
    Session,
    SpokenLine,
    TimelineEntry,
    World,
)

NOBODY_JOINED = timedelta(minutes=5)
EVERYONE_LEFT = timedelta(minutes=5)
LONGEST_MEETING = timedelta(hours=24)
MAX_ATTENDEES = 250
MAX_VIDEO_PUBLISHERS = 25
DEFAULT_CAPABILITIES = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}
RECEIVING = frozenset({"SendReceive", "Receive"})

EndListener = Callable[[Meeting, datetime], None]


class Meetings:
    def __init__(self, world: World, clock_now: Callable[[], datetime]) -> None:
        self.world = world
        self.now = clock_now
        self.end_listeners: list[EndListener] = []

    # -- lookups ------------------------------------------------------------------------
    def active(self, meeting_id: str) -> Meeting:
        meeting = self.world.meetings.get(meeting_id.lower())
        if meeting is None or not meeting.active:
            raise not_found(f"The meeting {meeting_id} is not found")
        return meeting

    def attendee(self, meeting: Meeting, attendee_id: str) -> Attendee:
        found = meeting.attendees.get(attendee_id.lower())
        if found is None:
            raise not_found(f"The attendee {attendee_id} is not found")
        return found

    # -- operations ---------------------------------------------------------------------
    def create_meeting(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Meeting": self._create(params).output}

    def create_meeting_with_attendees(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params["ClientRequestToken"]
        existing = self.world.meeting_tokens.get(token)
        meeting = self._create(params)
        if existing == meeting.meeting_id:
            wanted = {item["ExternalUserId"] for item in params["Attendees"]}
            attendees = [a for a in meeting.attendees.values() if a.external_user_id in wanted]
            return {"Meeting": meeting.output, "Attendees": [a.as_output() for a in attendees]}
        created, errors = self._batch(meeting, params["Attendees"])
        return {"Meeting": meeting.output, "Attendees": created, "Errors": errors}

    def get_meeting(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Meeting": self.active(params["MeetingId"]).output}

    def delete_meeting(self, params: dict[str, Any]) -> dict[str, Any]:
        self.end(self.active(params["MeetingId"]), self.now())
        return {}

    def create_attendee(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        return {"Attendee": self._add(meeting, params).as_output()}

    def batch_create_attendee(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        created, errors = self._batch(meeting, params["Attendees"])
        return {"Attendees": created, "Errors": errors}

    def get_attendee(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        return {"Attendee": self.attendee(meeting, params["AttendeeId"]).as_output()}

    def list_attendees(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        chosen, token = page(
            list(meeting.attendees.values()), params.get("MaxResults"), params.get("NextToken")
        )
        return {"Attendees": [a.as_output() for a in chosen], "NextToken": token}

    def delete_attendee(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        attendee = self.attendee(meeting, params["AttendeeId"])
        now = self.now()
        if attendee.present:
            self._leave(meeting, attendee, now, "chime:AttendeeLeft")
        del meeting.attendees[attendee.attendee_id]
        meeting.deleted_attendees[attendee.attendee_id] = attendee
        self._attendee_event(meeting, attendee, "chime:AttendeeDeleted", now)
        return {}

    def update_attendee_capabilities(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        attendee = self.attendee(meeting, params["AttendeeId"])
        capabilities = params["Capabilities"]
        self._check_capabilities(meeting, capabilities)
        sending = capabilities["Video"] in VIDEO_SENDING
        if attendee.present and sending and not attendee.publishing:
            if meeting.publishers() >= MAX_VIDEO_PUBLISHERS:
                raise ServiceError(
                    "ConflictException",
                    f"The meeting already has {MAX_VIDEO_PUBLISHERS} attendees sending video",
                )
            attendee.publishing = True
        elif not sending:
            attendee.publishing = False
        attendee.capabilities = dict(capabilities)
        return {"Attendee": attendee.as_output()}

    def start_meeting_transcription(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        config = params["TranscriptionConfiguration"]
        engine = config.get("EngineTranscribeSettings")
        medical = config.get("EngineTranscribeMedicalSettings")
        if (engine is None) == (medical is None):
            raise bad_request(
                "TranscriptionConfiguration needs exactly one of EngineTranscribeSettings "
                "and EngineTranscribeMedicalSettings"
            )
        if engine is not None and not (
            engine.get("LanguageCode") or engine.get("IdentifyLanguage")
        ):
            raise bad_request("EngineTranscribeSettings needs LanguageCode or IdentifyLanguage")
        settings = engine if engine is not None else medical
        meeting.transcription = dict(settings or {})
        meeting.transcription_log.append((self.now(), "started"))
        return {}

    def stop_meeting_transcription(self, params: dict[str, Any]) -> dict[str, Any]:
        meeting = self.active(params["MeetingId"])
        if meeting.transcription is not None:
            meeting.transcription_log.append((self.now(), "stopped"))
            meeting.transcription = None
        return {}

    # -- what a client SDK does (control endpoints) ---------------------------------------
    def join(self, meeting_id: str, attendee_id: str) -> Attendee:
        meeting = self.active(meeting_id)
        attendee = self.attendee(meeting, attendee_id)
        if not attendee.present:
            now = self.now()
            attendee.sessions.append(Session(joined=now))
            attendee.publishing = (
                attendee.sends_video and meeting.publishers() < MAX_VIDEO_PUBLISHERS
            )
            meeting.last_presence_change = now
            self._attendee_event(meeting, attendee, "chime:AttendeeJoined", now)
            self._timeline(meeting, attendee, "AttendeeJoined", now)
            if attendee.publishing:
                self._timeline(meeting, attendee, "AttendeeVideoJoined", now)
        return attendee

    def leave(self, meeting_id: str, attendee_id: str, *, dropped: bool) -> Attendee:
        meeting = self.active(meeting_id)
        attendee = self.attendee(meeting, attendee_id)
        if attendee.present:
            event = "chime:AttendeeDropped" if dropped else "chime:AttendeeLeft"
            self._leave(meeting, attendee, self.now(), event)
        return attendee

    def speak(self, meeting_id: str, attendee_id: str, text: str) -> SpokenLine:
        meeting = self.active(meeting_id)
        attendee = self.attendee(meeting, attendee_id)
        if not attendee.present:
            raise bad_request(f"The attendee {attendee_id} has not joined the meeting")
        line = SpokenLine(
            self.now(),
            attendee.attendee_id,
            attendee.external_user_id,
            text,
            transcribed=meeting.transcription is not None,
        )
        meeting.lines.append(line)
        return line

    # -- lifecycle ------------------------------------------------------------------------
    def expire(self, now: datetime) -> None:
        """End every meeting whose time is up, at the moment it was up."""
        for meeting in list(self.world.meetings.values()):
            if not meeting.active:
                continue
            due = meeting.created + LONGEST_MEETING
            if not meeting.ever_joined:
                due = min(due, meeting.created + NOBODY_JOINED)
            elif not meeting.present() and meeting.last_presence_change is not None:
                due = min(due, meeting.last_presence_change + EVERYONE_LEFT)
            if now >= due:
                self.end(meeting, due)

    def end(self, meeting: Meeting, at: datetime) -> None:
        for attendee in meeting.present():
            attendee.sessions[-1].left = at
            attendee.publishing = False
        for listener in self.end_listeners:
            listener(meeting, at)
        meeting.ended = at
        self.world.emit(
            MEETING_STATE_CHANGE, {"eventType": "chime:MeetingEnded", **meeting.event_fields()}, at
        )
        for replica in list(self.world.meetings.values()):
            if replica.active and replica.output.get("PrimaryMeetingId") == meeting.meeting_id:
                self.end(replica, at)

    # -- internals ------------------------------------------------------------------------
    def _create(self, params: dict[str, Any]) -> Meeting:
        token = params["ClientRequestToken"]
        existing = self.world.meeting_tokens.get(token)
        if existing is not None and self.world.meetings[existing].active:
            return self.world.meetings[existing]
        region = params["MediaRegion"]
        if region not in MEDIA_REGIONS:
            raise bad_request(f"MediaRegion {region} is not a Chime SDK media Region")
        now = self.now()
        meeting_id = str(uuid.uuid4())
        output: dict[str, Any] = {
            "MeetingId": meeting_id,
            "ExternalMeetingId": params["ExternalMeetingId"],
            "MediaRegion": region,
            "MediaPlacement": media_placement(meeting_id, region),
            "MeetingArn": f"arn:aws:chime:{self.world.region}:{self.world.account}:meeting/{meeting_id}",
        }
        for optional in ("MeetingHostId", "MeetingFeatures", "PrimaryMeetingId", "TenantIds"):
            if optional in params:
                output[optional] = params[optional]
        features = params.get("MeetingFeatures", {})
        meeting = Meeting(
            meeting_id=meeting_id,
            external_meeting_id=params["ExternalMeetingId"],
            media_region=region,
            created=now,
            output=output,
            max_attendees=features.get("Attendee", {}).get("MaxCount", MAX_ATTENDEES),
            client_request_token=token,
        )
        self.world.meetings[meeting_id] = meeting
        self.world.meeting_tokens[token] = meeting_id
        self.world.emit(
            MEETING_STATE_CHANGE,
            {"eventType": "chime:MeetingStarted", **meeting.event_fields()},
            now,
        )
        return meeting

    def _batch(
        self, meeting: Meeting, items: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        created: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in items:
            try:
                created.append(self._add(meeting, item).as_output())
            except ServiceError as exc:
                errors.append(
                    {
                        "ExternalUserId": item["ExternalUserId"],
                        "ErrorCode": exc.shape.removesuffix("Exception"),
                        "ErrorMessage": exc.message,
                    }
                )
        return created, errors

    def _add(self, meeting: Meeting, item: dict[str, Any]) -> Attendee:
        external = item["ExternalUserId"]
        for attendee in meeting.attendees.values():
            if attendee.external_user_id == external:
                return attendee
        requested = item.get("Capabilities")
        if requested is not None:
            self._check_capabilities(meeting, requested)
        capabilities = dict(requested or DEFAULT_CAPABILITIES)
        if len(meeting.attendees) >= meeting.max_attendees:
            raise ServiceError(
                "LimitExceededException",
                f"The meeting has reached its limit of {meeting.max_attendees} attendees",
            )
        attendee_id = str(uuid.uuid4())
        attendee = Attendee(attendee_id, external, join_token(attendee_id), capabilities)
        meeting.attendees[attendee_id] = attendee
        self._attendee_event(meeting, attendee, "chime:AttendeeAdded", self.now())
        return attendee

    def _check_capabilities(self, meeting: Meeting, capabilities: dict[str, str]) -> None:
        """Chime's documented corner cases: content can only be received or shared by an
        attendee who can receive video, and a meeting without video takes no video."""
        if capabilities["Content"] in RECEIVING and capabilities["Video"] not in RECEIVING:
            raise bad_request(
                "Content capabilities Receive or SendReceive need Video Receive or SendReceive"
            )
        features = meeting.output.get("MeetingFeatures", {})
        if (
            features.get("Video", {}).get("MaxResolution") == "None"
            and capabilities["Video"] != "None"
        ):
            raise bad_request("The meeting was created without video")

    def _leave(self, meeting: Meeting, attendee: Attendee, at: datetime, event: str) -> None:
        attendee.sessions[-1].left = at
        meeting.last_presence_change = at
        self._attendee_event(meeting, attendee, event, at)
        if attendee.publishing:
            self._timeline(meeting, attendee, "AttendeeVideoLeft", at)
            attendee.publishing = False
        self._timeline(meeting, attendee, "AttendeeLeft", at)

    def _attendee_event(
        self, meeting: Meeting, attendee: Attendee, event: str, at: datetime
    ) -> None:
        detail = {
            "eventType": event,
            **meeting.event_fields(),
            "attendeeId": attendee.attendee_id,
            "externalUserId": attendee.external_user_id,
        }
        if event == "chime:AttendeeJoined":
            detail["networkType"] = "Normal"
        self.world.emit(MEETING_STATE_CHANGE, detail, at)

    def _timeline(self, meeting: Meeting, attendee: Attendee, kind: str, at: datetime) -> None:
        parameters = {
            "MeetingId": meeting.meeting_id,
            "AttendeeId": attendee.attendee_id,
            "ExternalUserId": attendee.external_user_id,
        }
        meeting.timeline.append(TimelineEntry(at, kind, parameters))
