"""A producing service: commits events at a fixed rate and runs its own outbox relay.

Usage: python outbox_producer.py DATABASE_URL NATS_URL NAMESPACE SUBJECT RATE TOTAL WARMUP RELAY
RELAY is `here` (the relay runs in this process, as a service's leading process runs it) or
`apart` (another process relays: `outbox_relay.py`; this one only commits).
First WARMUP events at the same rate warm the process up (connections, prepared statements,
the stream): their payload is the stamp negated, so whoever measures skips them. Then TOTAL
measured events. Prints the commit rate achieved, the CPU this process spent per measured
event (commits and relay) and the p50 and p95 of the commit itself (stamp → commit returned,
ms): the part of the latency spent before the relay can see the event.
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
from servicekit.tables import outbox
from sqlalchemy import func, select


async def produce(
    url: str,
    nats_url: str,
    namespace: str,
    subject: str,
    rate: int,
    total: int,
    warmup: int,
    relay_here: bool,
) -> tuple[float, float, float, float]:
    db = Database(url, source="bench", pool_size=20)
    bus = Bus(nats_url, namespace=namespace)
    relay = OutboxRelay(db, bus)
    relaying = asyncio.create_task(relay.run()) if relay_here else None

    async def relayed(count: int) -> None:
        """Until `count` events went out, by this process's relay or the other one."""
        while True:
            if relaying is not None:
                if relay.published >= count:
                    return
            else:
                async with db.reads() as conn:
                    waiting = select(func.count()).where(outbox.c.published_at.is_(None))
                    if (await conn.execute(waiting)).scalar_one() == 0:
                        return
            await asyncio.sleep(0.01)

    slots = asyncio.Semaphore(20)
    commit_ms: list[float] = []

    async def commit_one(n: int, measured: bool) -> None:
        async with slots, db.uow() as uow:
            await uow.session.connection()  # stamp after getting a connection: time from commit
            stamp = time.time_ns()
            value = stamp if measured else -stamp
            uow.emit(subject, Int64Value(value=value), subject_id=f"t{n % 50}")
            await uow.commit()
            if measured:
                commit_ms.append((time.time_ns() - stamp) / 1e6)

    async def offer(count: int, measured: bool) -> float:
        """Open loop: `count` commits started at `rate`, whatever the earlier ones took."""
        started = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        for n in range(count):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(commit_one(n, measured))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        return count / (time.perf_counter() - started)

    await offer(warmup, measured=False)
    await relayed(warmup)
    cpu_started = time.process_time()
    achieved = await offer(total, measured=True)
    await relayed(warmup + total)
    if relaying is not None:
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)
    await bus.close()
    cpu_ms = (time.process_time() - cpu_started) * 1000 / total
    await db.dispose()
    ordered = sorted(commit_ms)
    return achieved, cpu_ms, statistics.median(ordered), ordered[int(0.95 * len(ordered))]


if __name__ == "__main__":
    url, nats_url, namespace, subject, rate, total, warmup, where = sys.argv[1:9]
    # On uvloop, as every service process runs (servicekit.runtime).
    figures = uvloop.run(
        produce(
            url, nats_url, namespace, subject, int(rate), int(total), int(warmup), where == "here"
        )
    )
    print(*figures)
