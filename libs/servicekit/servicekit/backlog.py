"""Gauges of work that waits: the outbox rows not yet published, each durable consumer's
messages not yet delivered or acknowledged, and the database pool's connections in use.

Counters say what happened; these say what is still to happen, which is what an operator
needs when events are late (RUNBOOK.md: outbox and consumer lag). Every process samples
them every `interval` seconds: the values are the service's own (one outbox, one set of
durable consumers) whichever process a scrape reaches, except the pool, which is the
scraped process's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.js.errors import NotFoundError
from prometheus_client import Gauge
from sqlalchemy import func, select

from servicekit.bus.connection import Bus
from servicekit.bus.consumer import Subscription
from servicekit.db import Database
from servicekit.tables import outbox

log = logging.getLogger(__name__)

OUTBOX_UNPUBLISHED = Gauge(
    "realty_outbox_unpublished", "Outbox rows not yet published to NATS.", ["service"]
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "realty_outbox_oldest_unpublished_seconds",
    "Age of the oldest outbox row not yet published (0 when none waits).",
    ["service"],
)
CONSUMER_PENDING = Gauge(
    "realty_consumer_pending",
    "Messages in the stream a durable consumer has not been delivered yet.",
    ["service", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "realty_consumer_ack_pending",
    "Messages delivered to a durable consumer and not acknowledged yet.",
    ["service", "consumer"],
)
DB_POOL_IN_USE = Gauge(
    "realty_db_pool_in_use", "Database connections checked out of this process's pool.", ["service"]
)
DB_POOL_SIZE = Gauge(
    "realty_db_pool_size", "Connections this process's pool keeps (overflow aside).", ["service"]
)


class Backlog:
    """Samples the gauges above for one service."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        service: str,
        subscriptions: Sequence[Subscription] = (),
        *,
        interval: float = 15.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.service = service
        self.subscriptions = list(subscriptions)
        self.interval = interval

    async def sample(self) -> None:
        await self._sample_outbox()
        await self._sample_consumers()
        self._sample_pool()

    async def _sample_outbox(self) -> None:
        waiting = outbox.c.published_at.is_(None)
        age = func.coalesce(func.extract("epoch", func.now() - func.min(outbox.c.created_at)), 0)
        async with self.db.engine.connect() as conn:
            count, oldest = (await conn.execute(select(func.count(), age).where(waiting))).one()
        OUTBOX_UNPUBLISHED.labels(self.service).set(count)
        OUTBOX_OLDEST_SECONDS.labels(self.service).set(float(oldest))

    async def _sample_consumers(self) -> None:
        if not self.subscriptions:
            return
        js = await self.bus.jetstream()
        for sub in self.subscriptions:
            durable = f"{self.service}-{sub.durable}"
            try:
                info = await js.consumer_info(self.bus.stream_for(sub.subject), durable)
            except NotFoundError:
                continue  # not created yet: the consumer runner makes it when it starts
            CONSUMER_PENDING.labels(self.service, sub.durable).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(self.service, sub.durable).set(info.num_ack_pending or 0)

    def _sample_pool(self) -> None:
        pool = self.db.engine.pool
        DB_POOL_IN_USE.labels(self.service).set(getattr(pool, "checkedout", lambda: 0)())
        DB_POOL_SIZE.labels(self.service).set(getattr(pool, "size", lambda: 0)())

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:
                # A dependency being down is what other checks report; the gauges keep
                # their last values until it is back.
                log.debug("sampling the backlog of %s failed", self.service, exc_info=True)
            await asyncio.sleep(self.interval)
