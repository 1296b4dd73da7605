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
    Tour,
    TourStatus,
)

MEETING_STARTED = "media.meeting.started"
ATTENDEE_JOINED = "media.attendee.joined"
ATTENDEE_LEFT = "media.attendee.left"
MEETING_ENDED = "media.meeting.ended"


def _stamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def outgoing(meeting: Meeting, event: DomainEvent) -> Outgoing:
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
