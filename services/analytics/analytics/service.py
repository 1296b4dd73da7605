"""Analytics' use cases: record an event from the streams, track one from a frontend.

Each opens (or joins) one unit of work, applies the domain's rules and stores through the
store; no SQL and no transport here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import Principal

from analytics import store
from analytics.domain import PROPERTY_VIEW, Incoming, Recorded, TrackEvent, client_event
from analytics.limits import RateLimiter

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Analytics:
    def __init__(
        self,
        db: Database,
        *,
        per_client: RateLimiter,
        per_address: RateLimiter,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.per_client = per_client
        self.per_address = per_address
        self.clock = clock

    async def receive(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """What an event from the streams tells, stored inside the consumer's unit of work
        (with its inbox row)."""
        if incoming.listing is not None:
            await store.save_listing(uow, incoming.listing)
        if incoming.person is not None:
            await store.save_person(uow, incoming.person)
        if incoming.recorded is not None:
            await self.record(uow, incoming.recorded)

    async def record(self, uow: UnitOfWork, event: Recorded) -> bool:
        """Store one event of the plan; True when it was new. A listing's event is credited
        to the listing's realtor when analytics knows the listing."""
        if event.listing_id is not None and event.realtor_id is None:
            event.realtor_id = await store.listing_owner(uow, event.listing_id)
        return await store.add_event(uow, event, self.clock())

    async def track(
        self, who: Principal | None, command: TrackEvent, *, address: str | None
    ) -> bool:
        """Record a frontend's event; False when it repeats one already recorded (the same
        client id) or is a Property View the 30-minute rule folds into an earlier one."""
        now = self.clock()
        user_id = who.user_id if who is not None else None
        event = client_event(command, user_id, now)
        self.per_client.take(event.visitor or "", now)
        if address:
            self.per_address.take(address, now)
        async with self.db.uow() as uow:
            if event.anonymous_id is not None:
                if user_id is not None:
                    await store.link_identity(uow, event.anonymous_id, user_id, now)
                else:
                    event.user_id = await store.linked_user(uow, event.anonymous_id)
            if event.name == PROPERTY_VIEW:
                assert event.listing_id is not None and event.visitor is not None
                if not await store.claim_view(
                    uow, event.visitor, event.listing_id, event.occurred_at
                ):
                    await uow.commit()
                    return False
            stored = await self.record(uow, event)
            await uow.commit()
        return stored
