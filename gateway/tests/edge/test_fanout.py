"""Identical subscriptions share one upstream stream; different callers never do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from gateway.app import build_app
from gateway.fanout import SubscriptionHub
from gateway.reload import Built
from gateway.settings import GatewaySettings
from gateway.types import JSON, GraphQLRequest, RequestContext
from websockets.asyncio.client import ClientConnection, connect

from .conftest import StaticVerifier
from .test_integration import serve

DOCUMENT = "subscription { changes }"


class StreamingEngine:
    """Each `subscribe` is one upstream stream fed from `feeds`; `closed` counts ends."""

    def __init__(self) -> None:
        self.feeds: list[asyncio.Queue[JSON]] = []
        self.callers: list[str | None] = []
        self.closed = 0

    async def execute(self, request: GraphQLRequest, ctx: RequestContext) -> JSON:
        return {"data": {"changes": None}}

    async def subscribe(self, request: GraphQLRequest, ctx: RequestContext) -> AsyncIterator[JSON]:
        feed: asyncio.Queue[JSON] = asyncio.Queue()
        self.feeds.append(feed)
        self.callers.append(ctx.principal_id)

        async def events() -> AsyncIterator[JSON]:
            try:
                while True:
                    yield await feed.get()
            finally:
                self.closed += 1

        return events()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition that must become true (never used to prove an absence)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[str, StreamingEngine, SubscriptionHub]]:
    path = tmp_path / "supergraph.graphql"
    path.write_text("# streaming\n")
    engine = StreamingEngine()

    async def factory(sdl: str) -> Built:
        async def close() -> None:
            return None

        return Built(engine, close)

    app = build_app(
        GatewaySettings(supergraph_path=path, reload_interval=0, rate_limit_per_second=0),
        engine_factory=factory,
        verifier=StaticVerifier(),
        redis=None,
        bus=None,
    )
    server, task, address = await serve(app)
    try:
        yield f"ws://{address}/graphql", engine, app.state.subscriptions
    finally:
        server.should_exit = True
        await task


async def subscriber(url: str, operation_id: str, token: str | None = None) -> ClientConnection:
    socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    init: dict[str, Any] = {"type": "connection_init"}
    if token:
        init["payload"] = {"Authorization": f"Bearer {token}"}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps({"id": operation_id, "type": "subscribe", "payload": {"query": DOCUMENT}})
    )
    return socket


async def next_event(socket: ClientConnection) -> Any:
    async with asyncio.timeout(10):
        return json.loads(await socket.recv())


async def test_identical_subscriptions_share_one_stream(gateway: Any) -> None:
    url, engine, hub = gateway
    first = await subscriber(url, "one")
    await until(lambda: len(engine.feeds) == 1)
    second = await subscriber(url, "two")
    await until(lambda: hub.shared == 1)
    engine.feeds[0].put_nowait({"data": {"changes": 1}})
    assert await next_event(first) == {
        "id": "one",
        "type": "next",
        "payload": {"data": {"changes": 1}},
    }
    assert await next_event(second) == {
        "id": "two",
        "type": "next",
        "payload": {"data": {"changes": 1}},
    }
    assert len(engine.feeds) == 1
    await first.send(json.dumps({"id": "one", "type": "complete"}))
    engine.feeds[0].put_nowait({"data": {"changes": 2}})
    assert (await next_event(second))["payload"] == {"data": {"changes": 2}}
    assert engine.closed == 0
    await second.close()
    await until(lambda: engine.closed == 1 and hub.streams == 0)
    await first.close()


async def test_different_callers_never_share_a_stream(gateway: Any) -> None:
    url, engine, hub = gateway
    sockets = [
        await subscriber(url, "a", "good-u1-buyer"),
        await subscriber(url, "b", "good-u2-buyer"),
        await subscriber(url, "c"),
    ]
    await until(lambda: len(engine.feeds) == 3)
    assert sorted(engine.callers, key=str) == sorted(["u1", "u2", None], key=str)
    for feed, n in zip(engine.feeds, range(3), strict=True):
        feed.put_nowait({"data": {"changes": n}})
    received = [(await next_event(s))["payload"]["data"]["changes"] for s in sockets]
    assert sorted(received) == [0, 1, 2]
    assert hub.shared == 0
    for socket in sockets:
        await socket.close()


async def test_a_subscriber_that_falls_behind_is_dropped_alone() -> None:
    hub = SubscriptionHub(queue_size=2)
    feed: asyncio.Queue[JSON] = asyncio.Queue()

    async def events() -> AsyncIterator[JSON]:
        while True:
            yield await feed.get()

    async def start() -> AsyncIterator[JSON]:
        return events()

    slow = await hub.subscribe("k", start)
    quick = await hub.subscribe("k", start)
    assert not isinstance(slow, dict) and not isinstance(quick, dict)
    seen: list[str] = []

    async def follow() -> None:
        async for event in quick:
            seen.append(event)

    follower = asyncio.ensure_future(follow())
    for n in range(4):
        feed.put_nowait({"data": {"n": n}})
        await until(lambda n=n: len(seen) == n + 1)
    dropped = [event async for event in slow]
    assert json.loads(dropped[-1])["errors"][0]["extensions"]["reason"] == "SUBSCRIBER_TOO_SLOW"
    assert len(dropped) == 3  # two events queued, then the error
    follower.cancel()
    await asyncio.gather(follower, return_exceptions=True)
