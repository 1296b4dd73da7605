"""The outbox relay alone in a process of its own, beside a producer that only commits.

Usage: python outbox_relay.py DATABASE_URL NATS_URL NAMESPACE WARMUP TOTAL
Relays until WARMUP + TOTAL events went out (woken by the producer's NOTIFYs, as a relay
leading in another process of the service is) and prints the CPU it spent per event after
the warm-up ones, in ms.
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop
from servicekit.bus import Bus, OutboxRelay
from servicekit.db import Database


async def relay_all(url: str, nats_url: str, namespace: str, warmup: int, total: int) -> float:
    db = Database(url, source="bench", pool_size=2)
    bus = Bus(nats_url, namespace=namespace)
    relay = OutboxRelay(db, bus)
    relaying = asyncio.create_task(relay.run())
    while relay.published < warmup:
        await asyncio.sleep(0.01)
    cpu_started, counted_from = time.process_time(), relay.published
    while relay.published < warmup + total:
        await asyncio.sleep(0.01)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / (relay.published - counted_from)
    relaying.cancel()
    await asyncio.gather(relaying, return_exceptions=True)
    await bus.close()
    await db.dispose()
    return cpu_ms


if __name__ == "__main__":
    url, nats_url, namespace, warmup, total = sys.argv[1:6]
    print(uvloop.run(relay_all(url, nats_url, namespace, int(warmup), int(total))))
