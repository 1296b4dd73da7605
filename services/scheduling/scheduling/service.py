"""Scheduling's use cases: the only code that changes tours and availability.

Each command opens a unit of work (or joins the one it is given, for event consumers),
loads the aggregate under a row lock, lets the domain decide, writes the rows, and records
the domain's events in the outbox in the same transaction. Overlaps are not checked here:
the exclusion constraints decide, and a violation becomes CONFLICT.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from servicekit.auth import Principal, Role
from servicekit.db import Database, UnitOfWork
from servicekit.errors import BadUserInput, Conflict, Forbidden, NotFound
from sqlalchemy import and_, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from scheduling import store
from scheduling.availability import Availability, Range
from scheduling.clients import Directory
from scheduling.domain import Actor, Tour, TourStatus, check_aware, check_duration
from scheduling.messages import tour_changed
from scheduling.tables import reminder_jobs, tours

Clock = Callable[[], datetime]
SUBJECT = "scheduling.tour.{verb}"
MAX_IDEMPOTENCY_KEY = 200
# A request whose insert deadlocks with a simultaneous one for the same time is tried again
# (then it waits on the other and sees the overlap or the repeated key).
WRITE_ATTEMPTS = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


def actor_of(who: Principal) -> Actor:
    return Actor(user_id=who.user_id, admin=who.is_admin)


@dataclass(frozen=True)
class Policy:
    """The tunable parts of scheduling's behaviour (from settings)."""

    reminder_offsets_minutes: tuple[int, ...] = (24 * 60, 60)
    no_show_grace: timedelta = timedelta(minutes=15)
    slot_step: timedelta = timedelta(minutes=30)


