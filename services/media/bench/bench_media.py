"""Benchmarks (printed figures; they fail only when the results are wrong):

1. `joinTour` against the Chime SDK emulator: 50 people (a buyer and a realtor per tour)
   joining 25 tours at once through the subgraph (in process, no gateway hop); p50/p95
   latency, Chime calls per join, and where the time goes (one join alone, the process's CPU
   per join, time inside Chime calls). The emulator runs as a process of its own, as Chime
   is a service elsewhere: in this process its request handling would take the same GIL as
   media's. Once with throttling off, once with the emulator's default 10 requests/s and
   burst 20 per operation (stricter than Chime's per-API quotas for CreateAttendee), to show
   the throttle-bound figure. `BENCH_PROFILE=<n>` prints the n functions of the event
   loop's thread with the most own time in each round (cProfile).
2. The Chime event consumer: EventBridge events through moto's SQS into the outbox, events/s,
   with the time spent receiving, handling and deleting.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest
import pytest_asyncio
from chimesim.clock import ManualClock
from chimesim.testing import ChimeSim
from media_test_support import FakeIdentity, Stack, media_stack
from servicekit.bus import Bus
from servicekit.embedded import free_port
from servicekit.mail import MailCatcher
from servicekit.testing import DatabaseFactory, TokenIssuer
from sqlalchemy import event

JOIN = """
mutation($tourId: ID!, $deviceId: String) {
  joinTour(tourId: $tourId, deviceId: $deviceId) { meeting attendee }
}
"""


@pytest.fixture(scope="module")
def chime_process(aws_endpoint: str) -> Iterator[ChimeSim]:
    """The emulator as a process of its own (throttling off), its events to a queue of
    this module's."""
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=f"chime-bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    port = free_port()
    env = {
        **os.environ,
        "CHIMESIM_PORT": str(port),
        "CHIMESIM_AWS_ENDPOINT_URL": aws_endpoint,
        "CHIMESIM_EVENTS_QUEUE_URL": queue_url,
        "CHIMESIM_THROTTLE_RATE": "0",
    }
    proc = subprocess.Popen([sys.executable, "-m", "chimesim"], env=env)
    sim = ChimeSim(f"http://127.0.0.1:{port}", ManualClock(), aws_endpoint)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if sim.http.get(f"{sim.url}/_emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "chimesim did not start"
            time.sleep(0.05)
        yield sim
    finally:
        sim.http.close()
        proc.terminate()
        proc.wait(timeout=10)
        sqs.delete_queue(QueueUrl=queue_url)


@pytest_asyncio.fixture(loop_scope="session")
async def emulated(
    database_factory: DatabaseFactory,
    bus: Bus,
    identity: tuple[FakeIdentity, str],
    mail_catcher: MailCatcher,
    token_issuer: TokenIssuer,
    aws_endpoint: str,
    chime_process: ChimeSim,
) -> AsyncIterator[Stack]:
    async with media_stack(
        database_factory,
        bus,
        identity,
        mail_catcher,
        token_issuer,
        aws_endpoint,
        chime=None,
        chime_endpoint=chime_process.url,
        queue_name=f"chime-consumer-{uuid.uuid4().hex[:8]}",
        wait_seconds=1,
    ) as the_stack:
        yield the_stack


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class ChimeTimer:
    """Seconds spent inside Chime calls (thread pool, boto3, retries, the emulator), and the
    CPU seconds the calling threads spent in boto3 (serialising, signing, parsing)."""

    seconds: float = 0.0
    cpu: float = 0.0

    def wrap(self, chime: Any) -> None:
        call = chime._call

        def measured(fn: Any) -> Any:
            def run(**kwargs: Any) -> Any:
                began = time.thread_time()
                try:
                    return fn(**kwargs)
                finally:
                    self.cpu += time.thread_time() - began

            return run

        async def timed(fn: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await call(measured(fn), **kwargs)
            finally:
                self.seconds += time.perf_counter() - began

        chime._call = timed


async def _round(
    stack: Stack, chime: ChimeSim, timer: ChimeTimer, name: str, tours: list[Any], device: str
) -> list[dict[str, Any]]:
    chime.reset_calls()
    timer.seconds = timer.cpu = 0.0
    latencies: list[float] = []
    refused: list[str] = []

    async def one(tour_id: uuid.UUID, who: Any) -> dict[str, Any]:
        started = time.perf_counter()
        body = await stack.gql(JOIN, {"tourId": str(tour_id), "deviceId": device}, as_=who)
        latencies.append((time.perf_counter() - started) * 1000)
        if body.get("errors"):
            code = body["errors"][0]["extensions"]["code"]
            assert code == "RATE_LIMITED", body  # Chime throttling left after the retries
            refused.append(code)
            return {}
        joined: dict[str, Any] = body["data"]["joinTour"]
        return joined

    statements = 0

    def counted(*_: Any) -> None:
        nonlocal statements
        statements += 1

    # Counting statements needs a listener on the engine, and with one the driver-level
    # statements go through SQLAlchemy (so they are seen): counted only when asked.
    counting = bool(os.environ.get("BENCH_STATEMENTS"))
    engine = stack.db.engine.sync_engine
    if counting:
        event.listen(engine, "before_cursor_execute", counted)
    profile = cProfile.Profile(time.thread_time) if os.environ.get("BENCH_PROFILE") else None
    if profile is not None:
        profile.enable()
    cpu, wall = time.process_time(), time.perf_counter()
    results = await asyncio.gather(
        *(one(t.id, p) for t, buyer, realtor in tours for p in (buyer, realtor))
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profile is not None:
        profile.disable()
        print(f"\n{name}: the event loop's thread, by own CPU time (BENCH_PROFILE)")
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(int(os.environ["BENCH_PROFILE"]))
        stats.sort_stats("cumulative").print_stats(int(os.environ["BENCH_PROFILE"]))
        if os.environ.get("BENCH_PROFILE_DUMP"):
            stats.dump_stats(f"{os.environ['BENCH_PROFILE_DUMP']}-{len(tours)}-{device}-{name[:5]}")
    if counting:
        event.remove(engine, "before_cursor_execute", counted)
    calls = chime.calls()
    print(
        f"\n{name}: p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {_percentile(latencies, 0.95):.0f} ms, wall {wall * 1000:.0f} ms; "
        f"Chime calls per join {sum(calls.values()) / len(results):.2f} ({dict(calls)}); "
        f"media's CPU {cpu * 1000 / len(results):.1f} ms per join; "
        + (f"{statements / len(results):.1f} SQL statements per join; " if counting else "")
        + f"inside Chime calls {timer.seconds * 1000 / len(results):.0f} ms per join "
        f"(boto3's CPU {timer.cpu * 1000 / len(results):.1f} ms)"
        + (f"; {len(refused)} RATE_LIMITED" if refused else "")
    )
    return list(results)


async def bench_join_tour_fifty_people_twenty_five_tours(
    emulated: Stack, chime_process: ChimeSim
) -> None:
    stack, chime = emulated, chime_process
    timer = ChimeTimer()
    timer.wrap(stack.parts.chime)
    # One join alone, warm: the cost of the path without anyone else in the way.
    tour, buyer, _ = await stack.tour()
    await stack.ok(JOIN, {"tourId": str(tour.id), "deviceId": "warm"}, as_=buyer)
    alone = []
    for n in range(5):
        began = time.perf_counter()
        await stack.ok(JOIN, {"tourId": str(tour.id), "deviceId": f"alone-{n}"}, as_=buyer)
        alone.append((time.perf_counter() - began) * 1000)
    print(
        f"\none join alone (a new attendee, the meeting exists): {statistics.median(alone):.0f} ms"
    )

    tours = [await stack.tour() for _ in range(25)]
    results = await _round(
        stack, chime, timer, "joinTour, 50 people / 25 tours at once", tours, "bench"
    )
    assert all(results) and len({r["meeting"]["MeetingId"] for r in results}) == 25
    await _round(stack, chime, timer, "joinTour again, same devices", tours, "bench")

    # The emulator's default throttle (10 requests/s, burst 20 per operation) on new tours.
    tours = [await stack.tour() for _ in range(25)]
    chime.throttling(10.0, burst=20)
    try:
        await _round(
            stack, chime, timer, "first joins, emulator throttling 10/s burst 20", tours, "bench"
        )
    finally:
        chime.throttling(0.0)


class _Timed:
    """A boto3 client whose named methods are replaced by timed ones."""

    def __init__(self, client: Any, methods: dict[str, Any]) -> None:
        self._client, self._methods = client, methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._client, name)


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
    queue = stack.parts.queue
    queue.wait_seconds = 0
    spent = {"receive": 0.0, "handle": 0.0, "delete": 0.0}

    def timed(name: str, fn: Any) -> Any:
        def call(**kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(**kwargs)
            finally:
                spent[name] += time.perf_counter() - began

        return call

    handler = queue.handler
    deliveries = 0

    async def handle(signal: Any) -> None:
        nonlocal deliveries
        deliveries += 1
        began = time.perf_counter()
        try:
            await handler(signal)
        finally:
            spent["handle"] += time.perf_counter() - began

    queue.handler = handle
    queue._sqs = _Timed(
        sqs,
        {
            "receive_message": timed("receive", sqs.receive_message),
            "delete_message_batch": timed("delete", sqs.delete_message_batch),
        },
    )

    async def applied() -> int:
        found = await stack.rows("SELECT count(*) AS n FROM inbox WHERE consumer = 'chime-events'")
        return int(found[0].n)

    started = time.perf_counter()
    consuming = asyncio.create_task(queue.run())  # as the service runs it
    deadline = started + 600
    while await applied() < len(bodies):
        assert time.perf_counter() < deadline and not consuming.done(), "events left unapplied"
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    consuming.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consuming
    # SQS delivers at least once: a redelivered event is acknowledged and not applied again.
    assert await applied() == len(bodies)
    print(
        f"\nChime event consumer (SQS long poll → PostgreSQL → outbox): {len(bodies)} events "
        f"in {elapsed:.2f} s, {len(bodies) / elapsed:.0f} events/s "
        f"({deliveries - len(bodies)} redeliveries); receiving {spent['receive']:.1f} s, "
        f"handling {spent['handle']:.1f} s (summed over the events handled at once), "
        f"deleting {spent['delete']:.1f} s"
    )
