"""A producing service: commits events at a fixed rate and runs its own outbox relay.

Usage: python outbox_producer.py DATABASE_URL NATS_URL NAMESPACE SUBJECT RATE TOTAL
Prints the commit rate achieved, the CPU this process spent per event (commits and relay)
and the p50 and p95 of the commit itself (stamp → commit returned, ms): the part of the
latency spent before the relay can see the event.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import uvloop
from google.protobuf.wrappers_pb2 import Int64Value
from servicekit.bus import Bus, OutboxRelay
from servicekit.db import Database


async def produce(
    url: str, nats_url: str, namespace: str, subject: str, rate: int, total: int
) -> tuple[float, float, float, float]:
    cpu_started = time.process_time()
    db = Database(url, source="bench", pool_size=20)
    bus = Bus(nats_url, namespace=namespace)
    relay = OutboxRelay(db, bus)
    relaying = asyncio.create_task(relay.run())
    started = time.perf_counter()
    slots = asyncio.Semaphore(20)
    commit_ms: list[float] = []

    async def commit_one(n: int) -> None:
        async with slots, db.uow() as uow:
            await uow.session.connection()  # stamp after getting a connection: time from commit
            stamp = time.time_ns()
            uow.emit(subject, Int64Value(value=stamp), subject_id=f"t{n % 50}")
            await uow.commit()
            commit_ms.append((time.time_ns() - stamp) / 1e6)

    pending: set[asyncio.Task[None]] = set()
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(commit_one(n))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    achieved = total / (time.perf_counter() - started)
    while relay.published < total:
        await asyncio.sleep(0.01)
    relaying.cancel()
    await asyncio.gather(relaying, return_exceptions=True)
    await bus.close()
    cpu_ms = (time.process_time() - cpu_started) * 1000 / total
    await db.dispose()
    ordered = sorted(commit_ms)
    return achieved, cpu_ms, statistics.median(ordered), ordered[int(0.95 * len(ordered))]


if __name__ == "__main__":
    url, nats_url, namespace, subject, rate, total = sys.argv[1:7]
    # On uvloop, as every service process runs (servicekit.runtime).
    figures = uvloop.run(produce(url, nats_url, namespace, subject, int(rate), int(total)))
    print(*figures)
