"""Read-side queries: lists of tours and clients, keyset-paginated.

Pages are fetched `limit + 1` rows at a time (the extra row tells whether a next page
exists); the cursor is the sort key of the last row, so pages stay stable while tours are
added.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit.db import Database
from servicekit.errors import BadUserInput
from sqlalchemy import Select, func, literal, select, tuple_

from scheduling import store
from scheduling.domain import Tour, TourStatus
from scheduling.tables import tours


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
        raise BadUserInput("invalid cursor", argument="after") from None


def _values(key: tuple[datetime, uuid.UUID]) -> Any:
    return tuple_(literal(key[0]), literal(key[1]))


class TourQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _tours(self, query: Select[Any]) -> list[Tour]:
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return [store.tour_from_row(row) for row in rows]

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tour]:
        async with self.db.session() as session:
            return await store.get_tours(session, ids)

    async def history(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        async with self.db.session() as session:
            return await store.history(session, ids)

    async def upcoming(
        self, user_id: uuid.UUID, now: datetime, limit: int, after: list[Any] | None
    ) -> list[Tour]:
        """Live tours of the user (as buyer or realtor) not over yet, soonest first."""
        query = select(tours).where(
            store.participant_filter(user_id), store.live_filter(), tours.c.ends_at > now
        )
        key = _parse_key(after)
        if key is not None:
            query = query.where(tuple_(tours.c.starts_at, tours.c.id) > _values(key))
        return await self._tours(query.order_by(tours.c.starts_at, tours.c.id).limit(limit + 1))

    async def past(
        self, user_id: uuid.UUID, now: datetime, limit: int, after: list[Any] | None
    ) -> list[Tour]:
        """Tours of the user that ended or are over, most recent first."""
        query = select(tours).where(store.participant_filter(user_id), store.ended_filter(now))
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
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return [Client(row.buyer_id, row.last) for row in rows]

    async def for_calendar(self, user_id: uuid.UUID, since: datetime) -> list[Tour]:
        """The user's tours for their calendar feed (declined requests never happened)."""
        query = (
            select(tours)
            .where(
                store.participant_filter(user_id),
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
            query = query.where(store.participant_filter(participant_id))
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
