"""Upstream subscriptions multiplexed: many operations on one graphql-transport-ws socket.

One upstream WebSocket per client subscription costs a TCP connection, a handshake, a
`connection_init` and a reader task each, and every event wakes its own socket: with
thousands of live subscriptions the gateway spends more on sockets than on the events.
graphql-transport-ws runs any number of operations on one connection, told apart by their
`id`, so operations that would open identical connections share one instead.

Identical means the same subgraph URL and the same forwarded headers — the caller's
`Authorization` (also sent in `connection_init`), device id and address — so a connection
only ever carries one principal's operations, and the subgraph authorises each as before.
The headers that name one request rather than its caller (`x-request-id`, the W3C trace
context) are not part of the key and are not sent on a shared connection: an operation
cannot carry headers of its own in this protocol, and another's would be misleading.

A connection holds at most `max_operations` operations (another is opened past that) and
is closed when its last one ends. Each operation has a bounded queue of events
(`max_queued` events): one whose consumer falls that far behind is ended with an
`UNAVAILABLE` error and completed upstream, so it neither grows memory nor holds back the
others sharing its socket. Failures come back as the same GraphQL errors a socket of its
own gave: unreachable, no acknowledgement in time, refused, closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Hashable, Mapping
from typing import Any

import aiohttp
import orjson

from gateway.coalescing import IDENTITY_HEADERS
from gateway.executor.run import unavailable
from gateway.transport import HttpTransport
from gateway.types import JSON, RequestContext

__all__ = ["MultiplexedSubscriptions", "MultiplexingTransport"]

log = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"

# What one hop's handshake sets itself, and what names a single request: never shared.
_NOT_FORWARDED = IDENTITY_HEADERS | {
    "host",
    "connection",
    "upgrade",
    "content-length",
    "content-type",
    "accept",
    "accept-encoding",
    "transfer-encoding",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
}

_Key = tuple[str, tuple[tuple[str, str], ...]]


class _Operation:
    """One operation's events as they arrive, until it ends."""

    __slots__ = ("ended", "events", "id", "subscribed", "wakeup")

    def __init__(self, operation_id: str) -> None:
        self.id = operation_id
        self.events: deque[JSON] = deque()
        self.ended = False  # nothing more will be queued (the last event may be an error)
        self.subscribed = False  # its `subscribe` went upstream: ending it needs a `complete`
        self.wakeup: asyncio.Future[None] | None = None

    def push(self, event: JSON, *, last: bool = False) -> None:
        self.events.append(event)
        if last:
            self.ended = True
        waiter = self.wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def end(self) -> None:
        self.ended = True
        waiter = self.wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Connection:
    """One upstream socket and the operations it carries, by id."""

    def __init__(
        self, owner: MultiplexedSubscriptions, key: _Key, url: str, headers: dict[str, str]
    ) -> None:
        self.owner = owner
        self.key = key
        self.url = url
        self.headers = headers
        self.operations: dict[str, _Operation] = {}
        self.opened = 0  # operations ever added: the source of fresh ids
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        # None once acknowledged, else why the connection failed (a sentence's end).
        self.ready: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.closing = False
        self.closer: asyncio.Future[bool] | None = None
        self.task = asyncio.ensure_future(self._run())

    def add(self) -> _Operation:
        self.opened += 1
        operation = _Operation(str(self.opened))
        self.operations[operation.id] = operation
        return operation

    async def send(self, message: JSON) -> bool:
        """Send a message; False when the socket is gone (its operations are told so)."""
        socket = self.socket
        if socket is None or socket.closed:
            return False
        try:
            await socket.send_str(orjson.dumps(message).decode())
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            return False
        return True

    async def leave(self, operation: _Operation) -> None:
        """End an operation here: `complete` upstream while it runs there, then forget it
        (the socket closes with its last operation)."""
        running = operation.subscribed and not operation.ended
        operation.ended = True
        if running:
            await self.send({"id": operation.id, "type": "complete"})
        if self.operations.pop(operation.id, None) is not None and not self.operations:
            self.owner.retire(self)

    def shut(self) -> None:
        """Close the socket (the reader then ends every operation left)."""
        self.closing = True
        if self.socket is not None and not self.socket.closed:
            self.closer = asyncio.ensure_future(self.socket.close())
        elif not self.ready.done():
            self.task.cancel()

    async def _run(self) -> None:
        failure = "closed the subscription"
        try:
            refused = await self._open()
            if refused is not None:
                failure = refused
            else:
                self.ready.set_result(None)
                await self._read()
        except asyncio.CancelledError:
            failure = "closed the subscription"
        except Exception:
            log.exception("an upstream subscription connection failed")
        finally:
            if not self.ready.done():
                self.ready.set_result(failure)
            self.owner.retire(self)
            for operation in list(self.operations.values()):
                if not operation.ended:
                    operation.push(unavailable(self.owner.graph_of(self.url), failure), last=True)
            if self.socket is not None and not self.socket.closed:
                with contextlib.suppress(aiohttp.ClientError, OSError):  # already going away
                    await self.socket.close()

    async def _open(self) -> str | None:
        """Connect, `connection_init`, wait for the ack; the failure's reason, or None."""
        timeout = self.owner.timeout
        try:
            self.socket = await self.owner.client().ws_connect(
                self.url,
                protocols=(PROTOCOL,),
                headers=self.headers,
                timeout=aiohttp.ClientWSTimeout(ws_close=timeout),
                heartbeat=None,
                max_msg_size=self.owner.max_message_bytes,
            )
        except (aiohttp.ClientError, OSError, TimeoutError):
            return "is unreachable"
        init: dict[str, Any] = {"type": "connection_init"}
        authorization = self.headers.get("authorization")
        if authorization:
            init["payload"] = {"Authorization": authorization}
        if not await self.send(init):
            return "closed the subscription"
        try:
            async with asyncio.timeout(timeout):
                ack = await self.socket.receive()
        except TimeoutError:
            return "did not acknowledge the subscription in time"
        if ack.type != aiohttp.WSMsgType.TEXT:
            return "refused the subscription connection"
        try:
            acknowledged = orjson.loads(ack.data).get("type") == "connection_ack"
        except (orjson.JSONDecodeError, AttributeError):
            acknowledged = False
        return None if acknowledged else "refused the subscription connection"

    async def _read(self) -> None:
        socket = self.socket
        assert socket is not None
        graph = self.owner.graph_of(self.url)
        limit = self.owner.max_queued
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                return
            try:
                frame = orjson.loads(message.data)
            except orjson.JSONDecodeError:
                return  # not the protocol: the operations end as closed
            if not isinstance(frame, dict):
                return
            kind = frame.get("type")
            if kind == "ping":
                await self.send({"type": "pong"})
                continue
            operation_id = frame.get("id")
            operation = self.operations.get(operation_id) if isinstance(operation_id, str) else None
            if operation is None or operation.ended:
                continue  # an operation that already ended here: its late events go nowhere
            if kind == "next":
                if len(operation.events) >= limit:
                    operation.push(_behind(graph), last=True)
                    await self.send({"id": operation.id, "type": "complete"})
                else:
                    operation.push(frame.get("payload") or {})
            elif kind == "error":
                operation.push({"data": None, "errors": frame.get("payload") or []}, last=True)
            elif kind == "complete":
                operation.end()


