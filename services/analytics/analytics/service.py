"""Analytics' use cases: record an event from the streams, track one from a frontend,
forward due events to Mixpanel or GA4.

Each opens (or joins) one unit of work, applies the domain's rules and stores through the
store; no SQL and no transport here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import Principal

from analytics import store
from analytics.domain import PROPERTY_VIEW, Incoming, Recorded, TrackEvent, client_event
from analytics.erasure import Outcome, Subject
from analytics.forwarding import MAX_ATTEMPTS, Result, wait_before
from analytics.limits import RateLimiter

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Destination(Protocol):
    """Mixpanel or GA4, as the forwarder sees them."""

    name: str
    batch: int

    async def send(self, events: list[Recorded]) -> Result: ...


class Eraser(Protocol):
    """Mixpanel's GDPR API or GA4's User Deletion API, as the erasers see them."""

    name: str
    batch: int

    async def erase(self, subjects: list[Subject]) -> Outcome: ...


class Analytics:
    def __init__(
        self,
        db: Database,
        *,
        per_client: RateLimiter,
        per_address: RateLimiter,
        clock: Callable[[], datetime] = utcnow,
        destinations: Sequence[str] = (),
        erasers: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.destinations = tuple(destinations)
        self.erasers = tuple(erasers)
        self.per_client = per_client
        self.per_address = per_address
        self.clock = clock

    async def receive(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """What one event from the streams tells, stored inside the consumer's unit of work
        (with its inbox row)."""
        await self.receive_all(uow, [incoming])

    async def receive_all(self, uow: UnitOfWork, batch: Sequence[Incoming]) -> None:
        """What a fetched batch of events tells, in stream order, in the consumer's unit of
        work. The recorded events are stored together (whole-batch statements); what a
        listing, a user's zone or a deletion changes is applied in its place in the order,
        after the events before it are stored."""
        pending: list[Recorded] = []
        for incoming in batch:
            if incoming.listing or incoming.person or incoming.deleted_user:
                await self._record_all(uow, pending)
                pending = []
            if incoming.listing is not None:
                await store.save_listing(uow, incoming.listing)
            if incoming.person is not None:
                await store.save_person(uow, incoming.person)
            event = incoming.recorded
            if event is not None and (
                event.name != PROPERTY_VIEW or await self._counts(uow, event)
            ):
                pending.append(event)
            if incoming.deleted_user is not None:
                erased = await store.forget_user(
                    uow, incoming.deleted_user, self.erasers, self.clock()
                )
                log.info("erased %d events of a deleted user", erased)
        await self._record_all(uow, pending)

    async def _counts(self, uow: UnitOfWork, event: Recorded) -> bool:
        """A Property View from a public page: the visitor's user when their anonymous id is
        joined to one; True unless the 30-minute rule folds it into an earlier view."""
        if event.anonymous_id is not None and event.user_id is None:
            event.user_id = await store.linked_user(uow, event.anonymous_id)
        assert event.listing_id is not None and event.visitor is not None
        return await store.claim_view(uow, event.visitor, event.listing_id, event.occurred_at)

    async def _record_all(self, uow: UnitOfWork, events: Sequence[Recorded]) -> list[Recorded]:
        if not events:
            return []
        return await store.record_all(uow, events, self.clock(), self.destinations)

    async def record(self, uow: UnitOfWork, event: Recorded) -> bool:
        """Store one event of the plan; True when it was new. A listing's event is credited
        to the listing's realtor when analytics knows the listing."""
        return bool(await self._record_all(uow, [event]))

    async def keep_partitions(self, *, ahead: int, retention: int) -> tuple[list[str], list[str]]:
        """Make the coming months of raw events and drop those past the retention."""
        async with self.db.uow() as uow:
            made, dropped = await store.keep_partitions(
                uow, self.clock(), ahead=ahead, retention=retention
            )
            await uow.commit()
        if made or dropped:
            log.info("raw event months made: %s; dropped: %s", made, dropped)
        return made, dropped

    async def forward_due(self, destination: Destination, batch: int) -> int:
        """Send one batch of the destination's due events and record what became of each;
        returns how many were claimed (0: nothing due)."""
        now = self.clock()
        async with self.db.uow() as uow:
            claimed = await store.claim_due(uow, destination.name, now, batch)
            if not claimed:
                return 0
            result = await destination.send([event for event, _ in claimed])
            attempts = {event.id: count for event, count in claimed}
            settled = set(result.sent) | set(result.rejected)
            retry: dict[uuid.UUID, tuple[int, datetime | None]] = {}
            for event_id, count in attempts.items():
                if event_id in settled:
                    continue
                tried = count + 1
                due = (
                    None if tried >= MAX_ATTEMPTS else now + wait_before(tried, result.retry_after)
                )
                retry[event_id] = (tried, due)
            await store.settle(
                uow, destination.name, sent=result.sent, rejected=result.rejected, retry=retry
            )
            await uow.commit()
        if result.rejected:
            log.warning("%s refused %d events", destination.name, len(result.rejected))
        return len(claimed)

    async def erase_due(self, eraser: Eraser) -> int:
        """Send one round of the destination's due deletion requests and record what became
        of each; returns how many were claimed (0: nothing due)."""
        now = self.clock()
        async with self.db.uow() as uow:
            claimed = await store.claim_erasures(uow, eraser.name, now, eraser.batch)
            if not claimed:
                return 0
            outcome = await eraser.erase([subject for subject, _ in claimed])
            settled = set(outcome.done) | set(outcome.refused)
            retry: dict[Subject, tuple[int, datetime | None]] = {}
            for subject, count in claimed:
                if subject in settled:
                    continue
                tried = count + 1
                due = (
                    None if tried >= MAX_ATTEMPTS else now + wait_before(tried, outcome.retry_after)
                )
                retry[subject] = (tried, due)
            await store.settle_erasures(
                uow, eraser.name, done=outcome.done, refused=outcome.refused, retry=retry
            )
            await uow.commit()
        if outcome.refused:
            log.warning("%s refused %d deletion requests", eraser.name, len(outcome.refused))
        return len(claimed)

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
