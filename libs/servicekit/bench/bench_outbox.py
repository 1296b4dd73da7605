"""Outbox relay throughput and end-to-end event latency (figures, not pass/fail).

For latency, the producing service (commits + its outbox relay) runs in its own process and
the consuming service (with its inbox transaction) in this one, as they do in production;
the latency is commit → consumer handler. It is also taken where the event reaches JetStream
(a plain NATS subscription on the subject sees each publish as the stream stores it), which
splits the time into the producer's part (commit → relay → JetStream) and the consumer's.

Each rate starts with a second of warm-up events (connections opened, statements prepared,
the consumer's first fetches), offered the same way but left out of every figure; then
`seconds` of measured events: 10 s at 1,000/s, so its p99 rests on 100 events.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from google.protobuf.wrappers_pb2 import Int64Value
from nats.aio.msg import Msg
from realty.events.v1.envelope_pb2 import Envelope
from servicekit.bus import Bus, ConsumerRunner, Event, OutboxRelay, Subscription
from servicekit.db import Database, UnitOfWork

ENTITIES = 200


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_relay_throughput(db: Database, bus: Bus) -> None:
    total = 20_000
    async with db.uow() as uow:
        for n in range(total):
            uow.emit("bench.item.changed", Int64Value(value=n), subject_id=f"e{n % ENTITIES}")
        await uow.commit()
    await bus.ensure_stream_for("bench.item.changed")
    relay = OutboxRelay(db, bus, batch_size=2000)
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    while relay.published < total:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    print(
        f"\noutbox relay throughput: {total} events in {elapsed:.2f}s = "
        f"{total / elapsed:,.0f} events/s (commit → JetStream ack, {ENTITIES} entities)"
    )


async def bench_end_to_end_latency(db: Database, bus: Bus) -> None:
    for rate, seconds in ((250, 5), (500, 5), (1000, 10)):
        await _latency_at(db, bus, rate, seconds=seconds, relay_apart=False)
    # The same 1,000/s with the relay in a process of its own (woken by NOTIFY), for the
    # part of the latency that is the relay queueing behind the commits on one event loop.
    await _latency_at(db, bus, 1000, seconds=10, relay_apart=True)


async def _latency_at(
    db: Database, bus: Bus, rate: int, *, seconds: int, relay_apart: bool
) -> None:
    total = rate * seconds
    warmup = rate  # one second
    latencies: list[float] = []
    published: list[float] = []

    async def receive(event: Event, uow: UnitOfWork) -> None:
        stamp = event.unpack(Int64Value).value
        if stamp > 0:  # a warm-up event carries its stamp negated
            latencies.append(time.time() - stamp / 1e9)

    async def seen_published(msg: Msg) -> None:
        stamp = Int64Value.FromString(Envelope.FromString(msg.data).payload).value
        if stamp > 0:
            published.append(time.time() - stamp / 1e9)

    subject = f"bench.tick{rate}{'apart' if relay_apart else ''}.happened"
    runner = ConsumerRunner(
        db,
        bus,
        "bench",
        # The handler writes through its unit of work alone: a fetched batch is one transaction.
        [Subscription(subject, receive, f"latency{rate}{relay_apart}", batched=True)],
        batch=256,
    )
    tasks = [asyncio.create_task(runner.run())]
    await runner.ready.wait()
    tap = await bus.nc.subscribe(bus.subject(subject), cb=seen_published)
    here = Path(__file__).parent
    relay = None
    if relay_apart:
        relay = await asyncio.create_subprocess_exec(
            sys.executable,
            str(here / "outbox_relay.py"),
            db.url,
            bus.url,
            bus.namespace,
            str(warmup),
            str(total),
            stdout=asyncio.subprocess.PIPE,
        )
    producer = await asyncio.create_subprocess_exec(
        sys.executable,
        str(here / "outbox_producer.py"),
        db.url,
        bus.url,
        bus.namespace,
        subject,
        str(rate),
        str(total),
        str(warmup),
        "apart" if relay_apart else "here",
        stdout=asyncio.subprocess.PIPE,
    )
    while not latencies and producer.returncode is None:
        await asyncio.sleep(0.01)
    cpu_started = time.process_time()  # from the first measured event on
    output, _ = await producer.communicate()
    offered, producer_cpu_ms, commit_p50, commit_p95 = (float(x) for x in output.decode().split())
    relay_cpu = ""
    if relay is not None:
        relay_output, _ = await relay.communicate()
        relay_cpu = f", relay process {float(relay_output.decode()):.2f} ms"
    deadline = time.perf_counter() + 30
    while len(latencies) < total and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    consumer_cpu_ms = (time.process_time() - cpu_started) * 1000 / max(1, len(latencies))
    await tap.unsubscribe()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ms = [x * 1000 for x in latencies]
    to_stream = [x * 1000 for x in published]
    print(
        f"end-to-end event latency, target {rate}/s, {offered:,.0f} events/s committed "
        f"({len(ms)}/{total} received; commit → relay → JetStream → batched consumer with inbox; "
        f"producer and consumer in separate processes, the relay "
        f"{'in a process of its own' if relay_apart else 'in the producing one'}): "
        f"p50 {statistics.median(ms):.1f} ms, p95 {pct(ms, 0.95):.1f} ms, p99 {pct(ms, 0.99):.1f} ms; "
        f"the commit itself p50 {commit_p50:.1f} ms, p95 {commit_p95:.1f} ms; "
        f"commit → JetStream p50 {statistics.median(to_stream):.1f} ms, "
        f"p95 {pct(to_stream, 0.95):.1f} ms; CPU per event: producer {producer_cpu_ms:.2f} ms, "
        f"consumer {consumer_cpu_ms:.2f} ms{relay_cpu}"
    )
