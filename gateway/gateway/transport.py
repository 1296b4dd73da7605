"""How the engine reaches subgraphs: pooled keep-alive HTTP, and graphql-transport-ws.

Plain `http://` subgraphs are reached through a small HTTP/1.1 keep-alive client written
on asyncio's protocol layer: on the gateway's hot path it costs well under half the CPU
of a general-purpose client per fetch. `https://` subgraphs and WebSocket subscriptions go
through one aiohttp session (created in the running loop on first use). Bodies go
through orjson. A subgraph that cannot be reached, times
out or answers something that is not GraphQL becomes a GraphQL error response: callers
always get a result, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import orjson

from gateway.deadlines import Deadlines
from gateway.executor.run import unavailable
from gateway.types import JSON, RequestContext

__all__ = ["WS_PROTOCOL", "HttpTransport"]

WS_PROTOCOL = "graphql-transport-ws"

# Headers that describe one hop, not the caller: never forwarded.
_HOP_HEADERS = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "content-length",
        "content-type",
        "accept",
        "accept-encoding",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    }
)
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class _ProtocolError(ConnectionError):
    """The subgraph's answer is not HTTP/1.1 we can read."""


class _Exchange(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False
        self.answered = False  # any byte of the current response arrived
        self.headed = False
        self.status = 0
        self.length: int | None = None
        self.chunked = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self.headed and self.length is None and not self.chunked:
                waiter.set_result((self.status, bytes(self.buffer)))  # body ends at close
            else:
                waiter.set_exception(ConnectionResetError("subgraph closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.answered = True
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            try:
                self._read()
            except (ValueError, IndexError) as error:
                self.waiter.set_exception(_ProtocolError(str(error)))

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.answered = self.headed = False
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _read(self) -> None:
        buffer = self.buffer
        while not self.headed:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(buffer[:end]).split(b"\r\n")
            del buffer[: end + 4]
            version, status = lines[0].split(b" ", 2)[:2]
            self.status = int(status)
            if 100 <= self.status < 200:
                continue  # an interim answer; the real one follows
            self.length, self.chunked = None, False
            self.keep_alive = version == b"HTTP/1.1"
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    self.length = int(value)
                elif name == b"transfer-encoding":
                    self.chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    self.keep_alive = b"close" not in value.lower()
            self.headed = True
        body: bytes | None
        if self.status in (204, 304):
            body = b""  # no body, whatever the headers say
        elif self.chunked:
            # A complete chunked message ends with an empty line (after the last chunk and
            # any trailers): only then is it worth walking the chunks.
            if not buffer.endswith(b"\r\n\r\n"):
                return
            body = _dechunk(buffer)
            if body is None:
                return
        elif self.length is not None:
            if len(buffer) < self.length:
                return
            body = bytes(buffer[: self.length])
            del buffer[: self.length]
        else:
            return  # the body runs until the connection closes
        assert self.waiter is not None
        self.waiter.set_result((self.status, body))


def _dechunk(buffer: bytearray) -> bytes | None:
    """A complete chunked body taken off the buffer, or None while it is incomplete."""
    body = bytearray()
    position = 0
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";", 1)[0].strip(), 16)
        position = line_end + 2
        if size == 0:
            if buffer[position : position + 2] == b"\r\n":
                end = position + 2
            else:
                trailer_end = buffer.find(b"\r\n\r\n", position)
                if trailer_end < 0:
                    return None
                end = trailer_end + 4
            del buffer[:end]
            return bytes(body)
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position : position + size]
        position += size + 2


