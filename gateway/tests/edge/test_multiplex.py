"""Upstream subscriptions share a graphql-transport-ws socket per caller and subgraph."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from gateway.multiplex import MultiplexedSubscriptions, MultiplexingTransport
from gateway.types import JSON, RequestContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .test_integration import serve


@dataclass
class Upstream:
    """One socket the subgraph accepted: what came on it, and a way to answer on it."""

    socket: WebSocket
    headers: dict[str, str]
    init: JSON | None = None
    subscribed: dict[str, JSON] = field(default_factory=dict)  # id -> payload
    completed: list[str] = field(default_factory=list)
    pongs: int = 0
    closed: bool = False

    async def send(self, message: JSON) -> None:
        await self.socket.send_text(json.dumps(message))


@dataclass
class Subgraph:
    """A graphql-transport-ws subgraph whose events the test sends by hand."""

    url: str = ""
    sockets: list[Upstream] = field(default_factory=list)
    refuse: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    fetched: list[dict[str, str]] = field(default_factory=list)  # each POST's headers
    answer: asyncio.Event = field(default_factory=asyncio.Event)  # POSTs wait for it

    def touch(self) -> None:
        self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for the subgraph to see something (never used to prove an absence)."""
        async with asyncio.timeout(10):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


def subgraph_app(state: Subgraph) -> Starlette:
    async def ws(socket: WebSocket) -> None:
        await socket.accept(subprotocol="graphql-transport-ws")
        upstream = Upstream(socket, dict(socket.headers))
        state.sockets.append(upstream)
        try:
            upstream.init = json.loads(await socket.receive_text())
            state.touch()
            if state.refuse:
                await socket.send_text('{"type":"connection_error"}')
            else:
                await socket.send_text('{"type":"connection_ack"}')
            while True:
                message = json.loads(await socket.receive_text())
                if message["type"] == "subscribe":
                    upstream.subscribed[message["id"]] = message["payload"]
                elif message["type"] == "complete":
                    upstream.completed.append(message["id"])
                elif message["type"] == "pong":
                    upstream.pongs += 1
                state.touch()
        except WebSocketDisconnect:
            pass
        finally:
            upstream.closed = True
            state.touch()

    async def http(request: Request) -> JSONResponse:
        state.fetched.append(dict(request.headers))
        state.touch()
        await state.answer.wait()
        body = await request.json()
        return JSONResponse({"data": {"_entities": body["variables"]["representations"]}})

    return Starlette(routes=[Route("/live", http, methods=["POST"]), WebSocketRoute("/live", ws)])


@pytest.fixture
async def subgraph() -> AsyncIterator[Subgraph]:
    state = Subgraph()
    server, task, address = await serve(subgraph_app(state))
    state.url = f"http://{address}/live"
    try:
        yield state
    finally:
        server.should_exit = True
        await task


def caller(token: str | None = None, **headers: str) -> RequestContext:
    forwarded = dict(headers)
    if token:
        forwarded["authorization"] = f"Bearer {token}"
    return RequestContext(headers=forwarded)


async def first(events: AsyncIterator[JSON]) -> JSON:
    async with asyncio.timeout(10):
        return await anext(events)


QUERY = "subscription($t: String) { changed(topic: $t) }"


async def test_one_callers_operations_share_one_socket_with_distinct_ids(
    subgraph: Subgraph,
) -> None:
    client = MultiplexedSubscriptions({"live": subgraph.url}, timeout=5)
    try:
        streams = [client.subscribe("live", QUERY, {"t": str(n)}, caller("ada")) for n in range(5)]
        pending = [asyncio.ensure_future(first(s)) for s in streams]
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 5)
        assert len(subgraph.sockets) == 1
        upstream = subgraph.sockets[0]
        assert upstream.init == {
            "type": "connection_init",
            "payload": {"Authorization": "Bearer ada"},
        }
        assert upstream.headers["authorization"] == "Bearer ada"
        ids = sorted(upstream.subscribed)
        assert len(set(ids)) == 5
        # each event goes to the operation of its id only
        by_topic = {p["variables"]["t"]: i for i, p in upstream.subscribed.items()}
        for topic, operation_id in by_topic.items():
            await upstream.send(
                {"id": operation_id, "type": "next", "payload": {"data": {"changed": topic}}}
            )
        received = await asyncio.gather(*pending)
        assert received == [{"data": {"changed": str(n)}} for n in range(5)]
        assert client.connections == 1
    finally:
        for s in streams:
            await s.aclose()
        await client.close()


