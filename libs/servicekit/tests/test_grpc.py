"""gRPC server and client helpers over real sockets, and every way into a server.

The server speaks mutual TLS only: a connection without a certificate from our CA never
gets a call through (the client sees UNAVAILABLE, the servicer never runs). Past the
handshake, the certificate must name a service, a user token must verify, and the method's
allow-list must name the calling service.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from google.protobuf.wrappers_pb2 import DoubleValue, StringValue
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from servicekit.access import Access, allow, current_access_token, current_caller
from servicekit.auth import Role
from servicekit.db import Database
from servicekit.embedded import free_port
from servicekit.errors import Forbidden, Unauthenticated, Unavailable
from servicekit.grpc import GrpcServer, call, client_channel
from servicekit.testing import DatabaseFactory, TokenIssuer
from servicekit.tls import DevAuthority, TlsMaterial

SERVICE = "realty.test.v1.Probe"
ACCESS = Access(SERVICE, {"Sleep": allow("scheduling"), "WhoAmI": allow("scheduling", "media")})


class Probe:
    """Answers who the server saw calling, and counts the calls that reached it."""

    def __init__(self) -> None:
        self.reached = 0
        self.abandoned = asyncio.Event()  # set when a call's deadline stopped its handler

    async def sleep(self, request: DoubleValue, context: grpc.aio.ServicerContext) -> StringValue:
        if request.value > 0:
            try:
                await asyncio.Event().wait()  # never answers: only a deadline ends this call
            except asyncio.CancelledError:
                self.abandoned.set()
                raise
        return StringValue(value="slept")

    async def whoami(self, request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
        self.reached += 1
        caller = current_caller.get()
        assert caller is not None
        who = caller.principal
        user = f"{who.user_id}:{who.role.value}" if who else "nobody"
        return StringValue(value=f"{caller.service} for {user}")

    def register(self, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "Sleep": grpc.unary_unary_rpc_method_handler(
                            self.sleep,
                            request_deserializer=DoubleValue.FromString,
                            response_serializer=StringValue.SerializeToString,
                        ),
                        "WhoAmI": grpc.unary_unary_rpc_method_handler(
                            self.whoami,
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


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest_asyncio.fixture(loop_scope="session")
async def server(
    probe: Probe,
    probe_db: tuple[Database, str],
    grpc_authority: DevAuthority,
    token_issuer: TokenIssuer,
) -> AsyncIterator[GrpcServer]:
    db, _ = probe_db
    verifier = token_issuer.verifier()
    srv = GrpcServer(
        host="127.0.0.1",
        port=free_port(),
        registrations=[probe.register],
        service_names=[SERVICE],
        readiness=db.ping,
        tls=grpc_authority.material("identity"),
        access=[ACCESS],
        verifier=verifier,
        probe_interval=0.1,
    )
    await srv.start()
    yield srv
    await srv.stop(0)
    await verifier.aclose()


def whoami(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(
        f"/{SERVICE}/WhoAmI",
        request_serializer=StringValue.SerializeToString,
        response_deserializer=StringValue.FromString,
    )


def channel_as(
    server: GrpcServer, tls: TlsMaterial, *, server_name: str = "identity"
) -> grpc.aio.Channel:
    return client_channel(f"127.0.0.1:{server.port}", tls=tls, server_name=server_name)


async def test_deadline_is_honoured(
    server: GrpcServer, probe: Probe, grpc_authority: DevAuthority
) -> None:
    async with channel_as(server, grpc_authority.material("scheduling")) as channel:
        method = channel.unary_unary(
            f"/{SERVICE}/Sleep",
            request_serializer=DoubleValue.SerializeToString,
            response_deserializer=StringValue.FromString,
        )
        # The handler never answers: the call can only end by its deadline, on both sides.
        with pytest.raises(Unavailable):
            await asyncio.wait_for(call(method, DoubleValue(value=1.0), timeout=0.2), 10)
        await asyncio.wait_for(probe.abandoned.wait(), timeout=10)
        assert (await call(method, DoubleValue(value=0.0), timeout=2.0)).value == "slept"


async def test_an_allowed_service_on_nobodys_behalf(
    server: GrpcServer, grpc_authority: DevAuthority
) -> None:
    async with channel_as(server, grpc_authority.material("media")) as channel:
        reply = await call(whoami(channel), StringValue(), timeout=2.0)
    assert reply.value == "media for nobody"


async def test_a_valid_token_is_the_user_the_callee_sees(
    server: GrpcServer, grpc_authority: DevAuthority, token_issuer: TokenIssuer
) -> None:
    user = uuid.uuid4()
    token = token_issuer.token(user, Role.REALTOR)
    async with channel_as(server, grpc_authority.material("scheduling")) as channel:
        reply = await call(whoami(channel), StringValue(), timeout=2.0, token=token)
        assert reply.value == f"scheduling for {user}:REALTOR"
        # While serving a user, onward calls carry that user's token without being told.
        reset = current_access_token.set(token)
        try:
            forwarded = await call(whoami(channel), StringValue(), timeout=2.0)
        finally:
            current_access_token.reset(reset)
        assert forwarded.value == reply.value
        # Nothing of one call's user stays behind for the next call on the connection.
        after = await call(whoami(channel), StringValue(), timeout=2.0)
        assert after.value == "scheduling for nobody"


async def test_forged_identity_metadata_is_ignored(
    server: GrpcServer, grpc_authority: DevAuthority
) -> None:
    forged = (("x-principal-id", str(uuid.uuid4())), ("x-principal-role", "ADMIN"))
    async with channel_as(server, grpc_authority.material("scheduling")) as channel:
        reply = await whoami(channel)(StringValue(), timeout=2.0, metadata=forged)
    assert reply.value == "scheduling for nobody"


@pytest.mark.parametrize("kind", ["garbage", "expired", "foreign", "not-bearer"])
async def test_an_invalid_user_token_is_unauthenticated(
    kind: str,
    server: GrpcServer,
    probe: Probe,
    grpc_authority: DevAuthority,
    token_issuer: TokenIssuer,
) -> None:
    user = uuid.uuid4()
    authorization = {
        "garbage": "Bearer not.a.token",
        "expired": f"Bearer {token_issuer.token(user, expires_in=-60)}",
        "foreign": f"Bearer {TokenIssuer().token(user)}",
        "not-bearer": f"Basic {token_issuer.token(user)}",
    }[kind]
    async with channel_as(server, grpc_authority.material("scheduling")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await whoami(channel)(
                StringValue(), timeout=2.0, metadata=(("authorization", authorization),)
            )
    assert failed.value.code() is grpc.StatusCode.UNAUTHENTICATED
    if kind == "expired":
        assert failed.value.details() == "token expired"
    assert probe.reached == 0


async def test_a_service_not_on_the_list_is_forbidden(
    server: GrpcServer, probe: Probe, grpc_authority: DevAuthority, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.token(uuid.uuid4(), Role.ADMIN)
    async with channel_as(server, grpc_authority.material("listings")) as channel:
        with pytest.raises(Forbidden, match=re.escape(f"listings may not call {SERVICE}/WhoAmI")):
            await call(whoami(channel), StringValue(), timeout=2.0, token=token)
    assert probe.reached == 0


async def test_a_certificate_naming_no_service_is_unauthenticated(
    server: GrpcServer, probe: Probe, grpc_authority: DevAuthority
) -> None:
    cert, key = grpc_authority.issue(dns_names=["scheduling"])
    anonymous = TlsMaterial(grpc_authority.ca_file.read_bytes(), cert, key)
    async with channel_as(server, anonymous) as channel:
        with pytest.raises(Unauthenticated, match="names no service"):
            await call(whoami(channel), StringValue(), timeout=2.0)
    assert probe.reached == 0


async def _refused(channel: grpc.aio.Channel) -> grpc.StatusCode:
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await whoami(channel)(StringValue(), timeout=2.0)
    return failed.value.code()


async def test_plaintext_clients_get_no_call_through(server: GrpcServer, probe: Probe) -> None:
    plain = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    assert await _refused(plain) is grpc.StatusCode.UNAVAILABLE
    assert probe.reached == 0


async def test_a_client_without_a_certificate_gets_no_call_through(
    server: GrpcServer, probe: Probe, grpc_authority: DevAuthority
) -> None:
    server_only = grpc.ssl_channel_credentials(
        root_certificates=grpc_authority.ca_file.read_bytes()
    )
    channel = grpc.aio.secure_channel(
        f"127.0.0.1:{server.port}",
        server_only,
        options=[("grpc.ssl_target_name_override", "identity")],
    )
    assert await _refused(channel) is grpc.StatusCode.UNAVAILABLE
    assert probe.reached == 0


async def test_a_certificate_from_another_ca_gets_no_call_through(
    server: GrpcServer, probe: Probe, grpc_authority: DevAuthority, tmp_path: Path
) -> None:
    stranger = DevAuthority(tmp_path / "other-ca").material("scheduling")
    # Trusting our CA for the server, but proving itself with the other CA's certificate.
    impostor = TlsMaterial(
        grpc_authority.ca_file.read_bytes(), stranger.certificate, stranger.private_key
    )
    assert await _refused(channel_as(server, impostor)) is grpc.StatusCode.UNAVAILABLE
    assert probe.reached == 0


async def test_the_client_checks_it_reached_the_service_it_meant(
    server: GrpcServer, probe: Probe, grpc_authority: DevAuthority
) -> None:
    channel = channel_as(server, grpc_authority.material("scheduling"), server_name="listings")
    assert await _refused(channel) is grpc.StatusCode.UNAVAILABLE
    assert probe.reached == 0


def test_every_served_service_needs_an_access_table(
    grpc_authority: DevAuthority, token_issuer: TokenIssuer
) -> None:
    async def ready() -> bool:
        return True

    with pytest.raises(ValueError, match=re.escape(f"no access table for {SERVICE}")):
        GrpcServer(
            host="127.0.0.1",
            port=0,
            registrations=[Probe().register],
            service_names=[SERVICE],
            readiness=ready,
            tls=grpc_authority.material("identity"),
            access=[],
            verifier=token_issuer.verifier(),
        )


def test_an_access_table_must_cover_the_methods_exactly() -> None:
    table = Access("realty.test.v1.Probe", {"WhoAmI": allow("media"), "Gone": allow()})
    with pytest.raises(ValueError, match=r"undeclared methods \['Sleep'\].*\['Gone'\]"):
        table.check_covers(["Sleep", "WhoAmI"])
    assert not table.admits("Gone", "media") and not table.admits("Sleep", "media")


async def test_health_serves_only_while_the_database_is_reachable(
    server: GrpcServer,
    probe_db: tuple[Database, str],
    database_factory: DatabaseFactory,
    grpc_authority: DevAuthority,
) -> None:
    _, url = probe_db
    # Health is open to every authenticated service, listed or not.
    async with channel_as(server, grpc_authority.material("listings")) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=SERVICE)
        reply = await stub.Check(request, timeout=2)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # Watch streams each change of status: the next one is the probe seeing the loss.
        watch = stub.Watch(request, timeout=30)
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        await database_factory.drop(url)
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
        reply = await stub.Check(request, timeout=2)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_streaming_health_and_reflection_answer_authenticated_services_only(
    server: GrpcServer, grpc_authority: DevAuthority
) -> None:
    async with channel_as(server, grpc_authority.material("media")) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=2
        )
        first = await watch.read()
        watch.cancel()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        listed = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=2
        )
        reply = await listed.read()
        assert SERVICE in {s.name for s in reply.list_services_response.service}
    cert, key = grpc_authority.issue(dns_names=["media"])
    anonymous = TlsMaterial(grpc_authority.ca_file.read_bytes(), cert, key)
    async with channel_as(server, anonymous) as channel:
        refused = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=2
        )
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await refused.read()
    assert failed.value.code() is grpc.StatusCode.UNAUTHENTICATED