class Scheduling:
    def __init__(
        self,
        db: Database,
        directory: Directory,
        *,
        policy: Policy | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.directory = directory
        self.policy = policy or Policy()
        self.clock = clock

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
        if who.role is not Role.REALTOR:
            raise Forbidden("only realtors publish availability")
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
            await store.put_availability(uow.session, value, self.clock())
            await uow.commit()
        return value

    async def availability_of(self, realtor_id: uuid.UUID) -> Availability | None:
        async with self.db.session() as session:
            return await store.get_availability(session, realtor_id)

    async def available_slots(
        self, listing_id: uuid.UUID, start: datetime, end: datetime, duration_minutes: int
    ) -> list[Range]:
        """The free slots of the listing's realtor in [start, end)."""
        length = check_duration(duration_minutes)
        check_aware(start, "from")
        check_aware(end, "to")
        listing = await self.directory.listings.get(listing_id)
        if not listing.bookable:
            return []
        async with self.db.session() as session:
            rules = await store.get_availability(session, listing.realtor_id)
            if rules is None:
                return []
            busy = await store.busy_ranges(
                session, listing.realtor_id, start - timedelta(days=1), end + timedelta(days=1)
            )
        return rules.free_slots(
            start=start,
            end=end,
            duration=length,
            now=self.clock(),
            busy=busy,
            step=self.policy.slot_step,
        )

    # -- reading ---------------------------------------------------------------------------
    async def tour_for(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        """The tour, for one of its participants (or an admin)."""
        async with self.db.session() as session:
            tour = await store.get_tour(session, tour_id)
        if tour is None:
            raise NotFound("tour not found", argument="id")
        if not (who.is_admin or tour.is_participant(who.user_id)):
            raise Forbidden("only the tour's participants may see it")
        return tour

    async def require_listing_owner(self, who: Principal, listing_id: uuid.UUID) -> None:
        """FORBIDDEN unless the caller is the listing's realtor (or an admin)."""
        if who.is_admin:
            return
        listing = await self.directory.listings.get(listing_id)
        if listing.realtor_id != who.user_id:
            raise Forbidden("only the listing's realtor may see its tours")

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
        if who.role is not Role.BUYER:
            raise Forbidden("only buyers request tours")
        key = (idempotency_key or "").strip() or None
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            raise BadUserInput("idempotencyKey is too long", argument="idempotencyKey")
        if key is not None:
            async with self.db.session() as session:
                earlier = await store.find_by_idempotency_key(session, who.user_id, key)
            if earlier is not None:
                return earlier
        length = check_duration(duration_minutes)
        check_aware(starts_at, "startsAt")
        listing = await self.directory.listings.get(listing_id)
        if not listing.bookable:
            raise BadUserInput(
                f"the listing is {listing.status.value} and not open for tours",
                argument="listingId",
            )
        now = self.clock()
        async with self.db.session() as session:
            rules = await store.get_availability(session, listing.realtor_id)
        if rules is None:
            raise BadUserInput("the realtor has not published availability yet")
        start = starts_at.astimezone(UTC)
        if not rules.fits(start, start + length, now):
            raise BadUserInput(
                "startsAt is outside the realtor's available hours", argument="startsAt"
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
        for _ in range(WRITE_ATTEMPTS):
            async with self.db.uow(actor=str(who.user_id)) as uow:
                try:
                    await store.insert_tour(uow.session, tour, key)
                except store.Contended:
                    continue
                except (store.Overlap, store.DuplicateKey) as exc:
                    refused = exc
                else:
                    self._announce(uow, tour)
                    await uow.commit()
                    return tour
            break
        if key is not None:
            # The same request, sent twice at once: the one that won answers both.
            async with self.db.session() as session:
                earlier = await store.find_by_idempotency_key(session, who.user_id, key)
            if earlier is not None:
                return earlier
        raise self._conflict(refused)

    @staticmethod
    def _conflict(exc: Exception) -> Conflict:
        if isinstance(exc, store.Overlap) and exc.who == "buyer":
            return Conflict("you already have a tour at that time")
        return Conflict("the realtor is not available at that time")

    # -- changing --------------------------------------------------------------------------
    async def confirm(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        return await self._change(
            actor_of(who), tour_id, lambda t, now: t.confirm(actor_of(who), now)
        )

    async def decline(self, who: Principal, tour_id: uuid.UUID, reason: str) -> Tour:
        return await self._change(
            actor_of(who), tour_id, lambda t, now: t.decline(actor_of(who), reason, now)
        )

    async def cancel(self, who: Principal, tour_id: uuid.UUID, reason: str) -> Tour:
        return await self._change(
            actor_of(who), tour_id, lambda t, now: t.cancel(actor_of(who), reason, now)
        )

    async def start(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        return await self._change(
            actor_of(who), tour_id, lambda t, now: t.start(actor_of(who), now)
        )

    async def complete(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        return await self._change(
            actor_of(who), tour_id, lambda t, now: t.complete(actor_of(who), now)
        )

    async def reschedule(self, who: Principal, tour_id: uuid.UUID, starts_at: datetime) -> Tour:
        actor = actor_of(who)
        check_aware(starts_at, "startsAt")
        start = starts_at.astimezone(UTC)

        async def guard(tour: Tour, now: datetime) -> None:
            if actor.user_id != tour.buyer_id:
                return
            # A buyer picks from the realtor's published hours; the realtor may move their
            # own tour anywhere (the exclusion constraints still apply).
            async with self.db.session() as session:
                rules = await store.get_availability(session, tour.realtor_id)
            length = tour.ends_at - tour.starts_at
            if rules is None or not rules.fits(start, start + length, now):
                raise BadUserInput(
                    "startsAt is outside the realtor's available hours", argument="startsAt"
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
            tour = await store.get_tour(work.session, tour_id, lock=True)
            if tour is None:
                raise NotFound("tour not found", argument="id")
            now = self.clock()
            if guard is not None:
                await guard(tour, now)
            action(tour, now)
            try:
                await store.save_tour(work.session, tour)
            except store.Overlap as exc:
                raise self._conflict(exc) from None
            except store.Contended:
                raise Conflict(
                    "another change for an overlapping time happened at the same moment; try again"
                ) from None
            self._announce(work, tour)
            await self._plan_reminders(work, tour, now)
            await work.commit()
        return tour

    def _announce(self, uow: UnitOfWork, tour: Tour) -> None:
        for event in tour.events:
            uow.emit(
                SUBJECT.format(verb=event.verb.value),
                tour_changed(tour, event),
                subject_id=tour.id,
                actor=event.actor_id,
                time=event.at,
            )
        tour.events.clear()

    async def _plan_reminders(self, uow: UnitOfWork, tour: Tour, now: datetime) -> None:
        """Retire reminders planned for another start or a tour no longer scheduled; plan new ones."""
        stale = (
            reminder_jobs.c.for_starts_at != tour.starts_at
            if tour.status is TourStatus.SCHEDULED
            else true()
        )
        await uow.session.execute(
            update(reminder_jobs)
            .where(reminder_jobs.c.tour_id == tour.id, reminder_jobs.c.state == "pending", stale)
            .values(state="skipped", processed_at=now)
        )
        if tour.status is not TourStatus.SCHEDULED:
            return
        rows = [
            {
                "tour_id": tour.id,
                "offset_minutes": offset,
                "due_at": tour.starts_at - timedelta(minutes=offset),
                "for_starts_at": tour.starts_at,
            }
            for offset in self.policy.reminder_offsets_minutes
            if tour.starts_at - timedelta(minutes=offset) > now
        ]
        if rows:
            await uow.session.execute(
                pg_insert(reminder_jobs).values(rows).on_conflict_do_nothing()
            )

    # -- reacting to other services ----------------------------------------------------------
    async def media_started(self, uow: UnitOfWork, tour_id: uuid.UUID) -> None:
        """The first participant joined the meeting: the tour is under way."""
        async with uow:
            tour = await store.get_tour(uow.session, tour_id)
        if tour is None or tour.status is not TourStatus.SCHEDULED:
            return
        await self._change(
            Actor.system(), tour_id, lambda t, now: t.start(Actor.system(), now), uow=uow
        )

    async def media_ended(self, uow: UnitOfWork, tour_id: uuid.UUID) -> None:
        """The meeting ended: an ongoing tour is complete."""
        async with uow:
            tour = await store.get_tour(uow.session, tour_id)
        if tour is None or tour.status is not TourStatus.IN_PROGRESS:
            return
        await self._change(
            Actor.system(), tour_id, lambda t, now: t.complete(Actor.system(), now), uow=uow
        )

    async def cancel_for_listing(self, uow: UnitOfWork, listing_id: uuid.UUID, reason: str) -> int:
        """Cancel the listing's requested and scheduled tours (it can no longer be toured)."""
        return await self._cancel_where(uow, tours.c.listing_id == listing_id, reason)

    async def forget_user(self, uow: UnitOfWork, user_id: uuid.UUID) -> int:
        """A deleted account: cancel its future tours, then erase what it wrote."""
        now = self.clock()
        cancelled = await self._cancel_where(
            uow,
            and_(store.participant_filter(user_id), tours.c.starts_at > now),
            "a participant deleted their account",
        )
        async with uow:
            await store.anonymise_user(uow.session, user_id)
        return cancelled

    async def _cancel_where(self, uow: UnitOfWork, condition: object, reason: str) -> int:
        async with uow:
            ids = await store.cancellable_ids(uow.session, condition)
            count = 0
            for tour_id in ids:
                tour = await store.get_tour(uow.session, tour_id, lock=True)
                if tour is None:
                    continue
                now = self.clock()
                if tour.cancel_by_system(reason, now):
                    await store.save_tour(uow.session, tour)
                    self._announce(uow, tour)
                    await self._plan_reminders(uow, tour, now)
                    count += 1
        return count

    async def mark_no_shows(self, limit: int = 100) -> int:
        """Scheduled tours whose window passed without a start become NO_SHOW."""
        now = self.clock()
        async with self.db.uow() as uow:
            due = await store.no_show_candidates(
                uow.session, now - self.policy.no_show_grace, limit
            )
            for tour in due:
                tour.mark_no_show(now, self.policy.no_show_grace)
                await store.save_tour(uow.session, tour)
                self._announce(uow, tour)
                await self._plan_reminders(uow, tour, now)
            await uow.commit()
        return len(due)
