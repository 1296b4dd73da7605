"""Rows ↔ domain objects: loading and saving tours and availability within a session.

Only `service.py` calls the writing functions, inside its unit of work. A write that breaks
an exclusion constraint or the idempotency index surfaces as `Overlap`/`DuplicateKey`, so
the use case decides what the caller sees; the transaction is then spoilt and only good
for rolling back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import Row, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduling.availability import WEEKDAYS, Availability, format_clock
from scheduling.domain import LIVE_STATUSES, Tour, TourStatus, Transition
from scheduling.tables import (
    BUYER_OVERLAP,
    IDEMPOTENCY,
    REALTOR_OVERLAP,
    availability,
    calendar_feeds,
    tour_transitions,
    tours,
)


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


# -- tours ---------------------------------------------------------------------------------
def tour_from_row(row: Row[Any] | Any) -> Tour:
    return Tour(
        id=row.id,
        listing_id=row.listing_id,
        buyer_id=row.buyer_id,
        realtor_id=row.realtor_id,
        status=TourStatus(row.status),
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


async def get_tour(session: AsyncSession, tour_id: uuid.UUID, *, lock: bool = False) -> Tour | None:
    query = select(tours).where(tours.c.id == tour_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return tour_from_row(row) if row else None


async def get_tours(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tour]:
    rows = (await session.execute(select(tours).where(tours.c.id.in_(ids)))).all()
    return {row.id: tour_from_row(row) for row in rows}


async def find_by_idempotency_key(
    session: AsyncSession, buyer_id: uuid.UUID, key: str
) -> Tour | None:
    row = (
        await session.execute(
            select(tours).where(tours.c.buyer_id == buyer_id, tours.c.idempotency_key == key)
        )
    ).first()
    return tour_from_row(row) if row else None


async def insert_tour(session: AsyncSession, tour: Tour, idempotency_key: str | None) -> None:
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
    try:
        await session.execute(insert(tours).values(**values))
    except IntegrityError as exc:
        _raise_known(exc)
        raise
    except OperationalError as exc:
        if isinstance(exc.orig, pg_errors.DeadlockDetected):  # SQLSTATE 40P01
            raise Contended() from exc
        raise
    await _append_transitions(session, tour)


async def save_tour(session: AsyncSession, tour: Tour) -> None:
    """Write the tour's new state and the transitions it recorded since it was loaded."""
    try:
        await session.execute(
            update(tours).where(tours.c.id == tour.id).values(**_tour_values(tour))
        )
    except IntegrityError as exc:
        _raise_known(exc)
        raise
    except OperationalError as exc:
        if isinstance(exc.orig, pg_errors.DeadlockDetected):  # SQLSTATE 40P01
            raise Contended() from exc
        raise
    await _append_transitions(session, tour)


async def _append_transitions(session: AsyncSession, tour: Tour) -> None:
    if not tour.transitions:
        return
    await session.execute(
        insert(tour_transitions),
        [
            {
                "tour_id": tour.id,
                "from_status": t.from_status.value if t.from_status else None,
                "to_status": t.to_status.value,
                "at": t.at,
                "by_user": t.by,
                "reason": t.reason,
            }
            for t in tour.transitions
        ],
    )
    tour.transitions.clear()


async def history(
    session: AsyncSession, tour_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Transition]]:
    rows = (
        await session.execute(
            select(tour_transitions)
            .where(tour_transitions.c.tour_id.in_(tour_ids))
            .order_by(tour_transitions.c.id)
        )
    ).all()
    found: dict[uuid.UUID, list[Transition]] = {tid: [] for tid in tour_ids}
    for row in rows:
        found[row.tour_id].append(
            Transition(
                TourStatus(row.from_status) if row.from_status else None,
                TourStatus(row.to_status),
                row.at,
                row.by_user,
                row.reason,
            )
        )
    return found


async def busy_ranges(
    session: AsyncSession, realtor_id: uuid.UUID, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Blocked ranges of the realtor's live tours that touch [start, end)."""
    rows = (
        await session.execute(
            select(tours.c.starts_at, tours.c.blocked_until).where(
                tours.c.realtor_id == realtor_id,
                tours.c.status.in_([s.value for s in LIVE_STATUSES]),
                tours.c.starts_at < end,
                tours.c.blocked_until > start,
            )
        )
    ).all()
    return [(r.starts_at, r.blocked_until) for r in rows]


def participant_filter(user_id: uuid.UUID) -> Any:
    return or_(tours.c.buyer_id == user_id, tours.c.realtor_id == user_id)


def live_filter() -> Any:
    return tours.c.status.in_([s.value for s in LIVE_STATUSES])


def ended_filter(now: datetime) -> Any:
    return or_(~live_filter(), tours.c.ends_at <= now)


# -- availability ---------------------------------------------------------------------------
def availability_from_row(row: Row[Any] | Any) -> Availability:
    hours = tuple(
        (h["weekday"], h["start"], h["end"])
        for h in sorted(row.weekly_hours, key=lambda h: (WEEKDAYS.index(h["weekday"]), h["start"]))
    )
    return Availability.create(
        realtor_id=row.realtor_id,
        time_zone=row.time_zone,
        weekly_hours=hours,
        buffer_minutes=row.buffer_minutes,
        minimum_notice_minutes=row.minimum_notice_minutes,
        max_days_ahead=row.max_days_ahead,
        blocked_dates=row.blocked_dates or [],
    )


async def get_availability(session: AsyncSession, realtor_id: uuid.UUID) -> Availability | None:
    row = (
        await session.execute(select(availability).where(availability.c.realtor_id == realtor_id))
    ).first()
    return availability_from_row(row) if row else None


async def put_availability(session: AsyncSession, value: Availability, now: datetime) -> None:
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
    await session.execute(
        statement.on_conflict_do_update(index_elements=[availability.c.realtor_id], set_=fields)
    )


async def cancellable_ids(session: AsyncSession, condition: Any) -> list[uuid.UUID]:
    """Tours matching `condition` still requested or scheduled, in id order (lock order)."""
    rows = (
        await session.execute(
            select(tours.c.id)
            .where(condition, tours.c.status.in_(["REQUESTED", "SCHEDULED"]))
            .order_by(tours.c.id)
        )
    ).all()
    return [row.id for row in rows]


async def no_show_candidates(
    session: AsyncSession, ended_before: datetime, limit: int
) -> list[Tour]:
    """Scheduled tours that ended before `ended_before`, locked (other workers skip them)."""
    rows = (
        await session.execute(
            select(tours)
            .where(tours.c.status == TourStatus.SCHEDULED.value, tours.c.ends_at <= ended_before)
            .order_by(tours.c.ends_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [tour_from_row(row) for row in rows]


async def anonymise_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Erase what a deleted user wrote or configured; ids stay as opaque references."""
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
