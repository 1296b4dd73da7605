"""Tours as protobuf messages: the gRPC `Tour` and the `TourChanged` event payload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from realty.scheduling.v1 import scheduling_pb2

from scheduling.domain import Tour, TourEvent, TourStatus


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
