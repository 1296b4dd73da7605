"""How the engine reaches subgraphs: pooled keep-alive HTTP, and graphql-transport-ws.

One aiohttp session (created in the running loop on first use) keeps connections to
every subgraph alive; bodies go through orjson. A subgraph that cannot be reached, times
out or answers something that is not GraphQL becomes a GraphQL error response: callers
always get a result, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

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


class HttpTransport:
    """`SubgraphTransport` over HTTP POST and graphql-transport-ws WebSockets."""

    def __init__(
        self, urls: Mapping[str, str], *, timeout: float = 10.0, max_connections: int = 200
    ) -> None:
        self._urls = dict(urls)
        self._timeout = timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

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
        body = {"query": query, "variables": variables} if variables else {"query": query}
        try:
            async with self._client().post(
                url, data=orjson.dumps(body), headers=self._headers(ctx)
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            return unavailable(subgraph, "did not answer in time")
        except (aiohttp.ClientError, OSError):
            return unavailable(subgraph, "is unreachable")
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict) and ("data" in decoded or "errors" in decoded):
            return decoded
        return unavailable(subgraph, f"answered HTTP {status} without a GraphQL response")

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
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
