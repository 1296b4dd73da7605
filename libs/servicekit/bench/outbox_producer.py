"""Commits events at a fixed rate into an outbox, as a service process would.

Usage: python outbox_producer.py DATABASE_URL RATE TOTAL  (prints the achieved rate)
"""

from __future__ import annotations

import asyncio
import sys
import time

from google.protobuf.wrappers_pb2 import Int64Value
from servicekit.db import Database


async def produce(url: str, rate: int, total: int) -> float:
    db = Database(url, source="bench", pool_size=20)
    started = time.perf_counter()
    slots = asyncio.Semaphore(20)

    async def commit_one(n: int) -> None:
        async with slots, db.uow() as uow:
            await uow.session.connection()  # stamp after getting a connection: time from commit
            uow.emit(
                "bench.tick.happened", Int64Value(value=time.time_ns()), subject_id=f"t{n % 50}"
            )
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
    elapsed = time.perf_counter() - started
    await db.dispose()
    return total / elapsed


if __name__ == "__main__":
    print(asyncio.run(produce(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
