"""GraphQL over WebSocket on `/graphql`: the server side of the graphql-transport-ws protocol.

One `Connection` per socket. The client has `init_timeout` seconds to send
`connection_init`; its payload carries `Authorization` (as Apollo and urql clients send
it, also accepted under `headers`), verified once for the whole connection: no token is
an anonymous connection, an invalid one closes the socket with 4403. Every `subscribe`
goes through the same edge checks as an HTTP request and then runs on the engine
generation current at that moment, which it keeps until it ends, so a supergraph reload
does not cut running subscriptions. Queries and mutations are allowed too (one `next`,
then `complete`; with `@defer` a `next` per payload, in the format the operation's
`extensions` or the `connection_init` payload name with `"incrementalSpec": "v0.2"`,
else `deferSpec=20220824`). Protocol violations close the socket with the codes the protocol
defines: 4400 invalid message, 4401 subscribe before ack, 4403 forbidden, 4406
subprotocol, 4408 init timeout, 4409 duplicate id, 4429 repeated init. A connection runs
at most `max_operations` operations at once; one more is refused with an `error` message.

Fairness: a user holds at most `max_subscriptions_per_user` live subscriptions across all
their connections (anonymous callers are counted by address); one more is refused with
RATE_LIMITED, so one user's flood can never take what another's subscriptions need
(upstream, subscriptions have their own connections, apart from queries'). A connection
lives no longer than its token: it closes with 4403 when the token expires, and its token
is verified again every `reverify_seconds`, so a revoked session (sign-out, deletion)
loses its sockets within that time. Clients reconnect with a fresh token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.coalescing import coalescing_key
from gateway.edge.auth import Caller
from gateway.edge.errors import EdgeError
from gateway.edge.pipeline import Edge
from gateway.fanout import SubscriptionHub
from gateway.metrics import GatewayMetrics
from gateway.reload import EngineHolder
from gateway.server import INTERNAL_ERROR, forward_headers, request_headers
from gateway.types import DEFER_SPEC_20220824, INCREMENTAL_SPEC_V0_2, JSON

log = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"


class ProtocolViolation(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SubscriptionQuota:
    """Live subscriptions per caller, across every connection of this gateway process."""

    def __init__(self, per_caller: int) -> None:
        self.per_caller = per_caller
        self._active: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        held = self._active.get(key, 0)
        if self.per_caller > 0 and held >= self.per_caller:
            return False
        self._active[key] = held + 1
        return True

    def release(self, key: str) -> None:
        held = self._active.get(key, 0) - 1
        if held > 0:
            self._active[key] = held
        else:
            self._active.pop(key, None)

    def held(self, key: str) -> int:
        return self._active.get(key, 0)


class GraphQLWebSocket:
    """The ASGI app answering WebSocket connections on `/graphql`."""

    def __init__(
        self,
        *,
        edge: Edge,
        engines: EngineHolder,
        metrics: GatewayMetrics,
        init_timeout: float,
        max_operations: int = 100,
        max_subscriptions_per_user: int = 50,
        reverify_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
        hub: SubscriptionHub | None = None,
    ) -> None:
        self._edge = edge
        self._hub = hub
        self._engines = engines
        self._metrics = metrics
        self._init_timeout = init_timeout
        self._max_operations = max_operations
        self._quota = SubscriptionQuota(max_subscriptions_per_user)
        self._session = SessionPolicy(reverify_seconds, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        if PROTOCOL not in scope.get("subprotocols", []):
            await websocket.accept()
            await websocket.close(4406, "Subprotocol not acceptable")
            return
        await websocket.accept(subprotocol=PROTOCOL)
        self._metrics.websocket_connections.inc()
        try:
            connection = Connection(
                websocket,
                self._edge,
                self._engines,
                self._metrics,
                self._max_operations,
                quota=self._quota,
                session=self._session,
                hub=self._hub,
            )
            await connection.run(self._init_timeout)
        finally:
            self._metrics.websocket_connections.dec()


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a connection's token is trusted: re-verified every `reverify_seconds`."""

    reverify_seconds: float
    clock: Callable[[], float]


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        edge: Edge,
        engines: EngineHolder,
        metrics: GatewayMetrics,
        max_operations: int,
        *,
        quota: SubscriptionQuota | None = None,
        session: SessionPolicy | None = None,
        hub: SubscriptionHub | None = None,
    ) -> None:
        self._ws = websocket
        self._hub = hub
        self._quota = quota or SubscriptionQuota(0)
        self._session = session or SessionPolicy(30.0, time.time)
        self._watch: asyncio.Task[None] | None = None
        self._max_operations = max_operations
        self._edge = edge
        self._engines = engines
        self._metrics = metrics
        self._headers = request_headers(websocket.scope)
        client = websocket.scope.get("client")
        self._address: str | None = client[0] if client else None
        self._init_received = False
        self._acknowledged = False
        self._caller: Caller | None = None
        self._incremental = DEFER_SPEC_20220824  # the connection's incremental format
        self._authorization: str | None = None
        self._operations: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()
        self._closed = False

    async def run(self, init_timeout: float) -> None:
        watchdog = asyncio.get_running_loop().call_later(init_timeout, self._init_expired)
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    raise ProtocolViolation(4400, "Binary frames are not supported")
                await self._handle(text)
        except ProtocolViolation as violation:
            await self._close(violation.code, violation.reason)
        except WebSocketDisconnect:
            pass
        finally:
            watchdog.cancel()
            if self._watch is not None:
                self._watch.cancel()
            await self._stop_all()

    def _init_expired(self) -> None:
        if not self._init_received:
            asyncio.get_running_loop().create_task(
                self._close(4408, "Connection initialisation timeout")
            )

    async def _handle(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ProtocolViolation(4400, "Invalid message: not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ProtocolViolation(4400, "Invalid message: no type")
        kind = message["type"]
        if kind == "connection_init":
            await self._on_init(message.get("payload"))
        elif kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "pong":
            return
        elif kind == "subscribe":
            await self._on_subscribe(message)
        elif kind == "complete":
            operation_id = message.get("id")
            if not isinstance(operation_id, str):
                raise ProtocolViolation(4400, "Invalid message: complete needs an id")
            task = self._operations.pop(operation_id, None)
            if task is not None:
                task.cancel()
        else:
            raise ProtocolViolation(4400, f"Invalid message type '{kind}'")

    async def _on_init(self, payload: Any) -> None:
        if self._init_received:
            raise ProtocolViolation(4429, "Too many initialisation requests")
        self._init_received = True
        if payload is not None and not isinstance(payload, dict):
            raise ProtocolViolation(4400, "Invalid message: connection_init payload")
        self._authorization = _authorization(payload or {}) or self._headers.get("authorization")
        self._incremental = _incremental_spec(payload or {}, DEFER_SPEC_20220824)
        try:
            self._caller = await self._edge.authenticate(self._authorization)
        except EdgeError as error:
            if error.status == 401:
                raise ProtocolViolation(4403, "Forbidden") from None
            raise ProtocolViolation(1011, "Authentication unavailable") from None
        self._acknowledged = True
        await self._send({"type": "connection_ack"})
        if self._caller is not None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_session())

    async def _watch_session(self) -> None:
        """Close the socket when its token expires or no longer verifies (revoked)."""
        caller, policy = self._caller, self._session
        assert caller is not None
        while not self._closed:
            wait = policy.reverify_seconds
            if caller.expires_at is not None:
                wait = min(wait, max(0.0, caller.expires_at - policy.clock()))
            await asyncio.sleep(wait)
            if caller.expires_at is not None and policy.clock() >= caller.expires_at:
                await self._close(4403, "Forbidden: the token expired")
                return
            try:
                await self._edge.authenticate(self._authorization)
            except EdgeError as error:
                if error.status == 401:
                    await self._close(4403, "Forbidden: the session ended")
                    return

    async def _on_subscribe(self, message: Mapping[str, Any]) -> None:
        if not self._acknowledged:
            raise ProtocolViolation(4401, "Unauthorized")
        operation_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(operation_id, str) or not operation_id:
            raise ProtocolViolation(4400, "Invalid message: subscribe needs an id")
        if not isinstance(payload, dict):
            raise ProtocolViolation(4400, "Invalid message: subscribe needs a payload")
        if operation_id in self._operations:
            raise ProtocolViolation(4409, f"Subscriber for {operation_id} already exists")
        if len(self._operations) >= self._max_operations:
            error = EdgeError(
                f"At most {self._max_operations} operations may run at once on one connection.",
                code="BAD_REQUEST",
            )
            self._metrics.request_error(error.code)
            await self._send({"id": operation_id, "type": "error", "payload": [error.to_error()]})
            return
        task = asyncio.get_running_loop().create_task(self._operate(operation_id, payload))
        self._operations[operation_id] = task

    async def _operate(self, operation_id: str, payload: Mapping[str, Any]) -> None:
        headers = dict(self._headers)
        if self._authorization:
            headers["authorization"] = self._authorization
        span = trace.get_tracer("gateway").start_span(
            "graphql.ws.operation", context=propagate.extract(self._headers), kind=SpanKind.SERVER
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        kind = "unknown"
        try:
            admitted = await self._edge.admit(
                payload,
                caller=self._caller,
                address=self._address,
                forward_headers=forward_headers(headers, self._address),
            )
            kind = admitted.operation.kind
            span.set_attribute("graphql.operation.type", kind)
            generation = self._engines.lease()
            try:
                engine = generation.engine
                if kind == "subscription":
                    await self._subscribe(operation_id, engine, admitted)
                elif (
                    "@defer" in admitted.request.query or "@stream" in admitted.request.query
                ):  # incremental: a `next` per payload
                    spec = _incremental_spec(admitted.request.extensions or {}, self._incremental)
                    results = await engine.execute_incremental(
                        admitted.request, admitted.context, spec=spec
                    )
                    if isinstance(results, dict):
                        await self._send({"id": operation_id, "type": "next", "payload": results})
                    else:
                        async for payload in results:
                            await self._send(
                                {"id": operation_id, "type": "next", "payload": payload}
                            )
                    await self._send({"id": operation_id, "type": "complete"})
                else:
                    result = await engine.execute(admitted.request, admitted.context)
                    await self._send({"id": operation_id, "type": "next", "payload": result})
                    await self._send({"id": operation_id, "type": "complete"})
            finally:
                self._engines.release(generation)
        except EdgeError as error:
            self._metrics.request_error(error.code)
            await self._send({"id": operation_id, "type": "error", "payload": [error.to_error()]})
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("unexpected failure serving a WebSocket operation")
            span.record_exception(error)
            await self._send(
                {"id": operation_id, "type": "error", "payload": INTERNAL_ERROR["errors"]}
            )
        finally:
            otel_context.detach(token)
            span.end()
            self._metrics.requests.labels("ws", kind, "ws").inc()
            if self._operations.get(operation_id) is asyncio.current_task():
                del self._operations[operation_id]

    async def _subscribe(self, operation_id: str, engine: Any, admitted: Any) -> None:
        """A subscription within the caller's quota."""
        key = self._caller.user_id if self._caller else f"address:{self._address}"
        if not self._quota.acquire(key):
            error = EdgeError(
                f"At most {self._quota.per_caller} subscriptions may be live at once per user.",
                code="RATE_LIMITED",
            )
            self._metrics.request_error(error.code)
            await self._send({"id": operation_id, "type": "error", "payload": [error.to_error()]})
            return
        try:
            hub = self._hub
            shared = coalescing_key(engine, admitted.request, admitted.context) if hub else None
            if hub is not None and shared is not None:
                stream = await hub.subscribe(
                    shared, lambda: engine.subscribe(admitted.request, admitted.context)
                )
            else:
                stream = await engine.subscribe(admitted.request, admitted.context)
            await self._stream(operation_id, stream)
        finally:
            self._quota.release(key)

    async def _stream(
        self, operation_id: str, result: AsyncIterator[JSON] | AsyncIterator[str] | JSON
    ) -> None:
        """Send a subscription's events; a shared one hands them over as encoded JSON text."""
        if isinstance(result, Mapping):
            if "data" not in result or (result.get("data") is None and result.get("errors")):
                await self._send(
                    {"id": operation_id, "type": "error", "payload": result.get("errors") or []}
                )
            else:
                await self._send({"id": operation_id, "type": "next", "payload": result})
                await self._send({"id": operation_id, "type": "complete"})
            return
        self._metrics.active_subscriptions.inc()
        try:
            prefix = f'{{"id":{orjson.dumps(operation_id).decode()},"type":"next","payload":'
            async for event in result:
                if isinstance(event, str):
                    await self._send_text(prefix + event + "}")
                else:
                    await self._send({"id": operation_id, "type": "next", "payload": event})
            await self._send({"id": operation_id, "type": "complete"})
        finally:
            self._metrics.active_subscriptions.dec()
            closer = getattr(result, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()

    async def _send(self, message: JSON) -> None:
        await self._send_text(orjson.dumps(message).decode())

    async def _send_text(self, text: str) -> None:
        if self._closed:
            return
        async with self._send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self._ws.send_text(text)

    async def _close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stop_all()
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self._ws.close(code, reason)

    async def _stop_all(self) -> None:
        tasks = list(self._operations.values())
        self._operations.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _authorization(payload: Mapping[str, Any]) -> str | None:
    """`Authorization` from a connection_init payload, flat or under `headers`, any case."""
    for source in (payload, payload.get("headers")):
        if isinstance(source, Mapping):
            for name, value in source.items():
                if (
                    isinstance(name, str)
                    and name.lower() == "authorization"
                    and isinstance(value, str)
                ):
                    return value
    return None


def _incremental_spec(source: Mapping[str, Any], default: str) -> str:
    """The incremental format a `connection_init` payload or an operation's `extensions`
    asks for: `"incrementalSpec": "v0.2"` names the newer one (the parameter a client's
    `Accept` carries over HTTP), `"20220824"` the default one; anything else keeps `default`."""
    asked = source.get("incrementalSpec")
    if asked == INCREMENTAL_SPEC_V0_2:
        return INCREMENTAL_SPEC_V0_2
    if asked == DEFER_SPEC_20220824:
        return DEFER_SPEC_20220824
    return default
