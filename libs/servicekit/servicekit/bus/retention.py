"""Pruning of the outbox and inbox, which would otherwise grow with every event forever.

An outbox row is only needed until JetStream has acknowledged it; it is kept a while longer
(`outbox_retention`) so an incident can be investigated from the database. An inbox row is
what makes a redelivered event harmless, so it must outlive every redelivery: keep it longer
than the stream's duplicate window and the consumers' longest redelivery back-off
(`inbox_retention`, days by default). Rows go in small batches so pruning never holds long
locks next to the relay and the consumers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import DBAPIError

from servicekit.db import Database
from servicekit.tables import inbox, outbox

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Pruned:
    outbox: int
    inbox: int


class BusRetention:
    """Deletes published outbox rows and processed inbox rows older than their retention."""

    def __init__(
        self,
        db: Database,
        *,
        outbox_retention: timedelta,
        inbox_retention: timedelta,
        interval_seconds: float = 600.0,
        batch_size: int = 5000,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.db = db
        self.outbox_retention = outbox_retention
        self.inbox_retention = inbox_retention
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.clock = clock

    async def prune_once(self) -> Pruned:
        """Prune everything that is due now, batch by batch; how many rows went."""
        now = self.clock()
        outbox_cutoff = now - self.outbox_retention
        inbox_cutoff = now - self.inbox_retention
        gone_outbox = gone_inbox = 0
        while True:
            batch = await self._prune_outbox(outbox_cutoff)
            gone_outbox += batch
            if batch < self.batch_size:
                break
        while True:
            batch = await self._prune_inbox(inbox_cutoff)
            gone_inbox += batch
            if batch < self.batch_size:
                break
        return Pruned(outbox=gone_outbox, inbox=gone_inbox)

    async def _prune_outbox(self, cutoff: datetime) -> int:
        due = (
            select(outbox.c.id)
            .where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
            .limit(self.batch_size)
        )
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(outbox).where(outbox.c.id.in_(due)))
        return int(result.rowcount)

    async def _prune_inbox(self, cutoff: datetime) -> int:
        due = (
            select(inbox.c.consumer, inbox.c.event_id)
            .where(inbox.c.processed_at < cutoff)
            .limit(self.batch_size)
        )
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                delete(inbox).where(tuple_(inbox.c.consumer, inbox.c.event_id).in_(due))
            )
        return int(result.rowcount)

    async def run(self) -> None:
        """Prune every `interval_seconds` forever (cancel to stop)."""
        while True:
            try:
                pruned = await self.prune_once()
                if pruned.outbox or pruned.inbox:
                    log.info("pruned %d outbox and %d inbox rows", pruned.outbox, pruned.inbox)
            except (DBAPIError, OSError) as exc:
                log.warning("bus retention could not reach the database: %s", exc)
            await asyncio.sleep(self.interval_seconds)