async def test_different_principals_never_share_a_socket(subgraph: Subgraph) -> None:
    client = MultiplexedSubscriptions({"live": subgraph.url}, timeout=5)
    contexts = [
        caller("ada"),
        caller("alan"),
        caller(None, **{"x-forwarded-for": "10.0.0.1"}),
        caller(None, **{"x-forwarded-for": "10.0.0.2"}),
        caller("ada", **{"x-device-id": "phone"}),
        # what names one request only does not split (nor is it sent on a shared socket)
        caller("ada", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01"),
    ]
    streams = [client.subscribe("live", QUERY, None, ctx) for ctx in contexts]
    pending = [asyncio.ensure_future(first(s)) for s in streams]
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 6)
        assert len(subgraph.sockets) == 5
        inits = sorted(json.dumps(u.init, sort_keys=True) for u in subgraph.sockets)
        assert inits.count(json.dumps({"type": "connection_init"})) == 2
        ada = [u for u in subgraph.sockets if u.headers.get("authorization") == "Bearer ada"]
        shared = next(u for u in ada if "x-device-id" not in u.headers)
        assert len(shared.subscribed) == 2
        assert "traceparent" not in shared.headers
        addresses = sorted(u.headers.get("x-forwarded-for", "") for u in subgraph.sockets)
        assert addresses == ["", "", "", "10.0.0.1", "10.0.0.2"]
    finally:
        await cancel(pending)
        for s in streams:
            await s.aclose()
        await client.close()


async def test_leaving_completes_upstream_and_the_last_one_closes_the_socket(
    subgraph: Subgraph,
) -> None:
    client = MultiplexedSubscriptions({"live": subgraph.url}, timeout=5)
    one = client.subscribe("live", QUERY, None, caller("ada"))
    two = client.subscribe("live", QUERY, None, caller("ada"))
    pending = [asyncio.ensure_future(first(one)), asyncio.ensure_future(first(two))]
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 2)
        upstream = subgraph.sockets[0]
        first_id, second_id = sorted(upstream.subscribed)
        await cancel(pending[:1])
        await one.aclose()
        await subgraph.until(lambda: upstream.completed == [first_id])
        assert not upstream.closed
        await upstream.send({"id": second_id, "type": "next", "payload": {"data": {"n": 2}}})
        assert await pending[1] == {"data": {"n": 2}}
        await two.aclose()
        await subgraph.until(lambda: upstream.closed)
        assert upstream.completed == [first_id, second_id]
        assert client.connections == 0
        # a later operation opens a fresh socket
        three = client.subscribe("live", QUERY, None, caller("ada"))
        waiting = asyncio.ensure_future(first(three))
        await subgraph.until(lambda: len(subgraph.sockets) == 2 and subgraph.sockets[1].subscribed)
        await cancel([waiting])
        await three.aclose()
    finally:
        await client.close()


