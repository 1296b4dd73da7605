"""gRPC on asyncio: a server with health and reflection, clients with deadlines and retries.

Internal calls are a trust boundary. Servers and clients speak mutual TLS only
(`servicekit.tls`); the server admits a call after three checks, in this order:
- the client certificate names a service (its SPIFFE URI), else UNAUTHENTICATED;
- an `authorization: Bearer …` token, when present, verifies, else UNAUTHENTICATED; it is
  the user the call is made for (`current_principal`), and nothing else in the metadata is;
- the service's `Access` table lets that service call that method, else PERMISSION_DENIED
  (FORBIDDEN). Health and reflection are open to every authenticated service.

Servicers stay thin: they raise `ServiceError`s and the server interceptor turns them into
status codes; unexpected exceptions become INTERNAL with no details. `call` forwards the
user's token (the W3C trace context is added by the tracing interceptor).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor

from servicekit.access import Access, Caller, current_access_token, current_caller
from servicekit.auth import JwtVerifier, current_principal
from servicekit.errors import (
    GRPC_STATUS,
    Forbidden,
    ServiceError,
    Unauthenticated,
    from_grpc_status,
)
from servicekit.tls import TlsMaterial, service_of

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Readiness = Callable[[], Awaitable[bool]]
Behaviour = Callable[[Any, grpc.aio.ServicerContext], Any]

AUTHORIZATION = "authorization"
# Open to every authenticated service: probes and tooling, no data.
OPEN_SERVICES = frozenset({health.SERVICE_NAME, reflection.SERVICE_NAME})


class _Admission(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Authenticates and authorises every call, exposes the caller as `current_caller` and
    `current_principal`, and maps ServiceError to status codes."""

    def __init__(self, access: Mapping[str, Access], verifier: JwtVerifier) -> None:
        self.access = access
        self.verifier = verifier

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        service, _, method = details.method.lstrip("/").partition("/")
        metadata = dict(details.invocation_metadata or ())
        authorization = metadata.get(AUTHORIZATION)

        async def admitted(context: grpc.aio.ServicerContext) -> None:
            try:
                caller, token = await self._admit(context, service, method, authorization)
            except ServiceError as exc:
                await context.abort(GRPC_STATUS[exc.code], exc.message)
            # Each call runs in a task of its own: nothing set here outlives it.
            current_caller.set(caller)
            current_principal.set(caller.principal)
            current_access_token.set(token)

        def unary(behaviour: Behaviour) -> Behaviour:
            async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await admitted(context)
                try:
                    return await behaviour(request, context)
                except Exception as exc:
                    await _abort_for(exc, context, details.method)

            return guarded

        def streaming(behaviour: Behaviour) -> Behaviour:
            async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await admitted(context)
                try:
                    result = behaviour(request, context)
                    if inspect.isasyncgen(result):
                        async for item in result:
                            yield item
                    else:
                        await result  # a handler that answers with `context.write`
                except Exception as exc:
                    await _abort_for(exc, context, details.method)

            return guarded

        options = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **options)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **options)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **options)
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **options)

    async def _admit(
        self,
        context: grpc.aio.ServicerContext,
        service: str,
        method: str,
        authorization: str | bytes | None,
    ) -> tuple[Caller, str | None]:
        peer = context.auth_context().get("peer_spiffe_id") or [b""]
        calling = service_of(peer[0].decode(errors="replace"))
        if calling is None:
            raise Unauthenticated("the client certificate names no service")
        token = None
        principal = None
        if authorization is not None:
            if not isinstance(authorization, str):
                raise Unauthenticated("malformed authorization metadata")
            token = _bearer(authorization)
            principal = await self.verifier.verify(token)
        if service not in OPEN_SERVICES:
            table = self.access.get(service)
            if table is None or not table.admits(method, calling):
                raise Forbidden(f"{calling} may not call {service}/{method}")
        return Caller(calling, principal), token


