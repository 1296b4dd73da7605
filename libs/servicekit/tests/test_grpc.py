"""gRPC server and client helpers over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from google.protobuf.wrappers_pb2 import DoubleValue, StringValue
from grpc_health.v1 import health_pb2, health_pb2_grpc
from servicekit.auth import Principal, Role, current_principal
from servicekit.db import Database
from servicekit.embedded import free_port
from servicekit.errors import NotFound, Unavailable
from servicekit.grpc import GrpcServer, call, client_channel
from servicekit.testing import DatabaseFactory

SERVICE = "realty.test.v1.Probe"


async def sleep(request: DoubleValue, context: grpc.aio.ServicerContext) -> StringValue:
    await asyncio.sleep(request.value)
    return StringValue(value="slept")


async def whoami(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    who = current_principal.get()
    if who is None:
        raise NotFound("nobody is calling")
    return StringValue(value=f"{who.user_id}:{who.role.value}")


def register(server: grpc.aio.Server) -> None:
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Sleep": grpc.unary_unary_rpc_method_handler(
                        sleep,
                        request_deserializer=DoubleValue.FromString,
                        response_serializer=StringValue.SerializeToString,
                    ),
                    "WhoAmI": grpc.unary_unary_rpc_method_handler(
                        whoami,
                        request_deserializer=StringValue.FromString,
                        response_serializer=StringValue.SerializeToString,
                    ),
                },
            )
        ]
    )


@pytest_asyncio.fixture(loop_scope="session")
async def probe_db(database_factory: DatabaseFactory) -> AsyncIterator[tuple[Database, str]]:
    url = await database_factory.create()
    db = Database(url, source="probe", pool_size=1, max_overflow=0)
    yield db, url
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def server(probe_db: tuple[Database, str]) -> AsyncIterator[GrpcServer]:
    db, _ = probe_db
    srv = GrpcServer(
        host="127.0.0.1",
        port=free_port(),
        registrations=[register],
        service_names=[SERVICE],
        readiness=db.ping,
        probe_interval=0.1,
    )
    await srv.start()
    yield srv
    await srv.stop(0)


async def test_deadline_is_honoured(server: GrpcServer) -> None:
    async with client_channel(f"127.0.0.1:{server.port}") as channel:
        method = channel.unary_unary(
            f"/{SERVICE}/Sleep",
            request_serializer=DoubleValue.SerializeToString,
            response_deserializer=StringValue.FromString,
        )
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await call(method, DoubleValue(value=5.0), timeout=0.2)
        assert time.monotonic() - started < 1.5
        assert (await call(method, DoubleValue(value=0.0), timeout=2.0)).value == "slept"


async def test_service_errors_and_identity_cross_the_wire(server: GrpcServer) -> None:
    import uuid

    async with client_channel(f"127.0.0.1:{server.port}") as channel:
        method = channel.unary_unary(
            f"/{SERVICE}/WhoAmI",
            request_serializer=StringValue.SerializeToString,
            response_deserializer=StringValue.FromString,
        )
        with pytest.raises(NotFound, match="nobody is calling"):
            await call(method, StringValue(), timeout=2.0)
        user = uuid.uuid4()
        reply = await call(
            method, StringValue(), timeout=2.0, principal=Principal(user, Role.REALTOR)
        )
        assert reply.value == f"{user}:REALTOR"


async def test_health_serves_only_while_the_database_is_reachable(
    server: GrpcServer, probe_db: tuple[Database, str], database_factory: DatabaseFactory
) -> None:
    _, url = probe_db
    async with client_channel(f"127.0.0.1:{server.port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=SERVICE)
        reply = await stub.Check(request, timeout=2)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await database_factory.drop(url)
        await asyncio.sleep(0.5)
        reply = await stub.Check(request, timeout=2)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
