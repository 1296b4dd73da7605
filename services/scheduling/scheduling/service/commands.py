"""The commands: each opens (or joins) a unit of work, loads through the store, lets the
domain decide and commits; the store tracked what it loaded, so the unit of work writes the
domain's events to the outbox in the same transaction."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime

from servicekit.db import UnitOfWork
from servicekit.vocabulary import (
    BadUserInput,
    Conflict,
    NotFound,
    Principal,
    ServiceError,
    Unavailable,
)

from scheduling import metrics, store
from scheduling.availability import Availability
from scheduling.domain import (
    Actor,
    ListingStatus,
    Tour,
    TourStatus,
    accepts_tours,
    check_aware,
    check_duration,
    no_longer_tourable,
    require_may_publish_availability,
    require_may_request_tours,
)
from scheduling.feeds import fingerprint, new_nonce
from scheduling.service.base import UseCases

log = logging.getLogger(__name__)

SendReminder = Callable[[Tour, int], Awaitable[object]]
MAX_IDEMPOTENCY_KEY = 200
# A request whose insert deadlocks with a simultaneous one for the same time is tried again
# (then it waits on the other and sees the overlap or the repeated key). Several identical
# requests at once can deadlock round after round, so each retry first waits a random
# moment (growing with the attempt) that lets one of them win.
WRITE_ATTEMPTS = 10
RETRY_JITTER_SECONDS = 0.05


class Commands(UseCases):
    # -- availability ----------------------------------------------------------------------
    async def set_availability(
        self,
        who: Principal,
        *,
        time_zone: str,
        weekly_hours: Sequence[tuple[str, str, str]],
        buffer_minutes: int,
        minimum_notice_minutes: int,
        max_days_ahead: int,
        blocked_dates: Sequence[date],
    ) -> Availability:
        require_may_publish_availability(who)
        value = Availability.create(
            realtor_id=who.user_id,
            time_zone=time_zone,
            weekly_hours=weekly_hours,
            buffer_minutes=buffer_minutes,
            minimum_notice_minutes=minimum_notice_minutes,
            max_days_ahead=max_days_ahead,
            blocked_dates=blocked_dates,
        )
        async with self.db.uow(actor=str(who.user_id)) as uow:
            await store.put_availability(uow, value, self.clock())
            await uow.commit()
        return value

    # -- calendar feeds ----------------------------------------------------------------------
    async def reset_calendar_feed(self, who: Principal) -> str:
        """A new feed URL for the caller; the old one stops working."""
        nonce = new_nonce()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            token = self.feeds.token(who.user_id, nonce)
            await store.rotate_feed(uow, who.user_id, nonce, fingerprint(token))
            await uow.commit()
        return self.feeds.url(who.user_id, nonce)

    # -- requesting ------------------------------------------------------------------------
    async def request_tour(
        self,
        who: Principal,
        *,
        listing_id: uuid.UUID,
        starts_at: datetime,
        duration_minutes: int,
        note: str | None,
        idempotency_key: str | None,
    ) -> Tour:
        try:
            tour = await self._request_tour(
                who,
                listing_id=listing_id,
                starts_at=starts_at,
                duration_minutes=duration_minutes,
                note=note,
                idempotency_key=idempotency_key,
            )
        except Unavailable:
            # A dependency out of reach is the platform failing, not the rules refusing.
            metrics.FAILED.inc()
            raise
        except ServiceError:
            metrics.REFUSED.inc()
            raise
        except Exception:
            metrics.FAILED.inc()
            raise
        metrics.BOOKED.inc()
        return tour

    async def _request_tour(
        self,
        who: Principal,
        *,
        listing_id: uuid.UUID,
        starts_at: datetime,
        duration_minutes: int,
        note: str | None,
        idempotency_key: str | None,
    ) -> Tour:
        require_may_request_tours(who)
        key = (idempotency_key or "").strip() or None
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            raise BadUserInput("idempotencyKey is too long", field="idempotencyKey")
        if key is not None:
            earlier = await self.queries.by_idempotency_key(who.user_id, key)
            if earlier is not None:
                return earlier
        length = check_duration(duration_minutes)
        check_aware(starts_at, "startsAt")
        listing = await self.directory.listings.get(listing_id)
        if not accepts_tours(listing.status):
            raise BadUserInput(
                f"the listing is {listing.status.value} and not open for tours",
                field="listingId",
            )
        now = self.clock()
        rules = await self.queries.availability_of(listing.realtor_id)
        if rules is None:
            raise BadUserInput("the realtor has not published availability yet")
        start = starts_at.astimezone(UTC)
        if not rules.fits(start, start + length, now):
            raise BadUserInput(
                "startsAt is outside the realtor's available hours", field="startsAt"
            )
        tour = Tour.request(
            listing_id=listing.id,
            buyer_id=who.user_id,
            realtor_id=listing.realtor_id,
            starts_at=start,
            duration_minutes=duration_minutes,
            time_zone=listing.time_zone or rules.time_zone,
            buffer_minutes=rules.buffer_minutes,
            now=now,
            note=note,
            listing_title=listing.title,
            location=listing.location,
        )
        # The transaction is kept to the writes: while it is open, competing requests for an
        # overlapping time wait on it inside the exclusion constraint.
        refused: Exception = store.Overlap("realtor")
        contended = False
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, RETRY_JITTER_SECONDS * attempt))
            async with self.db.uow(actor=str(who.user_id)) as uow:
                if key is not None and await store.claim_idempotency_key(uow, who.user_id, key):
                    earlier = await self.queries.by_idempotency_key(who.user_id, key)
                    if earlier is not None:
                        return earlier
                try:
                    await store.add_tour(uow, tour, key)
                except store.Contended:
                    contended = True
                except (store.Overlap, store.DuplicateKey) as exc:
                    refused, contended = exc, False
                else:
                    await uow.commit()
                    return tour
            if not contended:
                break
        raise self._conflict(refused)

    @staticmethod
    def _conflict(exc: Exception) -> Conflict:
        if isinstance(exc, store.Overlap) and exc.who == "buyer":
            return Conflict("you already have a tour at that time")
        return Conflict("the realtor is not available at that time")

    # -- changing --------------------------------------------------------------------------
    async def confirm(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        actor = Actor.of(who)
        return await self._change(actor, tour_id, lambda t, now: t.confirm(actor, now))

    async def decline(self, who: Principal, tour_id: uuid.UUID, reason: str) -> Tour:
        actor = Actor.of(who)
        return await self._change(actor, tour_id, lambda t, now: t.decline(actor, reason, now))

    async def cancel(self, who: Principal, tour_id: uuid.UUID, reason: str) -> Tour:
        actor = Actor.of(who)
        return await self._change(actor, tour_id, lambda t, now: t.cancel(actor, reason, now))

    async def start(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        actor = Actor.of(who)
        return await self._change(actor, tour_id, lambda t, now: t.start(actor, now))

    async def complete(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        actor = Actor.of(who)
        return await self._change(actor, tour_id, lambda t, now: t.complete(actor, now))

    async def reschedule(self, who: Principal, tour_id: uuid.UUID, starts_at: datetime) -> Tour:
        actor = Actor.of(who)
        check_aware(starts_at, "startsAt")
        start = starts_at.astimezone(UTC)

        async def guard(tour: Tour, now: datetime) -> None:
            if actor.user_id != tour.buyer_id:
                return
            # A buyer picks from the realtor's published hours; the realtor may move their
            # own tour anywhere (the exclusion constraints still apply).
            rules = await self.queries.availability_of(tour.realtor_id)
            length = tour.ends_at - tour.starts_at
            if rules is None or not rules.fits(start, start + length, now):
                raise BadUserInput(
                    "startsAt is outside the realtor's available hours", field="startsAt"
                )

        return await self._change(
            actor, tour_id, lambda t, now: t.reschedule(actor, start, now), guard=guard
        )

    async def _change(
        self,
        actor: Actor,
        tour_id: uuid.UUID,
        action: Callable[[Tour, datetime], None],
        *,
        uow: UnitOfWork | None = None,
        guard: Callable[[Tour, datetime], Awaitable[None]] | None = None,
    ) -> Tour:
        work = uow or self.db.uow(actor=str(actor.user_id) if actor.user_id else None)
        async with work:
            tour = await store.load_tour(work, tour_id, lock=True)
            if tour is None:
                raise NotFound("tour not found", field="id")
            now = self.clock()
            if guard is not None:
                await guard(tour, now)
            action(tour, now)
            try:
                await self._save(work, tour, now)
            except store.Overlap as exc:
                raise self._conflict(exc) from None
            except store.Contended:
                raise Conflict(
                    "another change for an overlapping time happened at the same moment; try again"
                ) from None
            await work.commit()
        return tour

    async def _save(self, uow: UnitOfWork, tour: Tour, now: datetime) -> None:
        await store.save_tour(uow, tour)
        await store.plan_reminders(uow, tour, self.policy.reminder_offsets_minutes, now)

    # -- reacting to other services ----------------------------------------------------------
    async def media_started(self, uow: UnitOfWork, tour_id: uuid.UUID) -> None:
        """The first participant joined the meeting: a scheduled tour is under way."""
        system = Actor.system()
        async with uow:
            tour = await store.load_tour(uow, tour_id, lock=True)
            if tour is not None and tour.status is TourStatus.SCHEDULED:
                await self._change(system, tour_id, lambda t, now: t.start(system, now), uow=uow)

    async def media_ended(self, uow: UnitOfWork, tour_id: uuid.UUID) -> None:
        """The meeting ended: an ongoing tour is complete."""
        system = Actor.system()
        async with uow:
            tour = await store.load_tour(uow, tour_id, lock=True)
            if tour is not None and tour.status is TourStatus.IN_PROGRESS:
                await self._change(system, tour_id, lambda t, now: t.complete(system, now), uow=uow)

    async def listing_written(
        self,
        uow: UnitOfWork,
        listing_id: uuid.UUID,
        *,
        realtor_id: uuid.UUID,
        status: ListingStatus,
        time_zone: str,
        at: datetime,
    ) -> None:
        """Listings created or changed the listing (at `at`): what `availableSlots` reads."""
        async with uow:
            await store.copy_listing(
                uow,
                listing_id,
                realtor_id=realtor_id,
                status=status.value,
                time_zone=time_zone,
                at=at,
            )
            await uow.commit()

    async def listing_status_noted(
        self, uow: UnitOfWork, listing_id: uuid.UUID, status: ListingStatus, at: datetime
    ) -> None:
        async with uow:
            await store.copy_listing_status(uow, listing_id, status.value, at)
            await uow.commit()

    async def listing_deleted(
        self, uow: UnitOfWork, listing_id: uuid.UUID, realtor_id: uuid.UUID, at: datetime
    ) -> int:
        """The listing is gone: noted as such, and its live tours cancelled."""
        async with uow:
            await store.copy_listing_deleted(uow, listing_id, realtor_id, at)
            cancelled = await self.cancel_for_listing(uow, listing_id, "the listing was removed")
            await uow.commit()
        return cancelled

    async def listing_status_changed(
        self, uow: UnitOfWork, listing_id: uuid.UUID, status: ListingStatus
    ) -> int:
        """A listing that stops accepting tours takes its live tours with it."""
        if accepts_tours(status):
            return 0
        return await self.cancel_for_listing(uow, listing_id, no_longer_tourable(status))

    async def cancel_for_listing(self, uow: UnitOfWork, listing_id: uuid.UUID, reason: str) -> int:
        """Cancel the listing's requested and scheduled tours (it can no longer be toured)."""
        async with uow:
            return await self._cancel(
                uow, await store.cancellable_of_listing(uow, listing_id), reason
            )

    async def forget_user(self, uow: UnitOfWork, user_id: uuid.UUID) -> int:
        """A deleted account: cancel its future tours, then erase what it wrote."""
        async with uow:
            due = await store.cancellable_of_user(uow, user_id, self.clock())
            cancelled = await self._cancel(uow, due, "a participant deleted their account")
            await store.anonymise_user(uow, user_id)
        return cancelled

    async def _cancel(self, uow: UnitOfWork, due: Sequence[Tour], reason: str) -> int:
        count = 0
        for tour in due:
            now = self.clock()
            if tour.cancel_by_system(reason, now):
                await self._save(uow, tour, now)
                count += 1
        return count

    # -- background work ---------------------------------------------------------------------
    async def mark_no_shows(self, limit: int = 100) -> int:
        """Scheduled tours whose window passed without a start become NO_SHOW."""
        now = self.clock()
        async with self.db.uow() as uow:
            due = await store.claim_no_shows(uow, now - self.policy.no_show_grace, limit)
            for tour in due:
                tour.mark_no_show(now, self.policy.no_show_grace)
                await self._save(uow, tour, now)
            await uow.commit()
        return len(due)

    async def send_due_reminders(self, send: SendReminder, limit: int = 20) -> tuple[int, int]:
        """Send one batch of due reminders; returns (sent, skipped).

        Jobs are claimed with SKIP LOCKED and marked in the same transaction, so racing
        workers send each reminder once. A job whose send fails stays pending for the next
        round; one the domain finds obsolete (moved, cancelled, too late) is skipped.
        """
        now = self.clock()
        sent = skipped = 0
        async with self.db.uow() as uow:
            due = await store.claim_due_reminders(uow, now, limit)
            if not due:
                return 0, 0
            for job, tour in due:
                current = tour is not None and tour.reminder_due(
                    job.for_starts_at, job.offset_minutes, now
                )
                if current:
                    assert tour is not None
                    try:
                        await send(tour, job.offset_minutes)
                    except Exception as exc:
                        # Left pending: the next round retries it.
                        log.warning("reminder %s not sent yet: %s", job.id, exc)
                        continue
                    sent += 1
                else:
                    skipped += 1
                await store.finish_reminder(uow, job, sent=current, now=now)
            await uow.commit()
        return sent, skipped
