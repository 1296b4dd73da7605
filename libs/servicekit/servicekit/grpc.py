"""gRPC on asyncio: a server with health and reflection, clients with deadlines and retries.

Servicers stay thin: they raise `ServiceError`s and the server interceptor turns them into
status codes; unexpected exceptions become INTERNAL with no details. Calls carry the caller's
identity (`x-principal-id`, `x-principal-role`) and the W3C trace context as metadata.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor

from servicekit.auth import Principal, Role, current_principal
from servicekit.errors import GRPC_STATUS, ServiceError, from_grpc_status

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Readiness = Callable[[], Awaitable[bool]]

PRINCIPAL_ID = "x-principal-id"
PRINCIPAL_ROLE = "x-principal-role"


class _ErrorsAndIdentity(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps ServiceError to status codes and exposes the caller as `current_principal`."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary
        metadata = dict(details.invocation_metadata or ())

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = current_principal.set(_principal_from(metadata))
            try:
                return await behaviour(request, context)
            except ServiceError as exc:
                await context.abort(GRPC_STATUS[exc.code], exc.message)
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception:
                log.exception("unexpected error in %s", details.method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            finally:
                current_principal.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _principal_from(metadata: dict[str, Any]) -> Principal | None:
    try:
        return Principal(uuid.UUID(metadata[PRINCIPAL_ID]), Role(metadata[PRINCIPAL_ROLE]))
    except (KeyError, ValueError):
        return None


Registration = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """An asyncio gRPC server with the standard health and reflection services.

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
        probe_interval: float = 2.0,
    ) -> None:
        tracing = aio_server_interceptor()  # type: ignore[no-untyped-call]
        self.server = grpc.aio.server(interceptors=[tracing, _ErrorsAndIdentity()])
        for register in registrations:
            register(self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(service_names)
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")
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


def client_channel(target: str, *, retry_services: Sequence[str] = ()) -> grpc.aio.Channel:
    """A channel to another service; calls to `retry_services` (idempotent reads) are retried."""
    options: list[tuple[str, Any]] = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.enable_retries", 1),
    ]
    if retry_services:
        options.append(("grpc.service_config", _service_config(retry_services)))
    tracing = aio_client_interceptors()  # type: ignore[no-untyped-call]
    return grpc.aio.insecure_channel(target, options=options, interceptors=tracing)


def call_metadata(principal: Principal | None = None) -> tuple[tuple[str, str], ...]:
    """Metadata carrying the caller's identity (trace context is added by the interceptor)."""
    who = principal or current_principal.get()
    if who is None:
        return ()
    return ((PRINCIPAL_ID, str(who.user_id)), (PRINCIPAL_ROLE, who.role.value))


async def call(
    method: Callable[..., Any],
    request: Req,
    *,
    timeout: float,
    principal: Principal | None = None,
) -> Any:
    """Invoke a unary stub method with a deadline; failures raise the matching ServiceError."""
    try:
        return await method(request, timeout=timeout, metadata=call_metadata(principal))
    except grpc.aio.AioRpcError as exc:
        raise from_grpc_status(exc.code(), exc.details() or exc.code().name) from None