async def _abort_for(exc: Exception, context: grpc.aio.ServicerContext, method: str) -> None:
    """End the call with the status `exc` stands for; unexpected errors say nothing more."""
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    if isinstance(exc, ServiceError):
        await context.abort(GRPC_STATUS[exc.code], exc.message)
    log.error("unexpected error in %s", method, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("malformed authorization metadata")
    return token.strip()


def _methods_of(service: str) -> list[str] | None:
    """The methods the protobuf descriptors declare for `service`, None when not loaded."""
    try:
        found = descriptor_pool.Default().FindServiceByName(service)
    except KeyError:
        return None
    return [m.name for m in found.methods]


def _access_by_service(service_names: Sequence[str], access: Sequence[Access]) -> dict[str, Access]:
    tables = {table.service: table for table in access}
    for name in service_names:
        if name not in tables:
            raise ValueError(f"no access table for {name}: declare who may call its methods")
        methods = _methods_of(name)
        if methods is not None:
            tables[name].check_covers(methods)
    return tables


Registration = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """An asyncio gRPC server over mutual TLS with the standard health and reflection services.

    `access` holds one table per service in `service_names`, covering each of its methods.
    Health reports SERVING only while `readiness()` is true (checked every `probe_interval`).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        registrations: Sequence[Registration],
        service_names: Sequence[str],
        readiness: Readiness,
        tls: TlsMaterial,
        access: Sequence[Access],
        verifier: JwtVerifier,
        probe_interval: float = 2.0,
    ) -> None:
        tracing = aio_server_interceptor()  # type: ignore[no-untyped-call]
        admission = _Admission(_access_by_service(service_names, access), verifier)
        self.server = grpc.aio.server(interceptors=[tracing, admission])
        for register in registrations:
            register(self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(service_names)
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        credentials = grpc.ssl_server_credentials(
            [(tls.private_key, tls.certificate)], root_certificates=tls.ca, require_client_auth=True
        )
        self.port = self.server.add_secure_port(f"{host}:{port}", credentials)
        self.readiness = readiness
        self.probe_interval = probe_interval
        self._probe: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.probe_once()
        await self.server.start()
        self._probe = asyncio.create_task(self._probe_forever())

    async def probe_once(self) -> bool:
        ready = await self.readiness()
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, status)
        return ready

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                await self.probe_once()
            except Exception:
                log.exception("readiness probe failed")

    async def stop(self, grace: float = 5.0) -> None:
        if self._probe:
            self._probe.cancel()
        await self.server.stop(grace)


def _service_config(retry_services: Sequence[str]) -> str:
    config: dict[str, Any] = {
        "methodConfig": [
            {
                "name": [{"service": name} for name in retry_services],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
    return json.dumps(config)


def client_channel(
    target: str, *, tls: TlsMaterial, server_name: str, retry_services: Sequence[str] = ()
) -> grpc.aio.Channel:
    """A mutual-TLS channel to the service `server_name` (its certificate must name it);
    calls to `retry_services` (idempotent reads) are retried."""
    options: list[tuple[str, Any]] = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.enable_retries", 1),
        ("grpc.ssl_target_name_override", server_name),
    ]
    if retry_services:
        options.append(("grpc.service_config", _service_config(retry_services)))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.private_key, certificate_chain=tls.certificate
    )
    tracing = aio_client_interceptors()  # type: ignore[no-untyped-call]
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=tracing)


def call_metadata(token: str | None = None) -> tuple[tuple[str, str], ...]:
    """Metadata carrying the user the call is made for: `token`, else the token of the user
    being served right now; nothing on calls made on nobody's behalf."""
    forwarded = token or current_access_token.get()
    if forwarded is None:
        return ()
    return ((AUTHORIZATION, f"Bearer {forwarded}"),)


async def call(
    method: Callable[..., Any],
    request: Req,
    *,
    timeout: float,
    token: str | None = None,
) -> Any:
    """Invoke a unary stub method with a deadline; failures raise the matching ServiceError."""
    try:
        return await method(request, timeout=timeout, metadata=call_metadata(token))
    except grpc.aio.AioRpcError as exc:
        raise from_grpc_status(exc.code(), exc.details() or exc.code().name) from None
