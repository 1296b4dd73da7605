"""Load shedding and deadlines: past a number of requests in flight the next ones are refused
at once, and a request that outlives its deadline is cancelled.

A process that accepts every request under overload makes every request slow: each waits
for the event loop and for a pooled database connection, the queue grows, deadlines pass
and the work done is thrown away. Refusing the excess immediately, with 503, code
UNAVAILABLE and `Retry-After`, keeps the admitted requests fast and tells clients (and the
gateway, and the load balancer) to go elsewhere or come back. Probes are never refused:
a busy replica is alive and ready.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_EXEMPT = ("/healthz", "/readyz", "/metrics", "/health")

_BODY = json.dumps(
    {
        "errors": [
            {
                "message": "The service is overloaded; try again shortly.",
                "extensions": {"code": "UNAVAILABLE", "reason": "OVERLOADED"},
            }
        ]
    }
).encode()


class ShedLoad:
    """ASGI middleware admitting at most `max_in_flight` HTTP requests at once (0: no limit)."""

    def __init__(self, app: ASGIApp, max_in_flight: int = 0) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_in_flight <= 0 or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.shed += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_BODY)).encode()),
                        (b"retry-after", b"1"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


_LATE = json.dumps(
    {
        "errors": [
            {
                "message": "The request took longer than the service allows; try again.",
                "extensions": {"code": "UNAVAILABLE", "reason": "DEADLINE_EXCEEDED"},
            }
        ]
    }
).encode()


class Deadline:
    """ASGI middleware giving every HTTP request at most `seconds` (0: no deadline).

    Past it the handler is cancelled — its database connection and other resources are
    released by the cancellation as by any other exit — and the client gets 503
    UNAVAILABLE, unless the answer had already begun (then the connection is closed).
    Probes and WebSockets (long-lived by design) have no deadline.
    """

    def __init__(self, app: ASGIApp, seconds: float = 0.0) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0 or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if started:
                raise
            await send_late(send)


async def send_late(send: Send) -> None:
    """The 503 DEADLINE_EXCEEDED answer of a request cancelled before it began to answer."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_LATE)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _LATE})
