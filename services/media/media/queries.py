"""Read models for the subgraph: tours, their calls right now, their guests — by batch, so
one `_entities` call costs one query per kind whatever the number of tours."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from servicekit.db import Database
from sqlalchemy import and_, select

from media.domain import Guest, MeetingState, Tour
from media.store import guest_from_row, tour_from_row
from media.tables import attendees, guests, meetings, tours


@dataclass(frozen=True, slots=True)
class MeetingView:
    tour_id: uuid.UUID
    meeting_id: str | None
    active: bool
    started_at: datetime | None
    attendee_seconds: int
    participants: list[uuid.UUID] = field(default_factory=list)


class MediaQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def tours(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tour]:
        async with self.db.session() as session:
            rows = await session.execute(select(tours).where(tours.c.id.in_(list(ids))))
            return {r.id: tour_from_row(r) for r in rows}

    async def meetings(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MeetingView]:
        """Each tour's call: who is in it now (people, in the order they came in)."""
        async with self.db.session() as session:
            rows = (
                await session.execute(select(meetings).where(meetings.c.tour_id.in_(list(ids))))
            ).all()
            live = [r.meeting_id for r in rows if r.meeting_id is not None]
            present: dict[str, list[uuid.UUID]] = {}
            if live:
                found = await session.execute(
                    select(attendees.c.meeting_id, attendees.c.user_id)
                    .where(
                        and_(
                            attendees.c.meeting_id.in_(live),
                            attendees.c.present_since.is_not(None),
                        )
                    )
                    .order_by(attendees.c.present_since)
                )
                for meeting_id, user_id in found:
                    people = present.setdefault(meeting_id, [])
                    if user_id not in people:
                        people.append(user_id)
        return {
            r.tour_id: MeetingView(
                tour_id=r.tour_id,
                meeting_id=r.meeting_id,
                active=r.state == MeetingState.LIVE.value,
                started_at=r.started_at if r.state != MeetingState.NONE.value else None,
                attendee_seconds=r.attendee_seconds,
                participants=present.get(r.meeting_id, []) if r.meeting_id else [],
            )
            for r in rows
        }

    async def guests(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Guest]]:
        """Every invitation of each tour, removed ones included, in the order they were made."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(guests)
                .where(guests.c.tour_id.in_(list(ids)))
                .order_by(guests.c.invited_at, guests.c.id)
            )
            found: dict[uuid.UUID, list[Guest]] = {}
            for row in rows:
                found.setdefault(row.tour_id, []).append(guest_from_row(row))
            return found
