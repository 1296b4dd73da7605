"""How the engine reaches subgraphs: pooled keep-alive HTTP, and graphql-transport-ws.

Plain `http://` subgraphs are reached through the gateway's own HTTP/1.1 keep-alive
client (`gateway.http1`), which costs a fraction of a general-purpose client's CPU per
fetch. `https://` subgraphs and WebSocket subscriptions go through one aiohttp session
(created in the running loop on first use). Bodies go through orjson. Either way a
mutation is never sent twice, and an answer larger than `max_response_bytes` is refused.
A subgraph that cannot be reached, times out, answers too much or answers something that
is not GraphQL becomes a GraphQL error response: callers always get a result, never an
exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from gateway.deadlines import Deadlines
from gateway.executor.run import unavailable
from gateway.http1 import Dropped, Http1Pool, MalformedResponse, ResponseTooLarge
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
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 10.0,
        max_connections: int = 200,
        max_response_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._urls = dict(urls)
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._deadlines = Deadlines(timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        # Subscriptions hold their sockets for hours: they get sessions of their own, so no
        # number of them can take the connections queries and mutations need.
        self._subscription_session: aiohttp.ClientSession | None = None
        self._targets = {name: _target(url) for name, url in self._urls.items()}
        self._pool: Http1Pool | None = None
        # The forwarded part of a request head by the headers it forwards: the fetches of
        # one client request (a deep query makes eight) encode it once between them.
        self._forwarded: dict[tuple[tuple[str, str], ...], bytes] = {}

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._new_session(limit=self._max_connections)
        return session

    def _subscription_client(self) -> aiohttp.ClientSession:
        session = self._subscription_session
        if session is None or session.closed:
            # No limit: each subscription is one socket, bounded by the per-user quotas.
            session = self._subscription_session = self._new_session(limit=0)
        return session

    def _new_session(self, *, limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=60, ttl_dns_cache=300)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            json_serialize=_dumps,
            skip_auto_headers=("User-Agent",),
        )

    @staticmethod
    def _headers(ctx: RequestContext) -> dict[str, str]:
        headers = {k: v for k, v in ctx.headers.items() if k.lower() not in _HOP_HEADERS}
        headers.update(_JSON_HEADERS)
        return headers

    async def fetch(
        self,
        subgraph: str,
        query: str,
        variables: Mapping[str, Any] | None,
        ctx: RequestContext,
        *,
        idempotent: bool = False,
    ) -> JSON:
        """POST one operation; failures come back as a GraphQL error response.

        `idempotent` (a query) lets a request that met a connection the subgraph had just
        closed go again on a fresh one; a mutation is never sent twice, and one whose
        connection dropped before the answer is reported as of unknown outcome.
        """
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
                    status, raw = await self._post(target, body, ctx, idempotent)
                else:
                    status, raw = await self._post_tls(url, body, ctx)
        except TimeoutError:
            return unavailable(subgraph, "did not answer in time")
        except ResponseTooLarge:
            return unavailable(
                subgraph, f"answered with more than {self._max_response_bytes} bytes"
            )
        except MalformedResponse:
            return unavailable(subgraph, "answered with malformed HTTP")
        except (Dropped, aiohttp.ServerDisconnectedError):
            if idempotent:
                return unavailable(subgraph, "closed the connection before answering")
            return unavailable(
                subgraph,
                "closed the connection before answering; the operation was not sent again, "
                "so whether it took effect is unknown",
            )
        except (aiohttp.ClientError, OSError):
            return unavailable(subgraph, "is unreachable")
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict) and ("data" in decoded or "errors" in decoded):
            return decoded
        return unavailable(subgraph, f"answered HTTP {status} without a GraphQL response")

    async def _post(
        self, target: _Target, body: bytes, ctx: RequestContext, idempotent: bool
    ) -> tuple[int, bytes]:
        pool = self._pool
        if pool is None:
            pool = self._pool = Http1Pool(self._max_connections, max_body=self._max_response_bytes)
        request = b"".join(
            (
                target.head,
                self._forwarded_head(ctx.headers),
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        return await pool.post(target.host, target.port, request, idempotent=idempotent)

    def _forwarded_head(self, headers: Mapping[str, str]) -> bytes:
        """The header lines forwarded to a plain-HTTP subgraph, encoded (hop headers and
        values that would split the head left out)."""
        key = tuple(headers.items())
        found = self._forwarded.get(key)
        if found is None:
            if len(self._forwarded) >= 1024:  # bounded: the entries of past requests go
                self._forwarded.clear()
            found = self._forwarded[key] = "".join(
                f"{name}: {value}\r\n"
                for name, value in key
                if name.lower() not in _HOP_HEADERS and "\r" not in value and "\n" not in value
            ).encode("latin-1")
        return found

    async def _post_tls(self, url: str, body: bytes, ctx: RequestContext) -> tuple[int, bytes]:
        """POST through aiohttp, reading at most `max_response_bytes` of the answer.

        Leaving the response unread closes its connection rather than returning it to
        aiohttp's pool.
        """
        limit = self._max_response_bytes
        async with self._client().post(url, data=body, headers=self._headers(ctx)) as response:
            if response.content_length is not None and response.content_length > limit:
                raise ResponseTooLarge
            raw = bytearray()
            async for chunk in response.content.iter_chunked(65_536):
                raw += chunk
                if len(raw) > limit:
                    raise ResponseTooLarge
            return response.status, bytes(raw)

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
            socket = await self._subscription_client().ws_connect(
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
        for session in (self._session, self._subscription_session):
            if session is not None and not session.closed:
                await session.close()
        self._session = None
        self._subscription_session = None
