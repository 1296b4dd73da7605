"""Every statement that writes, locks or loads an aggregate to change it.

Functions that load or add a `Tour` take the unit of work and `track` the tour, so its
domain events reach the outbox when the unit of work commits; nothing else announces
anything. A write that breaks an exclusion constraint or the idempotency index surfaces as
`Overlap`/`DuplicateKey` (a deadlock between simultaneous writes as `Contended`), so the use
case decides what the caller sees; the transaction is then spoilt and only good for
rolling back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from psycopg import errors as pg_errors
from servicekit.db import UnitOfWork
from servicekit.reads import driver_sql
from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    bindparam,
    delete,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError, OperationalError

from scheduling.availability import WEEKDAYS, Availability, format_clock
from scheduling.domain import Tour, TourStatus
from scheduling.tables import (
    BUYER_OVERLAP,
    IDEMPOTENCY,
    REALTOR_OVERLAP,
    availability,
    calendar_feeds,
    listing_copies,
    reminder_jobs,
    tour_transitions,
    tours,
)

CANCELLABLE = (TourStatus.REQUESTED.value, TourStatus.SCHEDULED.value)


class Overlap(Exception):
    """The tour overlaps another live tour of the realtor (`who == "realtor"`) or buyer."""

    def __init__(self, who: str) -> None:
        super().__init__(who)
        self.who = who


class DuplicateKey(Exception):
    """The buyer already used this idempotency key."""


class Contended(Exception):
    """Concurrent writes for the same time deadlocked in PostgreSQL; one of them was chosen to
    fail. Trying again in a new transaction waits on the winner instead."""


def _constraint_of(exc: IntegrityError) -> str | None:
    orig = exc.orig
    if isinstance(orig, pg_errors.Error) and orig.diag is not None:
        return orig.diag.constraint_name
    return None


def _raise_known(exc: IntegrityError) -> None:
    name = _constraint_of(exc)
    if isinstance(exc.orig, pg_errors.ExclusionViolation):  # SQLSTATE 23P01
        raise Overlap("buyer" if name == BUYER_OVERLAP else "realtor") from exc
    if name == IDEMPOTENCY:
        raise DuplicateKey() from exc
    if name == REALTOR_OVERLAP:
        raise Overlap("realtor") from exc


async def _write(uow: UnitOfWork, statement: str, values: dict[str, Any]) -> None:
    """Run a write to `tours`, turning the constraints' refusals into this module's errors."""
    try:
        await uow.run(statement, values)
    except IntegrityError as exc:
        _raise_known(exc)
        raise
    except OperationalError as exc:
        if isinstance(exc.orig, pg_errors.DeadlockDetected):  # SQLSTATE 40P01
            raise Contended() from exc
        raise


# -- tours ---------------------------------------------------------------------------------
_STATUSES = {status.value: status for status in TourStatus}


def tour_from_row(row: Row[Any] | Any) -> Tour:
    return Tour(
        id=row.id,
        listing_id=row.listing_id,
        buyer_id=row.buyer_id,
        realtor_id=row.realtor_id,
        status=_STATUSES.get(row.status) or TourStatus(row.status),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        time_zone=row.time_zone,
        buffer_minutes=row.buffer_minutes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        note=row.note,
        status_reason=row.status_reason,
        sequence=row.sequence,
        listing_title=row.listing_title,
        location=row.location,
    )


def _tour_values(tour: Tour) -> dict[str, Any]:
    _, blocked_until = tour.blocked_range()
    return {
        "status": tour.status.value,
        "starts_at": tour.starts_at,
        "ends_at": tour.ends_at,
        "blocked_until": blocked_until,
        "note": tour.note,
        "status_reason": tour.status_reason,
        "sequence": tour.sequence,
        "updated_at": tour.updated_at,
    }


async def load_tour(uow: UnitOfWork, tour_id: uuid.UUID, *, lock: bool = False) -> Tour | None:
    """The tour, tracked by the unit of work (`lock`: held until it ends)."""
    query = select(tours).where(tours.c.id == tour_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.session.execute(query)).first()
    return uow.track(tour_from_row(row)) if row else None


# A booking's and a status change's writes, compiled once per set of columns written (always
# the same for each) and run at the driver in the unit of work's transaction
# (`UnitOfWork.run`): no SQLAlchemy statement built per call.
@cache
def _insert(table: Table, columns: tuple[str, ...]) -> str:
    return driver_sql(insert(table).values({c: bindparam(c) for c in columns}).inline())


@cache
def _update_tour(columns: tuple[str, ...]) -> str:
    return driver_sql(
        update(tours)
        .where(tours.c.id == bindparam("tour"))
        .values({c: bindparam(c) for c in columns})
    )


LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%(name)s, 0))"
# The buyer's tour booked with a key (`claim_idempotency_key`, and the queries' look-up).
TOUR_BY_KEY = driver_sql(
    select(tours).where(
        tours.c.buyer_id == bindparam("buyer"), tours.c.idempotency_key == bindparam("key")
    )
)


async def add_tour(uow: UnitOfWork, tour: Tour, idempotency_key: str | None) -> None:
    """Insert a new tour with its first transition; the constraints decide overlaps."""
    values = {
        "id": tour.id,
        "listing_id": tour.listing_id,
        "buyer_id": tour.buyer_id,
        "realtor_id": tour.realtor_id,
        "time_zone": tour.time_zone,
        "buffer_minutes": tour.buffer_minutes,
        "listing_title": tour.listing_title,
        "location": tour.location,
        "idempotency_key": idempotency_key,
        "created_at": tour.created_at,
        **_tour_values(tour),
    }
    await _write(uow, _insert(tours, tuple(values)), values)
    uow.track(tour)
    await _append_transitions(uow, tour)


async def claim_idempotency_key(uow: UnitOfWork, buyer_id: uuid.UUID, key: str) -> bool:
    """Take the buyer's key for this transaction; True when an earlier request made its tour.

    Identical requests sent at once (a double click, a client's retries) queue here, each
    behind the transaction holding the key, and see the tour it committed; they never race
    one another into the constraints, whose refusal would be a CONFLICT for a tour that is
    in fact the caller's.
    """
    # Two statements: the second's snapshot must be taken after the lock is held.
    await uow.run(LOCK_KEY, {"name": f"tour-request:{buyer_id}:{key}"})
    return bool(await uow.rows(TOUR_BY_KEY, {"buyer": buyer_id, "key": key}))


async def save_tour(uow: UnitOfWork, tour: Tour) -> None:
    """Write the tour's new state and the transitions it recorded since it was loaded."""
    uow.track(tour)
    values = _tour_values(tour)
    await _write(uow, _update_tour(tuple(values)), {"tour": tour.id, **values})
    await _append_transitions(uow, tour)


async def _append_transitions(uow: UnitOfWork, tour: Tour) -> None:
    for t in tour.transitions:  # one as a rule: the change the tour was saved for
        row = {
            "tour_id": tour.id,
            "from_status": t.from_status.value if t.from_status else None,
            "to_status": t.to_status.value,
            "at": t.at,
            "by_user": t.by,
            "reason": t.reason,
        }
        await uow.run(_insert(tour_transitions, tuple(row)), row)
    tour.transitions.clear()


async def _lock_cancellable(uow: UnitOfWork, condition: ColumnElement[bool]) -> list[Tour]:
    """Requested and scheduled tours matching `condition`, locked in id order, tracked."""
    rows = (
        await uow.session.execute(
            select(tours)
            .where(condition, tours.c.status.in_(CANCELLABLE))
            .order_by(tours.c.id)
            .with_for_update()
        )
    ).all()
    return [uow.track(tour_from_row(row)) for row in rows]


async def cancellable_of_listing(uow: UnitOfWork, listing_id: uuid.UUID) -> list[Tour]:
    return await _lock_cancellable(uow, tours.c.listing_id == listing_id)


async def cancellable_of_user(
    uow: UnitOfWork, user_id: uuid.UUID, starting_after: datetime
) -> list[Tour]:
    """The user's requested and scheduled tours (as buyer or realtor) still to come."""
    participant = or_(tours.c.buyer_id == user_id, tours.c.realtor_id == user_id)
    return await _lock_cancellable(uow, participant & (tours.c.starts_at > starting_after))


async def claim_no_shows(uow: UnitOfWork, ended_before: datetime, limit: int) -> list[Tour]:
    """Scheduled tours that ended before `ended_before`, locked (other workers skip them)."""
    rows = (
        await uow.session.execute(
            select(tours)
            .where(tours.c.status == TourStatus.SCHEDULED.value, tours.c.ends_at <= ended_before)
            .order_by(tours.c.ends_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [uow.track(tour_from_row(row)) for row in rows]


async def anonymise_user(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    """Erase what a deleted user wrote or configured; ids stay as opaque references."""
    session = uow.session
    await session.execute(update(tours).where(tours.c.buyer_id == user_id).values(note=None))
    await session.execute(
        update(tours)
        .where(
            tours.c.id == tour_transitions.c.tour_id,
            tour_transitions.c.by_user == user_id,
            tour_transitions.c.reason == tours.c.status_reason,
        )
        .values(status_reason=None)
    )
    await session.execute(
        update(tour_transitions).where(tour_transitions.c.by_user == user_id).values(reason=None)
    )
    await session.execute(delete(calendar_feeds).where(calendar_feeds.c.user_id == user_id))
    await session.execute(delete(availability).where(availability.c.realtor_id == user_id))


# -- reminders -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReminderJob:
    """A reminder planned `offset_minutes` before the start the tour had then."""

    id: int
    tour_id: uuid.UUID
    offset_minutes: int
    for_starts_at: datetime


async def plan_reminders(
    uow: UnitOfWork, tour: Tour, offsets_minutes: Sequence[int], now: datetime
) -> None:
    """Retire reminders planned for another start or a tour no longer scheduled; plan new ones."""
    scheduled = tour.status is TourStatus.SCHEDULED
    stale = reminder_jobs.c.for_starts_at != tour.starts_at if scheduled else true()
    await uow.session.execute(
        update(reminder_jobs)
        .where(reminder_jobs.c.tour_id == tour.id, reminder_jobs.c.state == "pending", stale)
        .values(state="skipped", processed_at=now)
    )
    if not scheduled:
        return
    rows = [
        {
            "tour_id": tour.id,
            "offset_minutes": offset,
            "due_at": tour.starts_at - timedelta(minutes=offset),
            "for_starts_at": tour.starts_at,
        }
        for offset in offsets_minutes
        if tour.starts_at - timedelta(minutes=offset) > now
    ]
    if rows:
        await uow.session.execute(pg_insert(reminder_jobs).values(rows).on_conflict_do_nothing())


async def claim_due_reminders(
    uow: UnitOfWork, now: datetime, limit: int
) -> list[tuple[ReminderJob, Tour | None]]:
    """Pending jobs due by `now`, locked (other workers skip them), each with its tour."""
    rows = (
        await uow.session.execute(
            select(reminder_jobs)
            .where(reminder_jobs.c.state == "pending", reminder_jobs.c.due_at <= now)
            .order_by(reminder_jobs.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return []
    ids = list({row.tour_id for row in rows})
    found = {
        row.id: tour_from_row(row)
        for row in (await uow.session.execute(select(tours).where(tours.c.id.in_(ids)))).all()
    }
    return [
        (ReminderJob(r.id, r.tour_id, r.offset_minutes, r.for_starts_at), found.get(r.tour_id))
        for r in rows
    ]


async def finish_reminder(uow: UnitOfWork, job: ReminderJob, *, sent: bool, now: datetime) -> None:
    await uow.session.execute(
        update(reminder_jobs)
        .where(reminder_jobs.c.id == job.id)
        .values(state="sent" if sent else "skipped", processed_at=now)
    )


# -- availability ---------------------------------------------------------------------------
async def put_availability(uow: UnitOfWork, value: Availability, now: datetime) -> None:
    fields: dict[str, Any] = {
        "time_zone": value.time_zone,
        "weekly_hours": [
            {
                "weekday": WEEKDAYS[h.weekday],
                "start": format_clock(h.start),
                "end": format_clock(h.end),
            }
            for h in value.weekly_hours
        ],
        "buffer_minutes": value.buffer_minutes,
        "minimum_notice_minutes": value.minimum_notice_minutes,
        "max_days_ahead": value.max_days_ahead,
        "blocked_dates": sorted(value.blocked_dates),
        "updated_at": now,
    }
    statement = pg_insert(availability).values(realtor_id=value.realtor_id, **fields)
    await uow.session.execute(
        statement.on_conflict_do_update(index_elements=[availability.c.realtor_id], set_=fields)
    )


# -- what listings' events said of each listing --------------------------------------------
# The status of a listing listings deleted: kept, so a late event cannot bring it back.
LISTING_DELETED = "DELETED"


async def copy_listing(
    uow: UnitOfWork,
    listing_id: uuid.UUID,
    *,
    realtor_id: uuid.UUID,
    status: str,
    time_zone: str,
    at: datetime,
) -> None:
    """The listing as an event of time `at` describes it, unless a later event (or its
    deletion) wrote it already."""
    fields = {"realtor_id": realtor_id, "status": status, "time_zone": time_zone, "changed_at": at}
    statement = pg_insert(listing_copies).values(listing_id=listing_id, **fields)
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[listing_copies.c.listing_id],
            set_=fields,
            where=(listing_copies.c.changed_at <= at)
            & (listing_copies.c.status != LISTING_DELETED),
        )
    )


async def copy_listing_status(
    uow: UnitOfWork, listing_id: uuid.UUID, status: str, at: datetime
) -> None:
    """A known listing's new status, unless a later event wrote it already."""
    await uow.session.execute(
        update(listing_copies)
        .where(
            listing_copies.c.listing_id == listing_id,
            listing_copies.c.changed_at <= at,
            listing_copies.c.status != LISTING_DELETED,
        )
        .values(status=status, changed_at=at)
    )


async def copy_listing_deleted(
    uow: UnitOfWork, listing_id: uuid.UUID, realtor_id: uuid.UUID, at: datetime
) -> None:
    """A deleted listing, for good whatever comes after."""
    fields = {"status": LISTING_DELETED, "changed_at": at}
    statement = pg_insert(listing_copies).values(
        listing_id=listing_id, realtor_id=realtor_id, time_zone="", **fields
    )
    await uow.session.execute(
        statement.on_conflict_do_update(index_elements=[listing_copies.c.listing_id], set_=fields)
    )


# -- calendar feeds --------------------------------------------------------------------------
async def rotate_feed(uow: UnitOfWork, user_id: uuid.UUID, nonce: bytes, token_hash: bytes) -> None:
    """Store the user's new feed nonce (and the new token's hash): the old URL stops working."""
    fields = {"nonce": nonce, "token_hash": token_hash}
    statement = pg_insert(calendar_feeds).values(user_id=user_id, **fields)
    await uow.session.execute(
        statement.on_conflict_do_update(index_elements=[calendar_feeds.c.user_id], set_=fields)
    )