async def test_complete_error_and_ping_from_upstream(subgraph: Subgraph) -> None:
    client = MultiplexedSubscriptions({"live": subgraph.url}, timeout=5)
    done = client.subscribe("live", QUERY, None, caller("ada"))
    failing = client.subscribe("live", QUERY, None, caller("ada"))
    events = [
        asyncio.ensure_future(_all(done)),
        asyncio.ensure_future(_all(failing)),
    ]
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 2)
        upstream = subgraph.sockets[0]
        done_id, failing_id = sorted(upstream.subscribed)
        await upstream.send({"type": "ping"})
        await subgraph.until(lambda: upstream.pongs == 1)
        await upstream.send({"id": done_id, "type": "next", "payload": {"data": {"n": 1}}})
        await upstream.send({"id": done_id, "type": "complete"})
        error = [{"message": "no such topic"}]
        await upstream.send({"id": failing_id, "type": "error", "payload": error})
        assert await events[0] == [{"data": {"n": 1}}]
        assert await events[1] == [{"data": None, "errors": error}]
        await subgraph.until(lambda: upstream.closed)
        # ended by the subgraph: nothing to complete
        assert upstream.completed == []
    finally:
        await client.close()


async def test_a_dropped_socket_ends_each_operation_as_unavailable(subgraph: Subgraph) -> None:
    client = MultiplexedSubscriptions({"live": subgraph.url}, timeout=5)
    streams = [client.subscribe("live", QUERY, None, caller("ada")) for _ in range(2)]
    events = [asyncio.ensure_future(_all(s)) for s in streams]
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 2)
        await subgraph.sockets[0].socket.close()
        closed = {
            "data": None,
            "errors": [
                {
                    "message": "Subgraph 'live' closed the subscription.",
                    "extensions": {"code": "UNAVAILABLE", "serviceName": "live"},
                }
            ],
        }
        assert await asyncio.gather(*events) == [[closed], [closed]]
        assert client.connections == 0
    finally:
        await client.close()


async def test_refused_and_unreachable_subgraphs(subgraph: Subgraph) -> None:
    subgraph.refuse = True
    client = MultiplexedSubscriptions(
        {"live": subgraph.url, "gone": "http://127.0.0.1:9/live"}, timeout=5
    )
    try:
        refused = await _all(client.subscribe("live", QUERY, None, caller("ada")))
        gone = await _all(client.subscribe("gone", QUERY, None, caller("ada")))
        unknown = await _all(client.subscribe("nowhere", QUERY, None, caller("ada")))
        assert [r["errors"][0]["message"] for r in (*refused, *gone, *unknown)] == [
            "Subgraph 'live' refused the subscription connection.",
            "Subgraph 'gone' is unreachable.",
            "Subgraph 'nowhere' is not in the supergraph.",
        ]
        assert client.connections == 0
    finally:
        await client.close()


async def test_a_full_socket_opens_another(subgraph: Subgraph) -> None:
    client = MultiplexedSubscriptions({"live": subgraph.url}, timeout=5, max_operations=2)
    streams = [client.subscribe("live", QUERY, None, caller("ada")) for _ in range(5)]
    pending = [asyncio.ensure_future(first(s)) for s in streams]
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 5)
        assert sorted(len(u.subscribed) for u in subgraph.sockets) == [1, 2, 2]
    finally:
        await cancel(pending)
        for s in streams:
            await s.aclose()
        await client.close()


async def test_an_operation_that_falls_behind_is_stopped_alone(subgraph: Subgraph) -> None:
    client = MultiplexedSubscriptions({"live": subgraph.url}, timeout=5, max_queued=3)
    slow = client.subscribe("live", QUERY, None, caller("ada"))
    quick = client.subscribe("live", QUERY, None, caller("ada"))
    slow_first = asyncio.ensure_future(first(slow))
    quick_first = asyncio.ensure_future(first(quick))
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 2)
        upstream = subgraph.sockets[0]
        slow_id, quick_id = sorted(upstream.subscribed)
        await upstream.send({"id": slow_id, "type": "next", "payload": {"data": {"n": 0}}})
        assert await slow_first == {"data": {"n": 0}}
        for n in range(1, 6):  # nobody reads `slow` now
            await upstream.send({"id": slow_id, "type": "next", "payload": {"data": {"n": n}}})
        await upstream.send({"id": quick_id, "type": "next", "payload": {"data": {"n": 9}}})
        assert await quick_first == {"data": {"n": 9}}
        await subgraph.until(lambda: upstream.completed == [slow_id])
        rest = await _all(slow)
        assert rest[:3] == [{"data": {"n": n}} for n in (1, 2, 3)]
        assert rest[3]["errors"][0]["extensions"]["reason"] == "SUBSCRIBER_TOO_SLOW"
        assert len(rest) == 4
        assert not upstream.closed
        await quick.aclose()
    finally:
        await client.close()


