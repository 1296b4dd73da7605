"""Benchmarks (printed figures; they fail only when the results are wrong):

1. `joinTour` against the Chime SDK emulator: 50 people (a buyer and a realtor per tour)
   joining 25 tours at once through the subgraph (in process, no gateway hop); p50/p95
   latency and Chime calls per join.
2. The Chime event consumer: EventBridge events through moto's SQS into the outbox, events/s.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from chimesim.testing import ChimeSim, EventQueue
from media_test_support import FakeIdentity, Stack, media_stack
from servicekit.bus import Bus
from servicekit.mail import MailCatcher
from servicekit.testing import DatabaseFactory, TokenIssuer

JOIN = """
mutation($tourId: ID!, $deviceId: String) {
  joinTour(tourId: $tourId, deviceId: $deviceId) { meeting attendee }
}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def emulated(
    database_factory: DatabaseFactory,
    bus: Bus,
    identity: tuple[FakeIdentity, str],
    mail_catcher: MailCatcher,
    token_issuer: TokenIssuer,
    aws_endpoint: str,
    chime: ChimeSim,
    chime_events: EventQueue,
) -> AsyncIterator[Stack]:
    async with media_stack(
        database_factory,
        bus,
        identity,
        mail_catcher,
        token_issuer,
        aws_endpoint,
        chime=None,
        chime_endpoint=chime.url,
        queue_name=chime_events.url.rsplit("/", 1)[-1],
        wait_seconds=1,
    ) as the_stack:
        yield the_stack


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def bench_join_tour_fifty_people_twenty_five_tours(emulated: Stack, chime: ChimeSim) -> None:
    stack = emulated
    tours = [await stack.tour() for _ in range(25)]
    chime.reset_calls()
    latencies: list[float] = []

    async def one(tour_id: uuid.UUID, who: Any) -> dict[str, Any]:
        started = time.perf_counter()
        data = await stack.ok(JOIN, {"tourId": str(tour_id), "deviceId": "bench"}, as_=who)
        latencies.append((time.perf_counter() - started) * 1000)
        joined: dict[str, Any] = data["joinTour"]
        return joined

    wall = time.perf_counter()
    results = await asyncio.gather(
        *(one(t.id, p) for t, buyer, realtor in tours for p in (buyer, realtor))
    )
    wall = time.perf_counter() - wall
    calls = chime.calls()
    meetings = {r["meeting"]["MeetingId"] for r in results}
    assert len(meetings) == 25 and calls.get("CreateMeeting", 0) == 25
    per_join = sum(calls.values()) / len(results)
    print(
        f"\njoinTour, 50 people / 25 tours at once: p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {_percentile(latencies, 0.95):.0f} ms, wall {wall * 1000:.0f} ms; "
        f"Chime calls per join {per_join:.2f} ({dict(calls)})"
    )
    chime.reset_calls()
    latencies.clear()
    await asyncio.gather(*(one(t.id, p) for t, buyer, realtor in tours for p in (buyer, realtor)))
    again = sum(chime.calls().values()) / 50
    print(
        f"joinTour again, same devices: p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {_percentile(latencies, 0.95):.0f} ms; Chime calls per join {again:.2f}"
    )


async def bench_chime_event_consumer(emulated: Stack) -> None:
    stack = emulated
    tours = []
    for _ in range(20):
        tour, buyer, realtor = await stack.tour()
        b = await stack.ok(JOIN, {"tourId": str(tour.id)}, as_=buyer)
        r = await stack.ok(JOIN, {"tourId": str(tour.id)}, as_=realtor)
        tours.append((b["joinTour"], r["joinTour"]))
    sqs = stack.parts.queue._sqs
    url = await stack.parts.queue.ensure_ready()
    t0 = stack.clock()
    bodies: list[str] = []
    for n in range(10):  # ten rounds of everyone joining and leaving
        for b, r in tours:
            for joined in (b, r):
                for kind, offset in (("AttendeeJoined", 2 * n), ("AttendeeLeft", 2 * n + 1)):
                    at = t0 + timedelta(minutes=offset)
                    bodies.append(
                        json.dumps(
                            {
                                "version": "0",
                                "id": str(uuid.uuid4()),
                                "detail-type": "Chime Meeting State Change",
                                "source": "aws.chime",
                                "time": at.isoformat(),
                                "detail": {
                                    "version": "0",
                                    "eventType": f"chime:{kind}",
                                    "timestamp": int(at.timestamp() * 1000),
                                    "meetingId": joined["meeting"]["MeetingId"],
                                    "attendeeId": joined["attendee"]["AttendeeId"],
                                    "externalUserId": joined["attendee"]["ExternalUserId"],
                                },
                            }
                        )
                    )
    # Send them in time order, ten to a batch, as EventBridge would deliver them.
    for start in range(0, len(bodies), 10):
        batch = [
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=batch)
    stack.parts.queue.wait_seconds = 0

    async def applied() -> int:
        found = await stack.rows("SELECT count(*) AS n FROM inbox WHERE consumer = 'chime-events'")
        return int(found[0].n)

    started = time.perf_counter()
    deliveries = idle = 0
    while idle < 5 and (deliveries < len(bodies) or await applied() < len(bodies)):
        got = await stack.parts.queue.poll_once()
        deliveries += got
        idle = idle + 1 if got == 0 else 0
    elapsed = time.perf_counter() - started
    # SQS delivers at least once: a redelivered event is acknowledged and not applied again.
    assert await applied() == len(bodies)
    print(
        f"\nChime event consumer (SQS long poll → PostgreSQL → outbox): {len(bodies)} events "
        f"in {elapsed:.2f} s, {len(bodies) / elapsed:.0f} events/s "
        f"({deliveries - len(bodies)} redeliveries)"
    )
