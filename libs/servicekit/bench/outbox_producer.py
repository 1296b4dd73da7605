"""A producing service: commits events at a fixed rate and runs its own outbox relay.

Usage: python outbox_producer.py DATABASE_URL NATS_URL NAMESPACE SUBJECT RATE TOTAL
Prints the commit rate achieved and the CPU this process spent per event (commits and relay).
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop
from google.protobuf.wrappers_pb2 import Int64Value
from servicekit.bus import Bus, OutboxRelay
from servicekit.db import Database


async def produce(
    url: str, nats_url: str, namespace: str, subject: str, rate: int, total: int
) -> tuple[float, float]:
    cpu_started = time.process_time()
    db = Database(url, source="bench", pool_size=20)
    bus = Bus(nats_url, namespace=namespace)
    relay = OutboxRelay(db, bus)
    relaying = asyncio.create_task(relay.run())
    started = time.perf_counter()
    slots = asyncio.Semaphore(20)

    async def commit_one(n: int) -> None:
        async with slots, db.uow() as uow:
            await uow.session.connection()  # stamp after getting a connection: time from commit
            uow.emit(subject, Int64Value(value=time.time_ns()), subject_id=f"t{n % 50}")
            await uow.commit()

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
    return achieved, cpu_ms


if __name__ == "__main__":
    url, nats_url, namespace, subject, rate, total = sys.argv[1:7]
    # On uvloop, as every service process runs (servicekit.runtime).
    achieved, cpu_ms = uvloop.run(produce(url, nats_url, namespace, subject, int(rate), int(total)))
    print(achieved, cpu_ms)
