"""Read models for the subgraph: tours, their calls right now, their guests and recordings —
by batch, so one `_entities` call costs one query per kind whatever the number of tours —
and the caller's tour library."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from servicekit.db import Database
from sqlalchemy import and_, func, literal, or_, select, tuple_

from media.domain import (
    Guest,
    GuestStatus,
    MeetingState,
    Recording,
    RecordingStatus,
    Tour,
    TourStatus,
)
from media.store import guest_from_row, recording_from_row, tour_from_row
from media.tables import attendees, guests, meetings, recordings, tours


@dataclass(frozen=True, slots=True)
class MeetingView:
    tour_id: uuid.UUID
    meeting_id: str | None
    active: bool
    started_at: datetime | None
    attendee_seconds: int
    participants: list[uuid.UUID] = field(default_factory=list)
    recording: bool = False


class MediaQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def tours(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tour]:
        async with self.db.session() as session:
            rows = await session.execute(select(tours).where(tours.c.id.in_(list(ids))))
            return {r.id: tour_from_row(r) for r in rows}

    async def meetings(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MeetingView]:
        """Each tour's call: who is in it now (people, in the order they came in), and
        whether it is being recorded."""
        recording = (
            select(recordings.c.id)
            .where(
                and_(
                    recordings.c.tour_id == meetings.c.tour_id,
                    recordings.c.status == RecordingStatus.RECORDING.value,
                )
            )
            .exists()
        )
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(meetings, recording.label("recording")).where(
                        meetings.c.tour_id.in_(list(ids))
                    )
                )
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
                recording=r.recording,
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

    async def recordings(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Recording]]:
        """Each tour's recordings, oldest first."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(recordings)
                .where(recordings.c.tour_id.in_(list(ids)))
                .order_by(recordings.c.started_at, recordings.c.id)
            )
            found: dict[uuid.UUID, list[Recording]] = {}
            for row in rows:
                found.setdefault(row.tour_id, []).append(recording_from_row(row))
            return found

    async def library(
        self,
        user_id: uuid.UUID,
        *,
        search: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[Recording]:
        """The available recordings of the user's completed tours (as buyer, realtor or a
        guest who joined), newest first, `limit + 1` of them from after the cursor;
        `search` is matched against transcripts and summaries (PostgreSQL full text)."""
        guest_of = select(guests.c.tour_id).where(
            and_(guests.c.user_id == user_id, guests.c.status == GuestStatus.JOINED.value)
        )
        query = (
            select(recordings)
            .join(tours, tours.c.id == recordings.c.tour_id)
            .where(
                and_(
                    tours.c.status == TourStatus.COMPLETED.value,
                    recordings.c.status == RecordingStatus.AVAILABLE.value,
                    or_(
                        tours.c.buyer_id == user_id,
                        tours.c.realtor_id == user_id,
                        tours.c.id.in_(guest_of),
                    ),
                )
            )
            .order_by(recordings.c.started_at.desc(), recordings.c.id.desc())
            .limit(limit + 1)
        )
        if search:
            query = query.where(
                recordings.c.search.op("@@")(func.websearch_to_tsquery("english", search))
            )
        if after is not None:
            query = query.where(
                tuple_(recordings.c.started_at, recordings.c.id)
                < tuple_(literal(after[0]), literal(after[1]))
            )
        async with self.db.session() as session:
            return [recording_from_row(r) for r in await session.execute(query)]
