"""Everyone in a tour's call is told when recording starts and stops: `meetingChanged` over
graphql-transport-ws from a real server, fed by media's events through the outbox relay
and NATS."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from chimesim.testing import ChimeSim
from media.graphql import Services, build_schema
from media.live import LiveCalls
from servicekit.bus.relay import OutboxRelay
from servicekit.embedded import free_port
from servicekit.graphql import SubgraphApp
from servicekit.http import service_app
from websockets.asyncio.client import ClientConnection, connect

from .conftest import Person, Stack
from .test_recording import START, STOP, in_call

PROTOCOL = "graphql-transport-ws"
CHANGED = "subscription($t: ID!) { meetingChanged(tourId: $t) { recording participants { id } } }"


@contextlib.asynccontextmanager
async def served(stack: Stack) -> AsyncIterator[tuple[str, LiveCalls]]:
    """The subgraph served by uvicorn with its live hub, and the outbox relay running."""
    live = LiveCalls(stack.bus)
    hub = asyncio.create_task(live.run())
    relay = asyncio.create_task(OutboxRelay(stack.db, stack.bus, idle_interval=0.1).run())
    await asyncio.wait_for(live.ready.wait(), 5)
    parts = stack.parts
    services = Services(
        media=parts.media,
        queries=parts.queries,
        recordings=parts.recordings,
        storage=parts.storage,
        live=live,
    )
    graphql = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=services)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            service_app(graphql=graphql, checks={}),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            ws="websockets-sansio",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql", live
    finally:
        server.should_exit = True
        await serving
        for task in (hub, relay):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def subscribed(
    url: str, stack: Stack, who: Person, tour_id: str
) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        token = stack.issuer.token(who.id, who.role)
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": CHANGED, "variables": {"t": tour_id}},
                }
            )
        )
        yield ws


async def receive(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def until_recording(ws: ClientConnection, value: bool) -> dict[str, Any]:
    """The next update saying the call is (or is not) recorded."""
    while True:
        message = await receive(ws)
        assert message["type"] == "next", message
        meeting: dict[str, Any] = message["payload"]["data"]["meetingChanged"]
        if meeting["recording"] is value:
            return meeting


async def test_everyone_in_the_call_is_told_recording_started_and_stopped(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, buyer, realtor = await stack.tour()
    await in_call(stack, chime, tour, realtor, buyer)
    stranger = stack.person()
    async with (
        served(stack) as (url, live),
        subscribed(url, stack, buyer, str(tour.id)) as buyer_ws,
        subscribed(url, stack, stranger, str(tour.id)) as stranger_ws,
    ):
        refused = await receive(stranger_ws)
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        while live.listening < 1:
            await asyncio.sleep(0.02)
        await stack.ok(START, {"t": str(tour.id)}, as_=realtor)
        assert (await until_recording(buyer_ws, True))["recording"] is True
        await stack.ok(STOP, {"t": str(tour.id)}, as_=realtor)
        assert (await until_recording(buyer_ws, False))["recording"] is False
