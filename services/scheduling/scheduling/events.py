"""Scheduling's domain events as bus messages, and other services' messages in its terms.

`outgoing` is the one mapper the unit of work calls at commit for every new event of every
tour it tracked (`Database(..., events=outgoing)`): a `TourEvent` leaves as
`scheduling.tour.<verb>` with a `TourChanged` payload carrying the tour as committed. No
use case hands events over by hand. The same `Tour` message answers gRPC calls, so its
mapping lives here once; incoming messages (listing statuses, tours carried by events) are
turned back into the domain's words here too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from realty.listings.v1 import listings_pb2
from realty.scheduling.v1 import scheduling_pb2
from servicekit.db import Outgoing

from scheduling.domain import ListingStatus, Tour, TourEvent, TourStatus, Verb

SUBJECT = "scheduling.tour.{verb}"
ALL_TOUR_SUBJECTS = "scheduling.tour.>"


def outgoing(tour: Tour, event: TourEvent) -> Outgoing:
    """The message announcing `event` of `tour`."""
    return Outgoing(
        SUBJECT.format(verb=event.verb.value),
        tour_changed(tour, event),
        subject_id=tour.id,
        actor=event.actor_id,
        time=event.at,
    )


def verb_of(subject: str) -> Verb | None:
    """The verb a tour event's subject ends with; None for a subject this version does not know."""
    try:
        return Verb(subject.rsplit(".", 1)[-1])
    except ValueError:
        return None


def listing_status(value: int) -> ListingStatus:
    """A listing status as listings sends it (events and gRPC alike)."""
    name = listings_pb2.ListingStatus.Name(
        listings_pb2.ListingStatus.ValueType(value)
    ).removeprefix("LISTING_STATUS_")
    try:
        return ListingStatus(name)
    except ValueError:
        return ListingStatus.UNKNOWN


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def status_to_proto(status: TourStatus | None) -> int:
    if status is None:
        return scheduling_pb2.TOUR_STATUS_UNSPECIFIED
    return int(scheduling_pb2.TourStatus.Value(f"TOUR_STATUS_{status.value}"))


def status_from_proto(value: int) -> TourStatus | None:
    name = scheduling_pb2.TourStatus.Name(scheduling_pb2.TourStatus.ValueType(value)).removeprefix(
        "TOUR_STATUS_"
    )
    return None if name == "UNSPECIFIED" else TourStatus(name)


def tour_to_proto(tour: Tour) -> scheduling_pb2.Tour:
    return scheduling_pb2.Tour(
        id=str(tour.id),
        listing_id=str(tour.listing_id),
        buyer_id=str(tour.buyer_id),
        realtor_id=str(tour.realtor_id),
        status=status_to_proto(tour.status),  # type: ignore[arg-type]
        starts_at=timestamp(tour.starts_at),
        ends_at=timestamp(tour.ends_at),
        time_zone=tour.time_zone,
        updated_at=timestamp(tour.updated_at),
        sequence=tour.sequence,
        listing_title=tour.listing_title,
        location=tour.location,
        note=tour.note or "",
        status_reason=tour.status_reason or "",
        created_at=timestamp(tour.created_at),
    )


def tour_from_proto(message: scheduling_pb2.Tour) -> Tour:
    """The tour as an event carried it (for live updates; history is not included)."""
    status = status_from_proto(message.status) or TourStatus.REQUESTED
    return Tour(
        id=uuid.UUID(message.id),
        listing_id=uuid.UUID(message.listing_id),
        buyer_id=uuid.UUID(message.buyer_id),
        realtor_id=uuid.UUID(message.realtor_id),
        status=status,
        starts_at=message.starts_at.ToDatetime(tzinfo=UTC),
        ends_at=message.ends_at.ToDatetime(tzinfo=UTC),
        time_zone=message.time_zone,
        buffer_minutes=0,
        created_at=message.created_at.ToDatetime(tzinfo=UTC),
        updated_at=message.updated_at.ToDatetime(tzinfo=UTC),
        note=message.note or None,
        status_reason=message.status_reason or None,
        sequence=message.sequence,
        listing_title=message.listing_title,
        location=message.location,
    )


def tour_changed(tour: Tour, event: TourEvent) -> scheduling_pb2.TourChanged:
    payload = scheduling_pb2.TourChanged(
        tour=tour_to_proto(tour),
        from_status=status_to_proto(event.from_status),  # type: ignore[arg-type]
        to_status=status_to_proto(event.to_status),  # type: ignore[arg-type]
        reason=event.reason or "",
        actor_id=str(event.actor_id) if event.actor_id else "",
    )
    if event.previous_starts_at is not None:
        payload.previous_starts_at.CopyFrom(timestamp(event.previous_starts_at))
    return payload
