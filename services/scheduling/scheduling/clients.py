"""What scheduling asks other services over gRPC: listings and users.

Every call has a deadline; a service that cannot be reached becomes an UNAVAILABLE error
naming it, so the caller learns which dependency failed instead of seeing a timeout. The
channels are mutual TLS: scheduling proves itself with its certificate and checks that the
peer's names the service it meant to reach; the user being served travels as their token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from realty.identity.v1 import identity_pb2, identity_pb2_grpc
from realty.listings.v1 import listings_pb2, listings_pb2_grpc
from servicekit.errors import NotFound, Unavailable
from servicekit.grpc import call, client_channel
from servicekit.tls import TlsMaterial

from scheduling.domain import ListingStatus
from scheduling.events import listing_status

IDENTITY_SERVICE = "realty.identity.v1.Identity"
LISTINGS_SERVICE = "realty.listings.v1.Listings"
# The most ids listings answers in one BatchGetListings call.
LISTINGS_BATCH = 500


@dataclass(frozen=True, slots=True)
class ListingInfo:
    id: uuid.UUID
    realtor_id: uuid.UUID
    status: ListingStatus
    title: str
    location: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: uuid.UUID
    email: str
    display_name: str
    role: str
    time_zone: str
    deleted: bool


def _one_line(address: listings_pb2.Address) -> str:
    street = f"{address.street} {address.unit}".strip()
    parts = [
        street,
        address.city,
        f"{address.state} {address.postal_code}".strip(),
        address.country,
    ]
    return ", ".join(p for p in parts if p)


def _listing_info(found: listings_pb2.Listing) -> ListingInfo:
    return ListingInfo(
        id=uuid.UUID(found.id),
        realtor_id=uuid.UUID(found.realtor_id),
        status=listing_status(found.status),
        title=found.title,
        location=_one_line(found.address),
        time_zone=found.time_zone,
    )


async def _guarded(service: str, method: Any, request: Any, timeout: float) -> Any:
    try:
        return await call(method, request, timeout=timeout)
    except Unavailable:
        raise Unavailable(
            f"the {service} service is unavailable; try again shortly", service=service
        ) from None


class ListingsClient:
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self.stub = listings_pb2_grpc.ListingsStub(channel)
        self.timeout = timeout

    async def get(self, listing_id: uuid.UUID) -> ListingInfo:
        try:
            found = await _guarded(
                "listings",
                self.stub.GetListing,
                listings_pb2.GetListingRequest(id=str(listing_id)),
                self.timeout,
            )
        except NotFound:
            raise NotFound("listing not found", field="listingId") from None
        return _listing_info(found)

    async def many(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ListingInfo]:
        """Several listings, one `BatchGetListings` call per `LISTINGS_BATCH` of them; an id
        listings does not know is absent from the answer."""
        wanted = sorted({str(i) for i in ids})
        found: dict[uuid.UUID, ListingInfo] = {}
        for start in range(0, len(wanted), LISTINGS_BATCH):
            answer = await _guarded(
                "listings",
                self.stub.BatchGetListings,
                listings_pb2.BatchGetListingsRequest(ids=wanted[start : start + LISTINGS_BATCH]),
                self.timeout,
            )
            for listing in answer.listings:
                info = _listing_info(listing)
                found[info.id] = info
        return found


class IdentityClient:
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self.stub = identity_pb2_grpc.IdentityStub(channel)
        self.timeout = timeout

    async def users(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, UserInfo]:
        wanted = sorted({str(i) for i in ids})
        if not wanted:
            return {}
        found = await _guarded(
            "identity",
            self.stub.BatchGetUsers,
            identity_pb2.BatchGetUsersRequest(ids=wanted),
            self.timeout,
        )
        users: dict[uuid.UUID, UserInfo] = {}
        for user in found.users:
            try:
                key = uuid.UUID(user.id)
            except ValueError:
                continue
            users[key] = UserInfo(
                id=key,
                email=user.email,
                display_name=user.display_name,
                role=identity_pb2.Role.Name(user.role).removeprefix("ROLE_"),
                time_zone=user.time_zone,
                deleted=user.deleted,
            )
        return users


@dataclass
class Directory:
    """The other services scheduling talks to, with the channels to close at shutdown."""

    listings: ListingsClient
    identity: IdentityClient
    channels: list[grpc.aio.Channel]

    @classmethod
    def connect(
        cls, *, listings_target: str, identity_target: str, timeout: float, tls: TlsMaterial
    ) -> Directory:
        listings_channel = client_channel(
            listings_target, tls=tls, server_name="listings", retry_services=[LISTINGS_SERVICE]
        )
        identity_channel = client_channel(
            identity_target, tls=tls, server_name="identity", retry_services=[IDENTITY_SERVICE]
        )
        return cls(
            listings=ListingsClient(listings_channel, timeout=timeout),
            identity=IdentityClient(identity_channel, timeout=timeout),
            channels=[listings_channel, identity_channel],
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
