"""gRPC `realty.listings.v1.Listings` through a real grpc.aio server."""

from __future__ import annotations

import uuid

import pytest
from listings.domain import ListingChanges, ListingStatus
from listings.rpc import ACCESS, ListingsServicer
from realty.listings.v1 import listings_pb2, listings_pb2_grpc
from servicekit.auth import Principal, Role
from servicekit.embedded import free_port
from servicekit.errors import BadUserInput, NotFound
from servicekit.grpc import GrpcServer, call, client_channel


@pytest.fixture
async def stub(db, queries, grpc_authority, token_issuer):
    port = free_port()
    servicer = ListingsServicer(queries)
    verifier = token_issuer.verifier()
    server = GrpcServer(
        host="127.0.0.1",
        port=port,
        registrations=[lambda s: listings_pb2_grpc.add_ListingsServicer_to_server(servicer, s)],
        service_names=["realty.listings.v1.Listings"],
        readiness=db.ping,
        tls=grpc_authority.material("listings"),
        access=[ACCESS],
        verifier=verifier,
    )
    await server.start()
    channel = client_channel(
        f"127.0.0.1:{port}",
        tls=grpc_authority.material("scheduling"),
        server_name="listings",
        retry_services=["realty.listings.v1.Listings"],
    )
    try:
        yield listings_pb2_grpc.ListingsStub(channel)
    finally:
        await channel.close()
        await server.stop(grace=0)
        await verifier.aclose()


async def test_get_listing_returns_any_status_with_time_zone(stub, service, details):
    owner = Principal(uuid.uuid4(), Role.REALTOR)
    listing = await service.create(
        owner, details("Quiet cul-de-sac home"), status=ListingStatus.ACTIVE
    )
    withdrawn = await service.update(
        owner, listing.id, ListingChanges(status=ListingStatus.WITHDRAWN)
    )
    reply = await call(
        stub.GetListing, listings_pb2.GetListingRequest(id=str(listing.id)), timeout=5
    )
    assert reply.id == str(listing.id)
    assert reply.title == "Quiet cul-de-sac home"
    assert reply.status == listings_pb2.LISTING_STATUS_WITHDRAWN
    assert reply.realtor_id == str(owner.user_id)
    assert reply.time_zone == "America/Los_Angeles"
    assert reply.address.city == "Portland" and reply.address.state == "OR"
    assert reply.slug == listing.slug
    assert reply.updated_at.ToDatetime() == withdrawn.updated_at.replace(tzinfo=None)


async def test_get_listing_errors(stub):
    with pytest.raises(NotFound):
        await call(stub.GetListing, listings_pb2.GetListingRequest(id=str(uuid.uuid4())), timeout=5)
    with pytest.raises(BadUserInput):
        await call(stub.GetListing, listings_pb2.GetListingRequest(id="nope"), timeout=5)


async def test_batch_get_listings_skips_unknown_ids(stub, service, details):
    owner = Principal(uuid.uuid4(), Role.REALTOR)
    a = await service.create(owner, details("First"), status=ListingStatus.ACTIVE)
    b = await service.create(owner, details("Second"), status=ListingStatus.DRAFT)
    reply = await call(
        stub.BatchGetListings,
        listings_pb2.BatchGetListingsRequest(ids=[str(a.id), str(uuid.uuid4()), str(b.id)]),
        timeout=5,
    )
    assert {m.id: m.title for m in reply.listings} == {str(a.id): "First", str(b.id): "Second"}
    with pytest.raises(BadUserInput):
        await call(
            stub.BatchGetListings,
            listings_pb2.BatchGetListingsRequest(ids=[str(uuid.uuid4())] * 501),
            timeout=5,
        )
