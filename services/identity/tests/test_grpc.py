"""gRPC `realty.identity.v1.Identity` through a real grpc.aio server on a free port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from identity.rpc import ACCESS, IdentityServicer
from realty.identity.v1 import identity_pb2 as pb
from realty.identity.v1 import identity_pb2_grpc as pb_grpc
from servicekit.embedded import free_port
from servicekit.errors import BadUserInput, Forbidden, NotFound
from servicekit.grpc import GrpcServer, call, client_channel
from servicekit.tls import DevAuthority

from .conftest import Identity


@pytest_asyncio.fixture(loop_scope="session")
async def server(identity: Identity, grpc_authority: DevAuthority) -> AsyncIterator[GrpcServer]:
    servicer = IdentityServicer(identity.queries)
    verifier = identity.verifier()  # identity's own tokens, as its callers forward them
    server = GrpcServer(
        host="127.0.0.1",
        port=free_port(),
        registrations=[lambda s: pb_grpc.add_IdentityServicer_to_server(servicer, s)],
        service_names=["realty.identity.v1.Identity"],
        readiness=identity.db.ping,
        tls=grpc_authority.material("identity"),
        access=[ACCESS],
        verifier=verifier,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0)
        await verifier.aclose()


def identity_stub(
    server: GrpcServer, authority: DevAuthority, caller: str
) -> tuple[grpc.aio.Channel, pb_grpc.IdentityStub]:
    channel = client_channel(
        f"127.0.0.1:{server.port}", tls=authority.material(caller), server_name="identity"
    )
    return channel, pb_grpc.IdentityStub(channel)


@pytest_asyncio.fixture(loop_scope="session")
async def stub(
    server: GrpcServer, grpc_authority: DevAuthority
) -> AsyncIterator[pb_grpc.IdentityStub]:
    channel, stub = identity_stub(server, grpc_authority, "scheduling")
    try:
        yield stub
    finally:
        await channel.close()


async def test_personal_data_only_for_the_services_that_mail_people(
    identity: Identity, server: GrpcServer, grpc_authority: DevAuthority
) -> None:
    registered = await identity.register(role="REALTOR")
    user = registered["user"]
    await identity.ok(
        "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { id } }",
        {"input": {"realtorProfile": {"brokerage": "Harbor Homes", "licenseNumber": "RE-4471"}}},
        token=registered["accessToken"],
    )
    channel, analytics = identity_stub(server, grpc_authority, "analytics")
    async with channel:
        with pytest.raises(Forbidden, match="analytics may not call"):
            await call(
                analytics.BatchGetUsers, pb.BatchGetUsersRequest(ids=[user["id"]]), timeout=2.0
            )
        with pytest.raises(Forbidden):
            await call(analytics.GetUser, pb.GetUserRequest(id=user["id"]), timeout=2.0)
    # listings shows realtors' public profiles on its pages: the public fields, nothing else
    channel, listings = identity_stub(server, grpc_authority, "listings")
    async with channel:
        found = await call(listings.GetUser, pb.GetUserRequest(id=user["id"]), timeout=2.0)
        batch = await call(
            listings.BatchGetUsers, pb.BatchGetUsersRequest(ids=[user["id"]]), timeout=2.0
        )
    for public in (found, *batch.users):
        assert public.display_name == "Test Person" and public.role == pb.ROLE_REALTOR
        assert public.email == "" and public.phone == "" and not public.email_verified
        # the realtor's public profile, as `User.realtorProfile` shows it to anyone
        assert public.realtor.brokerage == "Harbor Homes"
        assert public.realtor.license_number == "RE-4471" and not public.realtor.verified


async def test_get_user_and_batch(identity: Identity, stub: pb_grpc.IdentityStub) -> None:
    a = (await identity.register(role="REALTOR"))["user"]
    b = (await identity.register())["user"]
    user = await call(stub.GetUser, pb.GetUserRequest(id=a["id"]), timeout=2.0)
    assert user.email == a["email"] and user.display_name == "Test Person"
    assert user.role == pb.ROLE_REALTOR and user.time_zone == "Europe/Paris"
    assert not user.deleted and not user.email_verified

    missing = str(uuid.uuid4())
    batch = await call(
        stub.BatchGetUsers, pb.BatchGetUsersRequest(ids=[a["id"], b["id"], missing]), timeout=2.0
    )
    assert sorted(u.id for u in batch.users) == sorted([a["id"], b["id"]])

    with pytest.raises(NotFound):
        await call(stub.GetUser, pb.GetUserRequest(id=missing), timeout=2.0)
    with pytest.raises(BadUserInput):
        await call(stub.GetUser, pb.GetUserRequest(id="not-a-uuid"), timeout=2.0)
    with pytest.raises(grpc.aio.AioRpcError) as raw:
        await stub.BatchGetUsers(pb.BatchGetUsersRequest(ids=["x"]), timeout=2.0)
    assert raw.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_erased_users_come_back_without_personal_data(
    identity: Identity, stub: pb_grpc.IdentityStub
) -> None:
    registered = await identity.register()
    await identity.ok(
        "mutation($p: String!) { deleteMyAccount(password: $p) }",
        {"p": "violet tractor sings at dawn"},
        token=registered["accessToken"],
    )
    user = await call(stub.GetUser, pb.GetUserRequest(id=registered["user"]["id"]), timeout=2.0)
    assert user.deleted and user.email == "" and user.phone == ""
    assert user.display_name == "Deleted user"
