"""Inbound request coalescing: identical queries in flight share one execution.

When a listing is shared widely, many clients ask the same query at the same moment; a
burst of identical requests then costs one plan run and one set of subgraph fetches
instead of one per request, as Hive Gateway and Cosmo Router do.

Two requests are identical when they run on the same engine the same document, operation
name and variables, for the same principal, with the same headers forwarded to subgraphs.
The headers that only name the request itself (`x-request-id`, the W3C trace context) are
left out of the comparison: the shared execution carries the first request's. Anything a
subgraph could answer differently on (`authorization`, `x-device-id`, `x-forwarded-for`)
is compared, so two users, or a user and an anonymous caller, never share an answer.

Only queries coalesce; a mutation or a subscription always runs on its own (the server
does not ask). A request arriving after the shared execution finished starts a new one:
nothing is remembered past the flight (caching is `gateway.caching`'s business).

The shared execution runs as a task of its own, so a client that goes away does not
cancel the others' answer; it is cancelled only when every request waiting on it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable

import orjson

from gateway.types import JSON, GraphQLRequest, RequestContext

__all__ = ["IDENTITY_HEADERS", "Coalescer", "coalescing_key"]

# Headers that identify one request, not what it asks: never part of the key.
IDENTITY_HEADERS = frozenset(("x-request-id", "traceparent", "tracestate"))


def coalescing_key(engine: object, request: GraphQLRequest, ctx: RequestContext) -> Hashable | None:
    """What makes two requests share one execution, or None when it cannot be told."""
    variables = request.variables
    if variables:
        try:
            encoded = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
    else:
        encoded = b""
    headers = tuple(
        sorted((name, value) for name, value in ctx.headers.items() if name not in IDENTITY_HEADERS)
    )
    return (
        id(engine),
        request.query,
        request.operation_name,
        encoded,
        ctx.principal_id,
        ctx.client_id,
        headers,
    )


class _Flight:
    """One shared execution and how many requests still wait on it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[JSON]) -> None:
        self.task = task
        self.waiters = 0


class Coalescer:
    """Runs `work` once per key among the requests in flight with that key.

    `shared` counts the requests answered by another's execution (the metric
    `gateway_coalesced_requests_total` is fed from `on_shared`).
    """

    def __init__(self, *, on_shared: Callable[[], None] | None = None) -> None:
        self._flights: dict[Hashable, _Flight] = {}
        self._on_shared = on_shared
        self.shared = 0

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    async def run(self, key: Hashable, work: Callable[[], Awaitable[JSON]]) -> JSON:
        flight = self._flights.get(key)
        if flight is None:
            task = asyncio.ensure_future(work())
            flight = self._flights[key] = _Flight(task)
            task.add_done_callback(lambda _: self._land(key, flight))
        else:
            self.shared += 1
            if self._on_shared is not None:
                self._on_shared()
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            if not flight.task.done() and flight.waiters == 1:
                flight.task.cancel()
            raise
        finally:
            flight.waiters -= 1

    def _land(self, key: Hashable, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
