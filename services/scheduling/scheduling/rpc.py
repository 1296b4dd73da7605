"""gRPC `realty.scheduling.v1.Scheduling`: tours for other services (media authorises joins)."""

from __future__ import annotations

import uuid
from datetime import UTC

import grpc
from realty.scheduling.v1 import scheduling_pb2, scheduling_pb2_grpc
from servicekit.access import Access, allow
from servicekit.errors import BadUserInput, NotFound, parse_id
from servicekit.pagination import decode_cursor, encode_cursor

from scheduling.events import status_from_proto, tour_to_proto
from scheduling.queries import TourQueries, tour_key

MAX_PAGE = 500
DEFAULT_PAGE = 100

# Media asks whether a user may join a tour's meeting before letting them in.
ACCESS = Access(
    "realty.scheduling.v1.Scheduling",
    {
        "GetTour": allow("media"),
        "ListTours": allow("media"),
    },
)


def _uuid(value: str, name: str) -> uuid.UUID | None:
    """An optional id field of a request: empty means absent."""
    return parse_id(value, name) if value else None


class SchedulingServicer(scheduling_pb2_grpc.SchedulingServicer):
    def __init__(self, queries: TourQueries) -> None:
        self.queries = queries

    async def GetTour(
        self, request: scheduling_pb2.GetTourRequest, context: grpc.aio.ServicerContext
    ) -> scheduling_pb2.Tour:
        tour_id = _uuid(request.id, "id")
        found = await self.queries.by_ids([tour_id]) if tour_id else {}
        tour = found.get(tour_id) if tour_id else None
        if tour is None:
            raise NotFound("tour not found")
        return tour_to_proto(tour)

    async def ListTours(
        self, request: scheduling_pb2.ListToursRequest, context: grpc.aio.ServicerContext
    ) -> scheduling_pb2.ListToursResponse:
        if request.page_size < 0 or request.page_size > MAX_PAGE:
            raise BadUserInput(f"page_size must be between 0 and {MAX_PAGE}")
        limit = request.page_size or DEFAULT_PAGE
        statuses = [s for s in map(status_from_proto, request.statuses) if s is not None]
        rows = await self.queries.search(
            listing_id=_uuid(request.listing_id, "listing_id"),
            participant_id=_uuid(request.participant_id, "participant_id"),
            statuses=statuses,
            starts_after=request.starts_after.ToDatetime(tzinfo=UTC)
            if request.HasField("starts_after")
            else None,
            starts_before=request.starts_before.ToDatetime(tzinfo=UTC)
            if request.HasField("starts_before")
            else None,
            limit=limit,
            after=decode_cursor(request.page_token or None),
        )
        page = rows[:limit]
        return scheduling_pb2.ListToursResponse(
            tours=[tour_to_proto(t) for t in page],
            next_page_token=encode_cursor(tour_key(page[-1])) if len(rows) > limit else "",
        )
