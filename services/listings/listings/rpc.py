"""gRPC `realty.listings.v1.Listings`: what other services ask about listings.

Callers are services on the allow-list below, so every status is returned (scheduling
must know a listing was withdrawn); the public visibility rules apply to GraphQL only.
"""

from __future__ import annotations

import uuid

import grpc
from realty.listings.v1 import listings_pb2, listings_pb2_grpc
from servicekit.access import Access, allow
from servicekit.errors import BadUserInput, NotFound, parse_id

from listings.events import listing_message
from listings.queries import ListingQueries

MAX_BATCH = 500

ACCESS = Access(
    "realty.listings.v1.Listings",
    {
        "GetListing": allow("scheduling"),
        "BatchGetListings": allow("scheduling"),
    },
)


class ListingsServicer(listings_pb2_grpc.ListingsServicer):
    def __init__(self, queries: ListingQueries) -> None:
        self.queries = queries

    async def GetListing(
        self, request: listings_pb2.GetListingRequest, context: grpc.aio.ServicerContext
    ) -> listings_pb2.Listing:
        listing_id = parse_id(request.id, "id")
        found = await self.queries.by_ids([listing_id])
        if listing_id not in found:
            raise NotFound(f"listing {request.id} not found")
        return listing_message(found[listing_id])

    async def BatchGetListings(
        self, request: listings_pb2.BatchGetListingsRequest, context: grpc.aio.ServicerContext
    ) -> listings_pb2.BatchGetListingsResponse:
        if len(request.ids) > MAX_BATCH:
            raise BadUserInput(f"at most {MAX_BATCH} ids per call", field="ids")
        ids: list[uuid.UUID] = [parse_id(i, "ids") for i in request.ids]
        found = await self.queries.by_ids(ids)
        return listings_pb2.BatchGetListingsResponse(
            listings=[listing_message(listing) for listing in found.values()]
        )
