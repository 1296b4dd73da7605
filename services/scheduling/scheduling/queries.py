"""Every read model: tours by id, lists of tours and clients, busy ranges, availability,
calendar feeds. SQL that only reads, each statement in a session of its own.

Pages are fetched `limit + 1` rows at a time (the extra row tells whether a next page
exists); the cursor is the sort key of the last row, so pages stay stable while tours are
added. Tours read here are not tracked by any unit of work: to change one, the use case
loads it through the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit.db import Database
from servicekit.vocabulary import BadUserInput
from sqlalchemy import ColumnElement, Row, Select, func, literal, or_, select, tuple_

from scheduling.availability import WEEKDAYS, Availability
from scheduling.domain import LIVE_STATUSES, Tour, TourStatus, Transition
from scheduling.store import tour_from_row
from scheduling.tables import availability, calendar_feeds, tour_transitions, tours


@dataclass(frozen=True, slots=True)
class Client:
    """A buyer who booked with a realtor, and when they last requested a tour."""

    buyer_id: uuid.UUID
    last_requested_at: datetime


def tour_key(tour: Tour) -> list[str]:
    return [tour.starts_at.isoformat(), str(tour.id)]


def client_key(client: Client) -> list[str]:
    return [client.last_requested_at.isoformat(), str(client.buyer_id)]


def _parse_key(after: list[Any] | None) -> tuple[datetime, uuid.UUID] | None:
    if after is None:
        return None
    try:
        stamp, ident = after
        return datetime.fromisoformat(str(stamp)), uuid.UUID(str(ident))
    except (TypeError, ValueError):
        raise BadUserInput("invalid cursor", field="after") from None


def _values(key: tuple[datetime, uuid.UUID]) -> Any:
    return tuple_(literal(key[0]), literal(key[1]))


def _participant(user_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(tours.c.buyer_id == user_id, tours.c.realtor_id == user_id)


def _live() -> ColumnElement[bool]:
    return tours.c.status.in_([s.value for s in LIVE_STATUSES])


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


class TourQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _rows(self, query: Select[Any]) -> list[Row[Any]]:
        async with self.db.session() as session:
            return list((await session.execute(query)).all())

    async def _tours(self, query: Select[Any]) -> list[Tour]:
        return [tour_from_row(row) for row in await self._rows(query)]

    async def by_id(self, tour_id: uuid.UUID) -> Tour | None:
        found = await self._tours(select(tours).where(tours.c.id == tour_id))
        return found[0] if found else None

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tour]:
        found = await self._tours(select(tours).where(tours.c.id.in_(ids)))
        return {tour.id: tour for tour in found}

    async def by_idempotency_key(self, buyer_id: uuid.UUID, key: str) -> Tour | None:
        found = await self._tours(
            select(tours).where(tours.c.buyer_id == buyer_id, tours.c.idempotency_key == key)
        )
        return found[0] if found else None

    async def history(self, tour_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Transition]]:
        rows = await self._rows(
            select(tour_transitions)
            .where(tour_transitions.c.tour_id.in_(tour_ids))
            .order_by(tour_transitions.c.id)
        )
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
        self, realtor_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Blocked ranges of the realtor's live tours that touch [start, end)."""
        rows = await self._rows(
            select(tours.c.starts_at, tours.c.blocked_until).where(
                tours.c.realtor_id == realtor_id,
                _live(),
                tours.c.starts_at < end,
                tours.c.blocked_until > start,
            )
        )
        return [(r.starts_at, r.blocked_until) for r in rows]

    async def availability_of(self, realtor_id: uuid.UUID) -> Availability | None:
        rows = await self._rows(select(availability).where(availability.c.realtor_id == realtor_id))
        return availability_from_row(rows[0]) if rows else None

    async def feed_nonce(self, user_id: uuid.UUID) -> bytes | None:
        """The nonce of the user's last feed rotation; None when it was never rotated."""
        rows = await self._rows(
            select(calendar_feeds.c.nonce).where(calendar_feeds.c.user_id == user_id)
        )
        return bytes(rows[0].nonce) if rows else None

    async def feed_owner_by_hash(self, token_hash: bytes) -> uuid.UUID | None:
        """Whose feed token has this SHA-256 (tokens issued before feeds were derived)."""
        rows = await self._rows(
            select(calendar_feeds.c.user_id).where(calendar_feeds.c.token_hash == token_hash)
        )
        return rows[0].user_id if rows else None

    async def upcoming(
        self, user_id: uuid.UUID, now: datetime, limit: int, after: list[Any] | None
    ) -> list[Tour]:
        """Live tours of the user (as buyer or realtor) not over yet, soonest first."""
        query = select(tours).where(_participant(user_id), _live(), tours.c.ends_at > now)
        key = _parse_key(after)
        if key is not None:
            query = query.where(tuple_(tours.c.starts_at, tours.c.id) > _values(key))
        return await self._tours(query.order_by(tours.c.starts_at, tours.c.id).limit(limit + 1))

    async def past(
        self, user_id: uuid.UUID, now: datetime, limit: int, after: list[Any] | None
    ) -> list[Tour]:
        """Tours of the user that ended or are over, most recent first."""
        query = select(tours).where(_participant(user_id), or_(~_live(), tours.c.ends_at <= now))
        key = _parse_key(after)
        if key is not None:
            query = query.where(tuple_(tours.c.starts_at, tours.c.id) < _values(key))
        return await self._tours(
            query.order_by(tours.c.starts_at.desc(), tours.c.id.desc()).limit(limit + 1)
        )

    async def of_listing(
        self,
        listing_id: uuid.UUID,
        status: TourStatus | None,
        limit: int,
        after: list[Any] | None,
    ) -> list[Tour]:
        query = select(tours).where(tours.c.listing_id == listing_id)
        if status is not None:
            query = query.where(tours.c.status == status.value)
        key = _parse_key(after)
        if key is not None:
            query = query.where(tuple_(tours.c.starts_at, tours.c.id) > _values(key))
        return await self._tours(query.order_by(tours.c.starts_at, tours.c.id).limit(limit + 1))

    async def clients(
        self, realtor_id: uuid.UUID, limit: int, after: list[Any] | None
    ) -> list[Client]:
        """Buyers who requested tours with the realtor, most recent first."""
        last = func.max(tours.c.created_at).label("last")
        grouped = (
            select(tours.c.buyer_id, last)
            .where(tours.c.realtor_id == realtor_id)
            .group_by(tours.c.buyer_id)
            .subquery()
        )
        query = select(grouped.c.buyer_id, grouped.c.last)
        key = _parse_key(after)
        if key is not None:
            query = query.where(tuple_(grouped.c.last, grouped.c.buyer_id) < _values(key))
        query = query.order_by(grouped.c.last.desc(), grouped.c.buyer_id.desc()).limit(limit + 1)
        return [Client(row.buyer_id, row.last) for row in await self._rows(query)]

    async def for_calendar(self, user_id: uuid.UUID, since: datetime) -> list[Tour]:
        """The user's tours for their calendar feed (declined requests never happened)."""
        query = (
            select(tours)
            .where(
                _participant(user_id),
                tours.c.ends_at >= since,
                tours.c.status != TourStatus.DECLINED.value,
            )
            .order_by(tours.c.starts_at)
            .limit(1000)
        )
        return await self._tours(query)

    async def search(
        self,
        *,
        listing_id: uuid.UUID | None,
        participant_id: uuid.UUID | None,
        statuses: Sequence[TourStatus],
        starts_after: datetime | None,
        starts_before: datetime | None,
        limit: int,
        after: list[Any] | None,
    ) -> list[Tour]:
        """Filtered tours for other services (gRPC `ListTours`), by start then id."""
        query = select(tours)
        if listing_id is not None:
            query = query.where(tours.c.listing_id == listing_id)
        if participant_id is not None:
            query = query.where(_participant(participant_id))
        if statuses:
            query = query.where(tours.c.status.in_([s.value for s in statuses]))
        if starts_after is not None:
            query = query.where(tours.c.starts_at >= starts_after)
        if starts_before is not None:
            query = query.where(tours.c.starts_at < starts_before)
        key = _parse_key(after)
        if key is not None:
            query = query.where(tuple_(tours.c.starts_at, tours.c.id) > _values(key))
        return await self._tours(query.order_by(tours.c.starts_at, tours.c.id).limit(limit + 1))
