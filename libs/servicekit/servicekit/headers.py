"""Request header limits: a request whose headers are too large is refused with 431.

Headers are read before any route runs, so without a bound one client can make every
request it sends cost the server memory and parsing time for nothing. The limits follow
what the large HTTP servers and proxies use (8 KiB per header, 16 KiB in all, 100 headers);
the refused value is logged truncated, once per client address and header name, so a flood
of them cannot fill the logs either.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from itertools import chain

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HeaderLimits:
    max_header_bytes: int = 8 * 1024
    max_total_bytes: int = 16 * 1024
    max_count: int = 100


class LimitHeaders:
    """ASGI middleware answering 431 (HTTP) or refusing the handshake (WebSocket)."""

    def __init__(self, app: ASGIApp, limits: HeaderLimits | None = None) -> None:
        self.app = app
        self.limits = limits or HeaderLimits()
        self._within = min(self.limits.max_header_bytes, self.limits.max_total_bytes)
        self._logged: set[tuple[str, str]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offending = self._offending(scope["headers"])
        if offending is None:
            await self.app(scope, receive, send)
            return
        name, value = offending
        self._log_once(scope, name, value)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": "Request header fields too large",
                        "extensions": {"code": "BAD_REQUEST", "reason": "HEADERS_TOO_LARGE"},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 431,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _offending(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, bytes] | None:
        limits = self.limits
        if len(headers) > limits.max_count:
            return "(header count)", str(len(headers)).encode()
        # Every request but a refused one: all headers together within both byte limits,
        # summed in C, so no header alone can pass one either.
        if sum(map(len, chain.from_iterable(headers))) <= self._within:
            return None
        total = 0
        for name, value in headers:
            size = len(name) + len(value)
            if size > limits.max_header_bytes:
                return name.decode("latin-1"), value
            total += size
            if total > limits.max_total_bytes:
                return "(all headers)", str(total).encode()
        return None

    def _log_once(self, scope: Scope, name: str, value: bytes) -> None:
        client = scope.get("client")
        key = (str(client[0]) if client else "?", name)
        if key in self._logged:
            return
        if len(self._logged) >= 10_000:
            self._logged.clear()  # bounded: at worst a client is logged once more
        self._logged.add(key)
        log.warning(
            "refused request headers from %s: %s = %r… (%d bytes)",
            key[0],
            name[:64],
            value[:64],
            len(value),
        )
