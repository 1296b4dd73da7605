"""Media's events as bus messages, and scheduling's tour events in media's terms.

`outgoing` is the one mapper the unit of work calls at commit for every new event of every
meeting it tracked (`Database(..., events=outgoing)`). `tour_from_event` reads the tour
out of scheduling's `TourChanged`, the payload of every `scheduling.tour.<verb>`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from realty.media.v1 import media_pb2 as pb
from realty.scheduling.v1 import scheduling_pb2
from servicekit.db import Outgoing

from media.domain import (
    AttendeeJoined,
    AttendeeLeft,
    DomainEvent,
    Meeting,
    MeetingEnded,
    MeetingStarted,
    Recording,
    RecordingAvailable,
    RecordingDeleted,
    RecordingEvent,
    RecordingFailed,
    RecordingStarted,
    RecordingStopped,
    Tour,
    TourStatus,
)

MEETING_STARTED = "media.meeting.started"
ATTENDEE_JOINED = "media.attendee.joined"
ATTENDEE_LEFT = "media.attendee.left"
MEETING_ENDED = "media.meeting.ended"
RECORDING_STARTED = "media.recording.started"
RECORDING_STOPPED = "media.recording.stopped"
RECORDING_AVAILABLE = "media.recording.available"
RECORDING_FAILED = "media.recording.failed"
RECORDING_DELETED = "media.recording.deleted"
# Everything media announces, for the live updates of a tour's call.
ALL_SUBJECTS = "media.>"


def _stamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def outgoing(aggregate: Meeting | Recording, event: DomainEvent | RecordingEvent) -> Outgoing:
    if isinstance(aggregate, Recording):
        return _recording(aggregate, event)
    return _meeting(aggregate, event)


def _recording(recording: Recording, event: DomainEvent | RecordingEvent) -> Outgoing:
    tour, rid = str(recording.tour_id), str(recording.id)
    match event:
        case RecordingStarted():
            started = pb.RecordingStarted(
                tour_id=tour,
                recording_id=rid,
                started_by=str(event.by),
                started_at=_stamp(event.at),
            )
            return Outgoing(
                RECORDING_STARTED, started, subject_id=tour, actor=event.by, time=event.at
            )
        case RecordingStopped():
            stopped = pb.RecordingStopped(
                tour_id=tour, recording_id=rid, stopped_at=_stamp(event.at)
            )
            return Outgoing(RECORDING_STOPPED, stopped, subject_id=tour, time=event.at)
        case RecordingAvailable():
            available = pb.RecordingAvailable(
                tour_id=tour,
                recording_id=rid,
                available_at=_stamp(event.at),
                duration_seconds=event.duration_seconds,
                realtor_id=str(recording.realtor_id),
                listing_id=str(recording.listing_id),
            )
            return Outgoing(RECORDING_AVAILABLE, available, subject_id=tour, time=event.at)
        case RecordingFailed():
            failed = pb.RecordingFailed(tour_id=tour, recording_id=rid, failed_at=_stamp(event.at))
            return Outgoing(RECORDING_FAILED, failed, subject_id=tour, time=event.at)
        case RecordingDeleted():
            deleted = pb.RecordingDeleted(
                tour_id=tour, recording_id=rid, deleted_at=_stamp(event.at), reason=event.reason
            )
            return Outgoing(RECORDING_DELETED, deleted, subject_id=tour, time=event.at)
    raise TypeError(f"no message for {event!r}")


def _meeting(meeting: Meeting, event: DomainEvent | RecordingEvent) -> Outgoing:
    tour = str(meeting.tour_id)
    match event:
        case MeetingStarted():
            payload: pb.MeetingStarted | pb.AttendeeJoined | pb.AttendeeLeft | pb.MeetingEnded = (
                pb.MeetingStarted(
                    tour_id=tour, meeting_id=event.meeting_id, started_at=_stamp(event.at)
                )
            )
            return Outgoing(MEETING_STARTED, payload, subject_id=tour, time=event.at)
        case AttendeeJoined():
            payload = pb.AttendeeJoined(
                tour_id=tour,
                meeting_id=event.meeting_id,
                user_id=str(event.user_id),
                first=event.first,
                joined_at=_stamp(event.at),
                attendee_id=event.attendee_id,
            )
            return Outgoing(
                ATTENDEE_JOINED, payload, subject_id=tour, actor=event.user_id, time=event.at
            )
        case AttendeeLeft():
            payload = pb.AttendeeLeft(
                tour_id=tour,
                meeting_id=event.meeting_id,
                user_id=str(event.user_id),
                attendee_id=event.attendee_id,
                left_at=_stamp(event.at),
                seconds_present=event.seconds,
                last=event.last,
            )
            return Outgoing(
                ATTENDEE_LEFT, payload, subject_id=tour, actor=event.user_id, time=event.at
            )
        case MeetingEnded():
            payload = pb.MeetingEnded(
                tour_id=tour,
                meeting_id=event.meeting_id,
                ended_at=_stamp(event.at),
                duration_seconds=event.duration_seconds,
                attendee_minutes=event.attendee_minutes,
            )
            return Outgoing(MEETING_ENDED, payload, subject_id=tour, time=event.at)
    raise TypeError(f"no message for {event!r}")


def tour_status(value: int) -> TourStatus | None:
    name = scheduling_pb2.TourStatus.Name(scheduling_pb2.TourStatus.ValueType(value))
    try:
        return TourStatus(name.removeprefix("TOUR_STATUS_"))
    except ValueError:
        return None


def tour_from_event(changed: scheduling_pb2.TourChanged) -> Tour | None:
    """The tour as the event carried it; None when the payload does not describe one."""
    message = changed.tour
    status = tour_status(message.status)
    try:
        ids = [
            uuid.UUID(v)
            for v in (message.id, message.listing_id, message.buyer_id, message.realtor_id)
        ]
    except ValueError:
        return None
    if status is None:
        return None
    return Tour(
        id=ids[0],
        listing_id=ids[1],
        buyer_id=ids[2],
        realtor_id=ids[3],
        status=status,
        starts_at=message.starts_at.ToDatetime(tzinfo=UTC),
        ends_at=message.ends_at.ToDatetime(tzinfo=UTC),
        sequence=message.sequence,
    )
