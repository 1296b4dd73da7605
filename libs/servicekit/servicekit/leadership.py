"""Leadership: the background work of a service runs in one of its processes only.

A service may run several processes (replicas, or worker processes sharing a port), each
serving requests. The outbox relay, the event consumers, retention and the service's own
background jobs must not run in all of them: consumers would handle one entity's events in
two places at once and the relay would race itself. Every process runs a `Leadership`; the
one that takes the PostgreSQL advisory lock named after the service (on a connection of its
own, to the service's database) runs the elected workers, the others wait and try again.

The lock lives as long as the leader's connection: a leader that dies or loses its database
releases it and another process takes over within `retry_interval`. A leader checks its
connection every `check_interval` and stops its workers when the connection is gone, so two
leaders overlap at most that long after a network split (harmless: the relay keeps its own
lock, consumers dedupe through the inbox, jobs claim rows with SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import logging
import os
import zlib
from collections.abc import Sequence
from typing import Any

import psycopg

from servicekit.db import libpq_url
from servicekit.runtime import Worker, supervise

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The advisory lock (a signed 64-bit key) that elects the leader among `name`'s processes."""
    return zlib.crc32(f"leader:{name}".encode())


class Leadership:
    def __init__(
        self,
        url: str,
        name: str,
        workers: Sequence[Worker],
        *,
        retry_interval: float = 1.0,
        check_interval: float = 5.0,
    ) -> None:
        self.url = url
        self.name = name
        self.workers = list(workers)
        self.retry_interval = retry_interval
        self.check_interval = check_interval
        self.is_leader = False
        self.terms = 0  # how many times this process became the leader
        self._key = lock_key(name)

    async def run(self) -> None:
        """Compete for leadership forever (cancel to stop); run the workers while leading."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    libpq_url(self.url),
                    autocommit=True,
                    application_name=f"{self.name} leadership pid={os.getpid()}",
                ) as conn:
                    await self._acquire(conn)
                    await self._lead(conn)
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("%s: leadership connection lost: %s", self.name, exc)
                await asyncio.sleep(self.retry_interval)

    async def _acquire(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while True:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
            row = await cur.fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(self.retry_interval)

    async def _lead(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.is_leader = True
        self.terms += 1
        log.info("%s: this process leads the background work", self.name)
        tasks = [
            asyncio.create_task(supervise(getattr(w, "__qualname__", repr(w)), w))
            for w in self.workers
        ]
        try:
            while True:
                await asyncio.sleep(self.check_interval)
                await conn.execute("SELECT 1")
        finally:
            self.is_leader = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