ENTITIES = (
    "query($representations: [_Any!]!) { _entities(representations: $representations) { id } }"
)


async def test_fetches_for_subscription_events_share_one_request(subgraph: Subgraph) -> None:
    transport = MultiplexingTransport({"live": subgraph.url}, timeout=5)
    ada, alan, query_caller = caller("ada"), caller("alan"), caller("ada")
    streams = [transport.subscribe("live", QUERY, None, ctx) for ctx in (ada, alan)]
    waiting = [asyncio.ensure_future(first(s)) for s in streams]
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 2)
        reps = {"representations": [{"__typename": "Item", "id": "1"}]}

        def fetch(ctx: RequestContext, idempotent: bool = True) -> asyncio.Future[JSON]:
            return asyncio.ensure_future(
                transport.fetch("live", ENTITIES, reps, ctx, idempotent=idempotent)
            )

        # three events of ada's subscription (another socket's copy of the context too),
        # one of alan's, a query and a mutation of ada's
        fetches = [fetch(ada), fetch(ada), fetch(ada), fetch(alan), fetch(query_caller)]
        fetches.append(fetch(ada, idempotent=False))
        await subgraph.until(lambda: len(subgraph.fetched) == 4)
        subgraph.answer.set()
        answers = await asyncio.gather(*fetches)
        expected = {"data": {"_entities": reps["representations"]}}
        assert answers == [expected] * 6
        assert answers[0] is not answers[1]  # each execution merges into its own copy
        assert transport.shared_fetches == 2
        authorizations = sorted(h["authorization"] for h in subgraph.fetched)
        assert authorizations == ["Bearer ada", "Bearer ada", "Bearer ada", "Bearer alan"]
    finally:
        await cancel(waiting)
        await transport.close()
    # the subscriptions ended with their consumers: no socket is left open
    assert transport.subscriptions.connections == 0


async def test_a_shared_fetch_whose_first_caller_left_is_fetched_again(
    subgraph: Subgraph,
) -> None:
    transport = MultiplexingTransport({"live": subgraph.url}, timeout=5)
    ada = caller("ada")
    stream = transport.subscribe("live", QUERY, None, ada)
    waiting = asyncio.ensure_future(first(stream))
    try:
        await subgraph.until(lambda: sum(len(u.subscribed) for u in subgraph.sockets) == 1)
        reps = {"representations": [{"__typename": "Item", "id": "1"}]}
        leader = asyncio.ensure_future(
            transport.fetch("live", ENTITIES, reps, ada, idempotent=True)
        )
        await subgraph.until(lambda: len(subgraph.fetched) == 1)
        joiner = asyncio.ensure_future(
            transport.fetch("live", ENTITIES, reps, ada, idempotent=True)
        )
        async with asyncio.timeout(10):  # until the joiner waits on the leader's answer
            while transport.shared_fetches == 0:
                await asyncio.sleep(0)
        await cancel([leader])
        await subgraph.until(lambda: len(subgraph.fetched) == 2)
        subgraph.answer.set()
        assert await joiner == {"data": {"_entities": reps["representations"]}}
    finally:
        await cancel([waiting])
        await transport.close()


async def cancel(tasks: list[asyncio.Future[Any]]) -> None:
    """Stop consumers waiting for an event (their stream ends as they are cancelled)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _all(events: AsyncIterator[JSON]) -> list[Any]:
    async with asyncio.timeout(10):
        return [event async for event in events]