class _Http1Pool:
    """Keep-alive connections per host, at most `limit` requests in flight in all."""

    def __init__(self, limit: int) -> None:
        self._idle: dict[tuple[str, int], list[_Exchange]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._closed = False

    async def post(self, host: str, port: int, request: bytes) -> tuple[int, bytes]:
        async with self._slots:
            idle = self._idle.setdefault((host, port), [])
            exchange = None
            while idle and exchange is None:
                candidate = idle.pop()
                exchange = None if candidate.lost else candidate
            if exchange is not None:
                try:
                    return await self._exchange(exchange, request, idle)
                except ConnectionResetError:
                    if exchange.answered:
                        raise
                    # The server dropped an idle connection as the request left: the
                    # request never reached it, so one fresh connection may carry it.
            exchange = await self._open(host, port)
            return await self._exchange(exchange, request, idle)

    @staticmethod
    async def _open(host: str, port: int) -> _Exchange:
        loop = asyncio.get_running_loop()
        _, exchange = await loop.create_connection(_Exchange, host, port)
        return exchange

    async def _exchange(
        self, exchange: _Exchange, request: bytes, idle: list[_Exchange]
    ) -> tuple[int, bytes]:
        try:
            answer = await exchange.send(request)
        except BaseException:
            exchange.close()
            raise
        if exchange.keep_alive and not exchange.lost and not self._closed:
            idle.append(exchange)
        else:
            exchange.close()
        return answer

    def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for exchange in idle:
                exchange.close()
        self._idle.clear()


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one plain-HTTP subgraph lives, and the fixed head of every request to it."""

    host: str
    port: int
    head: bytes


def _target(url: str) -> _Target | None:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\n"
    ).encode("latin-1")
    return _Target(parts.hostname, parts.port or 80, head)


class HttpTransport:
    """`SubgraphTransport` over HTTP POST and graphql-transport-ws WebSockets."""

    enforces_timeout = True  # every fetch is bounded by `timeout` here

    def __init__(
        self, urls: Mapping[str, str], *, timeout: float = 10.0, max_connections: int = 200
    ) -> None:
        self._urls = dict(urls)
        self._timeout = timeout
        self._deadlines = Deadlines(timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._targets = {name: _target(url) for name, url in self._urls.items()}
        self._pool: _Http1Pool | None = None

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=60,
                ttl_dns_cache=300,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                json_serialize=_dumps,
                skip_auto_headers=("User-Agent",),
            )
            self._session = session
        return session

    @staticmethod
    def _headers(ctx: RequestContext) -> dict[str, str]:
        headers = {k: v for k, v in ctx.headers.items() if k.lower() not in _HOP_HEADERS}
        headers.update(_JSON_HEADERS)
        return headers

    async def fetch(
        self, subgraph: str, query: str, variables: Mapping[str, Any] | None, ctx: RequestContext
    ) -> JSON:
        """POST one operation; failures come back as a GraphQL error response."""
        url = self._urls.get(subgraph)
        if url is None:
            return unavailable(subgraph, "is not in the supergraph")
        body = orjson.dumps(
            {"query": query, "variables": variables} if variables else {"query": query}
        )
        target = self._targets.get(subgraph)
        try:
            async with self._deadlines.guard():
                if target is not None:
                    status, raw = await self._post(target, body, ctx)
                else:
                    async with self._client().post(
                        url, data=body, headers=self._headers(ctx)
                    ) as response:
                        raw = await response.read()
                        status = response.status
        except TimeoutError:
            return unavailable(subgraph, "did not answer in time")
        except _ProtocolError:
            return unavailable(subgraph, "answered with malformed HTTP")
        except (aiohttp.ClientError, OSError):
            return unavailable(subgraph, "is unreachable")
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict) and ("data" in decoded or "errors" in decoded):
            return decoded
        return unavailable(subgraph, f"answered HTTP {status} without a GraphQL response")

    async def _post(self, target: _Target, body: bytes, ctx: RequestContext) -> tuple[int, bytes]:
        pool = self._pool
        if pool is None:
            pool = self._pool = _Http1Pool(self._max_connections)
        forwarded = "".join(
            f"{name}: {value}\r\n"
            for name, value in ctx.headers.items()
            if name.lower() not in _HOP_HEADERS and "\r" not in value and "\n" not in value
        )
        request = b"".join(
            (
                target.head,
                f"{forwarded}Content-Length: {len(body)}\r\n\r\n".encode("latin-1"),
                body,
            )
        )
        return await pool.post(target.host, target.port, request)

    async def subscribe(
        self, subgraph: str, query: str, variables: Mapping[str, Any] | None, ctx: RequestContext
    ) -> AsyncIterator[JSON]:
        """Subscribe over graphql-transport-ws; yields each `next` payload, errors as results."""
        url = self._urls.get(subgraph)
        if url is None:
            yield unavailable(subgraph, "is not in the supergraph")
            return
        ws_url = "ws" + url[4:] if url.startswith("http") else url
        init: dict[str, Any] = {"type": "connection_init"}
        authorization = ctx.headers.get("authorization")
        if authorization:
            init["payload"] = {"Authorization": authorization}
        headers = {k: v for k, v in ctx.headers.items() if k.lower() not in _HOP_HEADERS}
        try:
            socket = await self._client().ws_connect(
                ws_url,
                protocols=(WS_PROTOCOL,),
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_close=self._timeout),
                heartbeat=None,
            )
        except (aiohttp.ClientError, OSError, TimeoutError):
            yield unavailable(subgraph, "is unreachable")
            return
        completed = False
        try:
            await socket.send_str(_dumps(init))
            try:
                async with asyncio.timeout(self._timeout):
                    ack = await socket.receive()
            except TimeoutError:
                yield unavailable(subgraph, "did not acknowledge the subscription in time")
                return
            if ack.type != aiohttp.WSMsgType.TEXT or orjson.loads(ack.data).get("type") != (
                "connection_ack"
            ):
                yield unavailable(subgraph, "refused the subscription connection")
                return
            payload: dict[str, Any] = {"query": query}
            if variables:
                payload["variables"] = variables
            await socket.send_str(_dumps({"id": "1", "type": "subscribe", "payload": payload}))
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                frame = orjson.loads(message.data)
                kind = frame.get("type")
                if kind == "next":
                    yield frame.get("payload") or {}
                elif kind == "error":
                    completed = True
                    yield {"data": None, "errors": frame.get("payload") or []}
                    return
                elif kind == "complete":
                    completed = True
                    return
                elif kind == "ping":
                    await socket.send_str('{"type":"pong"}')
            if not completed:
                completed = True
                yield unavailable(subgraph, "closed the subscription")
        finally:
            if not completed and not socket.closed:
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    await socket.send_str('{"id":"1","type":"complete"}')
            await socket.close()

    async def close(self) -> None:
        """Close pooled connections; the transport reopens on next use."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