class MultiplexedSubscriptions:
    """Upstream subscriptions over shared sockets, one set of sockets per caller and subgraph."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 10.0,
        max_operations: int = 500,
        max_queued: int = 256,
        max_message_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._urls = {name: _ws_url(url) for name, url in urls.items()}
        self._graphs = {url: name for name, url in self._urls.items()}
        self.timeout = timeout
        self.max_operations = max_operations
        self.max_queued = max_queued
        self.max_message_bytes = max_message_bytes
        self._open: dict[_Key, _Connection] = {}  # the connection new operations join, per key
        self._live: set[_Connection] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def connections(self) -> int:
        """Upstream sockets open or opening now."""
        return len(self._live)

    def graph_of(self, url: str) -> str:
        """The subgraph's name for an upstream URL (what its errors name)."""
        return self._graphs.get(url, url)

    def client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            # No limit: subscriptions are bounded by the per-user quotas, not by a pool.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                skip_auto_headers=("User-Agent",),
            )
        return session

    def retire(self, connection: _Connection) -> None:
        """Take a connection out of use: no new operation joins it; closed once empty."""
        if self._open.get(connection.key) is connection:
            del self._open[connection.key]
        if not connection.operations:
            self._live.discard(connection)
            if not connection.closing:
                connection.shut()

    def _join(self, key: _Key, url: str, headers: dict[str, str]) -> tuple[_Connection, _Operation]:
        connection = self._open.get(key)
        if connection is None or connection.closing:
            connection = _Connection(self, key, url, headers)
            self._open[key] = connection
            self._live.add(connection)
        operation = connection.add()
        if len(connection.operations) >= self.max_operations:
            del self._open[key]  # full: the next operation opens another
        return connection, operation

    async def subscribe(
        self, subgraph: str, query: str, variables: Mapping[str, Any] | None, ctx: RequestContext
    ) -> AsyncIterator[JSON]:
        """Subscribe over a shared socket; yields each `next` payload, errors as results."""
        url = self._urls.get(subgraph)
        if url is None:
            yield unavailable(subgraph, "is not in the supergraph")
            return
        headers = {
            name: value
            for name, value in sorted(ctx.headers.items())
            if name.lower() not in _NOT_FORWARDED
        }
        connection, operation = self._join((url, tuple(headers.items())), url, headers)
        try:
            failure = await asyncio.shield(connection.ready)
            if failure is not None:
                operation.end()
                yield unavailable(subgraph, failure)
                return
            payload: dict[str, Any] = {"query": query}
            if variables:
                payload["variables"] = variables
            if not operation.ended:
                operation.subscribed = True
                await connection.send({"id": operation.id, "type": "subscribe", "payload": payload})
            loop = asyncio.get_running_loop()
            events = operation.events
            while True:
                while events:
                    yield events.popleft()
                if operation.ended:
                    return
                operation.wakeup = loop.create_future()
                await operation.wakeup
                operation.wakeup = None
        finally:
            await connection.leave(operation)

    async def close(self) -> None:
        """Close every upstream socket; operations still running end as closed."""
        live = list(self._live)
        self._open.clear()
        for connection in live:
            connection.shut()
        await asyncio.gather(*(connection.task for connection in live), return_exceptions=True)
        self._live.clear()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class _Flight:
    """A fetch in flight for subscription events, and how many others wait on its answer."""

    __slots__ = ("answer", "joiners")

    def __init__(self, answer: asyncio.Future[bytes | None]) -> None:
        self.answer = answer  # the answer encoded, or None when the fetch was abandoned
        self.joiners = 0


