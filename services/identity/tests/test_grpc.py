"""gRPC `realty.identity.v1.Identity` through a real grpc.aio server on a free port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from identity.rpc import IdentityServicer
from realty.identity.v1 import identity_pb2 as pb
from realty.identity.v1 import identity_pb2_grpc as pb_grpc
from servicekit.embedded import free_port
from servicekit.errors import BadUserInput, NotFound
from servicekit.grpc import GrpcServer, call, client_channel

from .conftest import Identity


@pytest_asyncio.fixture(loop_scope="session")
async def stub(identity: Identity) -> AsyncIterator[pb_grpc.IdentityStub]:
    servicer = IdentityServicer(identity.service)
    port = free_port()
    server = GrpcServer(
        host="127.0.0.1",
        port=port,
        registrations=[lambda s: pb_grpc.add_IdentityServicer_to_server(servicer, s)],
        service_names=["realty.identity.v1.Identity"],
        readiness=identity.db.ping,
    )
    await server.start()
    channel = client_channel(f"127.0.0.1:{port}")
    try:
        yield pb_grpc.IdentityStub(channel)
    finally:
        await channel.close()
        await server.stop(grace=0)


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
