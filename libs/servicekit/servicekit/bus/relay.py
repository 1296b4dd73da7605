"""The outbox relay: publishes committed events to JetStream, losing none.

One relay per service database runs at a time (a PostgreSQL advisory lock elects it), so
events of one entity go out in commit order. Within a batch, events of different entities
are published concurrently and events of the same entity one after another; an entity whose
publish fails keeps its remaining events for the next round. The relay is woken by commits
(`OutboxWakeup`: an event in this process, a NOTIFY from another) and otherwise looks every
`idle_interval`. While NATS is down the relay waits and retries with backoff; rows stay in
the outbox until JetStream acknowledges them. Re-publishing after a crash is harmless: the
event id is the `Nats-Msg-Id`.

While it leads, the relay reads and marks rows on a connection of its own, in autocommit with
prepared statements: one round trip to PostgreSQL between two rounds (a round's rows are
marked by the statement that reads the next round's) and no SQLAlchemy session. Without row
locks: the advisory lock already makes it the only relay, and a relay
that lost the lock while publishing only sends copies that JetStream drops by their id, each
entity's events still in order (every relay sends an entity's next event after the ack of
the one before).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row

from servicekit.bus.connection import Bus
from servicekit.db import Database, libpq_url
from servicekit.tables import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

# The relay's statements, sent as they are (no SQL compilation per round: at a steady
# trickle of commits a round carries a few events, so its fixed cost is what counts).
_UNPUBLISHED = (
    "SELECT id, subject, subject_id, envelope, traceparent FROM outbox "
    "WHERE published_at IS NULL ORDER BY seq LIMIT %s"
)
# The mark needs no WAL flush of its own: lost in a database crash, it only makes the rows
# go out again, and JetStream drops those as duplicates of their `Nats-Msg-Id`. The setting
# rides in the statement (a one-row CTE, evaluated once; local to the statement's implicit
# transaction in autocommit): no round trip of its own.
_MARK_PUBLISHED = (
    "WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "UPDATE outbox SET published_at = now() FROM unflushed WHERE outbox.id = ANY(%s)"
)
"""One statement per batch, its ids one array parameter (not a thousand bound values)."""
# A leading relay marks a round's rows in the statement that reads the next round's: one
# round trip between two rounds, not two. The read sees the snapshot from before the update,
# so it leaves out the rows being marked.
_MARK_AND_READ_NEXT = (
    "WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true)), "
    "marked AS (UPDATE outbox SET published_at = now() FROM unflushed "
    "WHERE outbox.id = ANY(%s)) "
    "SELECT id, subject, subject_id, envelope, traceparent FROM outbox "
    "WHERE published_at IS NULL AND id <> ALL(%s) ORDER BY seq LIMIT %s"
)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        *,
        batch_size: int = 1000,
        idle_interval: float = 1.0,
        max_backoff: float = 5.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self.max_backoff = max_backoff
        self.published = 0
        self._lock_key = zlib.crc32(f"outbox-relay:{db.source}".encode())
        self._rows: psycopg.AsyncConnection[Any] | None = None
        """The leading relay's own connection for reading and marking rows."""

    async def run(self) -> None:
        """Relay forever (cancel to stop). Waits to become the leader first."""
        wakeup = self.db.outbox_wakeup
        while True:
            try:
                async with await self._connect("outbox relay") as listener:
                    await self._become_leader(listener)
                    await listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    async with await self._connect("outbox relay rows") as rows:
                        self._rows = rows
                        wakeup.relaying_here = True
                        try:
                            await self._relay_while_leader(listener)
                        finally:
                            wakeup.relaying_here = False
                            self._rows = None
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("outbox relay lost its database connection: %s", exc)
                await asyncio.sleep(1.0)

    async def _connect(self, role: str) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            libpq_url(self.db.url),
            autocommit=True,
            application_name=f"{self.db.source} {role} pid={os.getpid()}",
        )

    async def _become_leader(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while True:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key,))
            row = await cur.fetchone()
            if row and row[0]:
                return
            await asyncio.sleep(self.idle_interval)

    async def _relay_while_leader(self, listener: psycopg.AsyncConnection[Any]) -> None:
        """Relay batches until the listener fails; woken by commits here or NOTIFYs from elsewhere."""
        woken = self.db.outbox_wakeup.written_here
        listening = asyncio.create_task(self._forward_notifies(listener, woken))
        relaying = asyncio.create_task(self._relay_when_woken(woken))
        try:
            done, _ = await asyncio.wait({listening, relaying}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the listener's connection error ends leadership; re-raised here
        finally:
            for task in (listening, relaying):
                task.cancel()
            await asyncio.gather(listening, relaying, return_exceptions=True)

    @staticmethod
    async def _forward_notifies(
        listener: psycopg.AsyncConnection[Any], woken: asyncio.Event
    ) -> None:
        async for _ in listener.notifies():
            woken.set()

    async def _relay_when_woken(self, woken: asyncio.Event) -> None:
        conn = self._rows
        assert conn is not None, "relaying only while leading, on the leader's connection"
        await self.bus.connect()
        backoff = 0.1
        unmarked: list[uuid.UUID] = []  # published, marked by the next round's statement
        try:
            while True:
                woken.clear()  # before reading: a commit from now on wakes the next round
                marking, unmarked = unmarked, []
                rows = await self._read(conn, _MARK_AND_READ_NEXT, (marking, marking))
                unmarked, failed = await self._publish(rows) if rows else ([], 0)
                self.published += len(unmarked)
                if failed:
                    marking, unmarked = unmarked, []
                    if marking:
                        await self._mark_published(conn, marking)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                backoff = 0.1
                if not rows:
                    # Also a poll: rows written by a process whose NOTIFY was lost still go out.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), self.idle_interval)
        finally:
            if unmarked and not conn.closed:
                # Stopping between two rounds: best effort, a row left unmarked only goes out
                # again (and JetStream drops the copy).
                with contextlib.suppress(psycopg.Error):
                    await self._mark_published(conn, unmarked)

    async def relay_once(self) -> tuple[int, int]:
        """Publish one batch and mark it; returns (published, failed). Outside `run` (a
        leader's own connection) it borrows a pooled connection, in autocommit the same way."""
        await self.bus.connect()
        if self._rows is not None:
            return await self._relay_on(self._rows)
        async with self.db.reads() as pooled:
            raw = await pooled.get_raw_connection()
            driver = raw.driver_connection
            assert isinstance(driver, psycopg.AsyncConnection)
            return await self._relay_on(driver)

    async def _relay_on(self, conn: psycopg.AsyncConnection[Any]) -> tuple[int, int]:
        rows = await self._read(conn, _UNPUBLISHED, ())
        if not rows:
            return 0, 0
        done, failed = await self._publish(rows)
        if done:
            await self._mark_published(conn, done)
        self.published += len(done)
        return len(done), failed

    async def _read(
        self, conn: psycopg.AsyncConnection[Any], statement: str, values: tuple[Any, ...]
    ) -> list[Any]:
        """The next batch of unpublished rows, oldest first."""
        cursor = conn.cursor(row_factory=namedtuple_row)
        await cursor.execute(statement, (*values, self.batch_size), prepare=True)
        return await cursor.fetchall()

    async def _mark_published(
        self, conn: psycopg.AsyncConnection[Any], done: list[uuid.UUID]
    ) -> None:
        """Mark the acknowledged rows, committed without waiting for the WAL flush."""
        await conn.execute(_MARK_PUBLISHED, (done,), prepare=True)

    async def _publish(self, rows: Sequence[Any]) -> tuple[list[uuid.UUID], int]:
        by_entity: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for row in rows:
            entity_type = row.subject.split(".")[1] if "." in row.subject else row.subject
            by_entity[(entity_type, row.subject_id)].append(row)
        done: list[uuid.UUID] = []
        failed = 0

        async def send_in_order(chain: list[Any]) -> None:
            nonlocal failed
            for i, row in enumerate(chain):
                headers = {"traceparent": row.traceparent} if row.traceparent else None
                try:
                    await self.bus.publish(
                        row.subject, row.envelope, msg_id=str(row.id), headers=headers
                    )
                except Exception as exc:
                    failed += len(chain) - i
                    log.debug("publish of %s failed: %s", row.id, exc)
                    return
                done.append(row.id)

        await asyncio.gather(*(send_in_order(chain) for chain in by_entity.values()))
        if failed:
            log.warning("outbox relay: %d events not yet published (NATS unavailable?)", failed)
        return done, failed
