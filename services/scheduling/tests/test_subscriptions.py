"""Live updates over graphql-transport-ws, from a real server, fed through NATS: a change made
on one replica reaches a subscriber connected to another, every status in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from scheduling.domain import Tour
from scheduling.graphql import Services, build_schema
from scheduling.live import QUEUE_LIMIT, LiveTours, Overflow
from servicekit.auth import Role
from servicekit.bus import Bus
from servicekit.embedded import free_port
from servicekit.graphql import SubgraphApp
from servicekit.http import service_app
from websockets.asyncio.client import ClientConnection, connect

FIRST = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
PROTOCOL = "graphql-transport-ws"


@contextlib.asynccontextmanager
async def replica(stack: Any) -> AsyncIterator[tuple[str, LiveTours]]:
    """A second scheduling replica: its own NATS connection and live hub, served by uvicorn."""
    bus = Bus(stack.bus.url, namespace=stack.bus.namespace, name="replica-b")
    live = LiveTours(bus)
    hub = asyncio.create_task(live.run())
    await asyncio.wait_for(live.ready.wait(), 5)
    parts = stack.parts
    services = Services(scheduling=parts.scheduling, queries=parts.queries, live=live)
    graphql = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=services)
    app = service_app(graphql=graphql, checks={})
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
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
        hub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hub
        await bus.close()


@contextlib.asynccontextmanager
async def session(url: str, token: str) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await text_frame(ws, 5))
        assert ack["type"] == "connection_ack", ack
        yield ws


async def subscribe(
    ws: ClientConnection, op_id: str, query: str, variables: dict[str, Any] | None = None
) -> None:
    await ws.send(
        json.dumps(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
    )


async def text_frame(ws: ClientConnection, timeout: float) -> str:
    """The next message, which graphql-transport-ws allows only as a text frame (the
    gateway drops a subgraph socket that sends binary)."""
    frame = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(frame, str), f"a binary frame: {frame!r}"
    return frame


async def receive(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await text_frame(ws, timeout))
    return message


async def test_participants_receive_every_status_change_in_order(stack: Any) -> None:
    stack.start_relay()
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    stranger = stack.peers.person(Role.BUYER)
    tour = (await stack.request(buyer, listing, FIRST))["data"]["requestTour"]
    tour_id = tour["id"]

    async with (
        replica(stack) as (url, live),
        session(url, stack.issuer.token(buyer.id, Role.BUYER)) as buyer_ws,
        session(url, stack.issuer.token(realtor.id, Role.REALTOR)) as realtor_ws,
        session(url, stack.issuer.token(stranger.id, Role.BUYER)) as stranger_ws,
    ):
        await subscribe(
            buyer_ws,
            "one",
            "subscription($id: ID!) { tourStatusChanged(tourId: $id) { id status startsAt } }",
            {"id": tour_id},
        )
        await subscribe(realtor_ws, "mine", "subscription { myTourUpdates { id status } }")
        await subscribe(
            stranger_ws,
            "peek",
            "subscription($id: ID!) { tourStatusChanged(tourId: $id) { status } }",
            {"id": tour_id},
        )
        refused = await receive(stranger_ws)
        assert refused["type"] in ("error", "next"), refused
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"

        # Wait until both subscriptions are registered on the replica's hub.
        await asyncio.wait_for(live.until_listening(2), 10)

        # Changes are made on the other replica (the stack's own app).
        await stack.ok(
            "mutation($id: ID!) { confirmTour(id: $id) { id } }", {"id": tour_id}, as_=realtor
        )
        stack.clock.now = FIRST
        await stack.ok(
            "mutation($id: ID!) { startTour(id: $id) { id } }", {"id": tour_id}, as_=realtor
        )
        await stack.ok(
            "mutation($id: ID!) { completeTour(id: $id) { id } }", {"id": tour_id}, as_=realtor
        )

        expected = ["SCHEDULED", "IN_PROGRESS", "COMPLETED"]
        for ws, op_id, field in (
            (buyer_ws, "one", "tourStatusChanged"),
            (realtor_ws, "mine", "myTourUpdates"),
        ):
            seen = []
            for _ in expected:
                message = await receive(ws)
                assert (message["type"], message["id"]) == ("next", op_id), message
                assert not message["payload"].get("errors"), message
                assert message["payload"]["data"][field]["id"] == tour_id
                seen.append(message["payload"]["data"][field]["status"])
            assert seen == expected


async def test_subscriptions_need_a_valid_token(stack: Any) -> None:
    async with replica(stack) as (url, _), session(url, "not-a-token") as ws:
        await subscribe(ws, "1", "subscription { myTourUpdates { id } }")
        message = await receive(ws)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_subscriber_that_falls_behind_is_told_to_resubscribe(stack: Any) -> None:
    live = LiveTours(stack.bus)
    buyer, realtor = uuid.uuid4(), uuid.uuid4()
    tour = Tour.request(
        listing_id=uuid.uuid4(),
        buyer_id=buyer,
        realtor_id=realtor,
        starts_at=FIRST,
        duration_minutes=30,
        time_zone="UTC",
        buffer_minutes=0,
        now=FIRST - timedelta(days=1),
    )
    received = []
    with live.listen(user_id=buyer) as listener:
        for _ in range(QUEUE_LIMIT + 5):
            live.publish(tour)
        with pytest.raises(Overflow):
            async for update in listener:
                received.append(update)
    assert len(received) == QUEUE_LIMIT
    assert not live._by_user  # unregistered on the way out


async def test_an_event_published_twice_reaches_a_subscriber_once(stack: Any) -> None:
    """The relay may publish an event again after a reconnect (JetStream drops the copy,
    a plain NATS subscriber does not): live updates are de-duplicated by event id."""
    from google.protobuf.timestamp_pb2 import Timestamp
    from realty.events.v1.envelope_pb2 import Envelope
    from scheduling.events import outgoing

    live = LiveTours(stack.bus)
    tour = Tour.request(
        listing_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        realtor_id=uuid.uuid4(),
        starts_at=FIRST,
        duration_minutes=30,
        time_zone="UTC",
        buffer_minutes=0,
        now=FIRST - timedelta(days=1),
    )
    message = outgoing(tour, tour.events[-1])
    stamp = Timestamp()
    stamp.FromDatetime(FIRST)

    def envelope(event_id: uuid.UUID) -> Any:
        class Delivered:
            subject = message.subject
            data = Envelope(
                id=str(event_id),
                type=message.payload.DESCRIPTOR.full_name,
                time=stamp,
                subject=message.subject,
                subject_id=str(tour.id),
                payload=message.payload.SerializeToString(),
            ).SerializeToString()

        return Delivered()

    first, other = uuid.uuid4(), uuid.uuid4()
    with live.listen(tour_id=tour.id) as listener:
        for event_id in (first, first, other):
            await live._on_message(envelope(event_id))
        assert listener.queue.qsize() == 2  # the repeated one was dropped, the other kept