class MultiplexingTransport(HttpTransport):
    """`HttpTransport` whose subscriptions share upstream sockets (`MultiplexedSubscriptions`).

    The fetches that complete a subscription's events are shared too: one change reaches
    every subscription following it at the same moment, and each event's execution then
    asks the same `_entities` of the same subgraph. Identical idempotent fetches made for
    subscription events while one is in flight — same subgraph, document, variables and
    forwarded headers (the request's own id and trace context aside, as for coalesced
    queries) — ride that one request, and each gets its own copy of the answer. Queries
    and mutations never share here (queries coalesce at the edge, `gateway.coalescing`).
    """

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 10.0,
        max_connections: int = 200,
        max_response_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        super().__init__(
            urls,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
        )
        self.subscriptions = MultiplexedSubscriptions(
            urls, timeout=timeout, max_message_bytes=max_response_bytes
        )
        # The contexts of running subscriptions (by identity: each stays alive while its
        # subscription runs), and the shared fetches in flight.
        self._live: dict[int, int] = {}
        self._flights: dict[Hashable, _Flight] = {}
        self.shared_fetches = 0

    def subscribe(
        self, subgraph: str, query: str, variables: Mapping[str, Any] | None, ctx: RequestContext
    ) -> AsyncIterator[JSON]:
        """Subscribe over a socket shared with the caller's other operations on `subgraph`."""
        return self._following(ctx, self.subscriptions.subscribe(subgraph, query, variables, ctx))

    async def _following(
        self, ctx: RequestContext, events: AsyncIterator[JSON]
    ) -> AsyncIterator[JSON]:
        key = id(ctx)
        self._live[key] = self._live.get(key, 0) + 1
        try:
            async for event in events:
                yield event
        finally:
            held = self._live.pop(key) - 1
            if held:
                self._live[key] = held
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    async def fetch(
        self,
        subgraph: str,
        query: str,
        variables: Mapping[str, Any] | None,
        ctx: RequestContext,
        *,
        idempotent: bool = False,
    ) -> JSON:
        """A fetch; one for a subscription's event shares an identical one in flight."""
        if not idempotent or id(ctx) not in self._live:
            return await super().fetch(subgraph, query, variables, ctx, idempotent=idempotent)
        try:
            encoded = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS) if variables else b""
        except TypeError:
            return await super().fetch(subgraph, query, variables, ctx, idempotent=idempotent)
        headers = tuple(
            sorted(
                (name, value) for name, value in ctx.headers.items() if name not in IDENTITY_HEADERS
            )
        )
        key = (subgraph, query, encoded, headers)
        flight = self._flights.get(key)
        if flight is not None:
            flight.joiners += 1
            self.shared_fetches += 1
            encoded_answer = await asyncio.shield(flight.answer)
            if encoded_answer is not None:
                answer: JSON = orjson.loads(encoded_answer)  # a copy of its own
                return answer
            # the fetch it joined was abandoned (its caller went away): a fetch of its own
            return await super().fetch(subgraph, query, variables, ctx, idempotent=True)
        # The first one fetches itself (no task of its own: a fetch nobody joins costs what
        # it did) and hands its joiners the answer encoded, before its execution merges
        # into it.
        flight = self._flights[key] = _Flight(asyncio.get_running_loop().create_future())
        result: bytes | None = None
        try:
            fetched = await super().fetch(subgraph, query, variables, ctx, idempotent=True)
            if flight.joiners:
                result = orjson.dumps(fetched)
            return fetched
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
            flight.answer.set_result(result)

    async def close(self) -> None:
        """Close the upstream subscription sockets and the pooled connections."""
        await self.subscriptions.close()
        await super().close()


def _ws_url(url: str) -> str:
    return "ws" + url[4:] if url.startswith("http") else url


def _behind(graph: str) -> JSON:
    return {
        "data": None,
        "errors": [
            {
                "message": f"Subgraph '{graph}' sent events faster than they were delivered; "
                "the subscription was stopped.",
                "extensions": {
                    "code": "UNAVAILABLE",
                    "serviceName": graph,
                    "reason": "SUBSCRIBER_TOO_SLOW",
                },
            }
        ],
    }
