"""Benchmarks (printed figures, no pass/fail thresholds beyond correctness):

1. Contention: 200 concurrent `requestTour` calls to the HTTP app aimed at 10 realtors' overlapping
   slots. The non-overlapping ones succeed, the rest get CONFLICT, no 5xx, and the database
   holds no two overlapping live tours of one realtor. Throughput and latency are printed.
2. Fan-out: one status change delivered to 1,000 graphql-transport-ws subscribers through
   NATS; the p95 delivery latency (mutation sent → `next` received) is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from scheduling.clients import Directory
from scheduling.graphql import build_schema
from servicekit.auth import Role
from servicekit.embedded import free_port
from servicekit.graphql import SubgraphApp
from servicekit.http import service_app
from sqlalchemy import text
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import connect

FIRST = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York
REALTORS = 10
REQUESTS = 200
SUBSCRIBERS = int(os.environ.get("SCHEDULING_BENCH_SUBSCRIBERS", "1000"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def app_of(stack: Any) -> Any:
    """Scheduling's HTTP app as `runtime()` assembles it (subgraph, WebSocket route, probes)."""
    parts = stack.parts
    graphql = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    return service_app(graphql=graphql, checks={}, routes=[WebSocketRoute("/graphql", graphql)])


@contextlib.asynccontextmanager
async def serve(stack: Any) -> AsyncIterator[str]:
    app = app_of(stack)
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
            backlog=4096,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_contention_on_overlapping_slots(stack: Any) -> None:
    realtors = []
    for _ in range(REALTORS):
        realtor, listing = await stack.open_for_tours(buffer=0)
        realtors.append((realtor, listing))
    # Each realtor gets 20 requests for 30-minute tours starting every 15 minutes from 10:00,
    # two per start: neighbours overlap, so at most every other start can win.
    plan = []
    for i in range(REQUESTS):
        realtor, listing = realtors[i % REALTORS]
        start = FIRST + timedelta(minutes=15 * ((i // REALTORS) % 10))
        buyer = stack.peers.person(Role.BUYER)
        plan.append((buyer, realtor, listing, start, stack.issuer.headers(buyer.id, Role.BUYER)))

    query = "mutation($input: RequestTourInput!) { requestTour(input: $input) { id startsAt } }"
    # 200 requests land at once on one process: give the listings lookup a deadline that
    # measures the booking path, not the event loop's queue.
    patient = Directory.connect(
        listings_target=stack.peers.target,
        identity_target=stack.peers.target,
        timeout=15.0,
        tls=stack.parts.infra.grpc_tls,
    )
    stack.parts.scheduling.directory = patient
    transport = httpx.ASGITransport(app=app_of(stack))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://scheduling", timeout=60
    ) as http:

        async def one(
            listing: Any, start: datetime, headers: dict[str, str]
        ) -> tuple[int, str, float]:
            body = {
                "query": query,
                "variables": {"input": {"listingId": str(listing), "startsAt": start.isoformat()}},
            }
            began = time.perf_counter()
            response = await http.post("/graphql", json=body, headers=headers)
            elapsed = time.perf_counter() - began
            if response.status_code >= 500:
                return response.status_code, "HTTP_5XX", elapsed
            payload = response.json()
            outcome = payload["errors"][0]["extensions"]["code"] if payload.get("errors") else "OK"
            return response.status_code, outcome, elapsed

        began = time.perf_counter()
        results = await asyncio.gather(*(one(listing, s, h) for _, _, listing, s, h in plan))
        wall = time.perf_counter() - began

    await patient.close()
    outcomes = [o for _, o, _ in results]
    latencies = [t for _, _, t in results]
    assert not [s for s, _, _ in results if s >= 500], "5xx responses"
    assert set(outcomes) <= {"OK", "CONFLICT"}, set(outcomes)

    async with stack.db.session() as session:
        overlaps = (
            await session.execute(
                text(
                    "SELECT count(*) FROM tours a JOIN tours b ON a.realtor_id = b.realtor_id"
                    " AND a.id < b.id"
                    " AND tstzrange(a.starts_at, a.blocked_until) && tstzrange(b.starts_at, b.blocked_until)"
                    " WHERE a.status IN ('REQUESTED','SCHEDULED','IN_PROGRESS')"
                    " AND b.status IN ('REQUESTED','SCHEDULED','IN_PROGRESS')"
                )
            )
        ).scalar_one()
        booked = (
            await session.execute(text("SELECT realtor_id, starts_at, ends_at FROM tours"))
        ).all()
    assert overlaps == 0, "double booking"
    assert len(booked) == outcomes.count("OK")
    # Every refused request really collided with a tour that won.
    won: dict[Any, list[tuple[datetime, datetime]]] = {}
    for row in booked:
        won.setdefault(row.realtor_id, []).append((row.starts_at, row.ends_at))
    for (_, realtor, _, start, _), outcome in zip(plan, outcomes, strict=True):
        if outcome == "CONFLICT":
            end = start + timedelta(minutes=30)
            assert any(s < end and start < e for s, e in won[realtor.id]), "needless CONFLICT"
    print(
        f"\ncontention: {REQUESTS} concurrent requestTour through the HTTP app, {REALTORS} realtors:"
        f" {outcomes.count('OK')} booked, {outcomes.count('CONFLICT')} CONFLICT, 0 5xx,"
        f" 0 double bookings; {REQUESTS / wall:.0f} req/s,"
        f" latency p50 {statistics.median(latencies) * 1000:.0f} ms,"
        f" p95 {percentile(latencies, 0.95) * 1000:.0f} ms"
    )


async def test_fan_out_to_a_thousand_subscribers(stack: Any) -> None:
    stack.start_relay()
    stack.start(stack.parts.live.run)
    await asyncio.wait_for(stack.parts.live.ready.wait(), 5)
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    tour_id = (await stack.request(buyer, listing, FIRST))["data"]["requestTour"]["id"]
    tokens = [
        stack.issuer.token(realtor.id, Role.REALTOR),
        stack.issuer.token(buyer.id, Role.BUYER),
    ]
    subscription = json.dumps(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { tourStatusChanged(tourId: $id) { id status } }",
                "variables": {"id": tour_id},
            },
        }
    )
    received: list[float] = []
    all_in = asyncio.Event()
    listening = asyncio.Event()

    async with serve(stack) as address:
        url = f"ws://{address}/graphql"

        async def subscriber(i: int) -> None:
            async with connect(
                url,
                subprotocols=["graphql-transport-ws"],
                open_timeout=60,  # type: ignore[list-item]
            ) as ws:
                init = {"Authorization": f"Bearer {tokens[i % 2]}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(subscription)
                await listening.wait()
                message = json.loads(await ws.recv())
                received.append(time.perf_counter())
                assert message["payload"]["data"]["tourStatusChanged"]["status"] == "SCHEDULED"
                if len(received) == SUBSCRIBERS:
                    all_in.set()

        began = time.perf_counter()
        clients = [asyncio.create_task(subscriber(i)) for i in range(SUBSCRIBERS)]
        hub = stack.parts.live
        while hub.listening < SUBSCRIBERS:
            await asyncio.sleep(0.05)
            failed = [c for c in clients if c.done() and c.exception()]
            assert not failed, failed[0].exception()
        connected = time.perf_counter() - began
        listening.set()

        # The participant checks of the last subscriptions may still hold database
        # connections; start the clock once the pool is idle.
        idle = 0
        while idle < 5:
            idle = idle + 1 if stack.db.engine.pool.checkedout() == 0 else 0
            await asyncio.sleep(0.02)
        http = httpx.AsyncClient(base_url=f"http://{address}")
        sent = time.perf_counter()
        async with http:
            response = await http.post(
                "/graphql",
                json={
                    "query": "mutation($id: ID!) { confirmTour(id: $id) { id } }",
                    "variables": {"id": tour_id},
                },
                headers=stack.issuer.headers(realtor.id, Role.REALTOR),
            )
            assert response.status_code == 200 and not response.json().get("errors")
        answered = time.perf_counter() - sent
        await asyncio.wait_for(all_in.wait(), 60)
        await asyncio.gather(*clients)

    delays = [t - sent for t in received]
    print(
        f"\nfan-out: 1 status change → {SUBSCRIBERS} graphql-transport-ws subscribers"
        f" (connected in {connected:.1f} s): delivery p50 {statistics.median(delays) * 1000:.0f} ms,"
        f" p95 {percentile(delays, 0.95) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
        f" (the mutation itself answered in {answered * 1000:.0f} ms)"
    )
