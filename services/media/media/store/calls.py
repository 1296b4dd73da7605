"""Rows ↔ domain objects for every write of the call: the tours followed, meetings,
attendees, guests.

A meeting is always loaded with its row locked (`FOR UPDATE`), and a tour's meeting row is
made on first use with `INSERT … ON CONFLICT DO UPDATE` (which locks the row it finds):
however many first joins arrive at once, PostgreSQL lets one of them create the Chime
meeting while the others wait for it and then find it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb
from servicekit.db import Database, UnitOfWork
from servicekit.reads import fetch_first
from servicekit.tables import inbox
from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from media.domain import (
    Attendee,
    Guest,
    GuestStatus,
    Meeting,
    MeetingState,
    Tour,
    TourStatus,
)
from media.tables import (
    GUEST_EMAIL,
    guests,
    meetings,
    tours,
)

CHIME_CONSUMER = "chime-events"

# A device's attendee in its tour's live call, with the tour and the call's video senders:
# one prepared statement, no transaction (`device_in_call`).
DEVICE_IN_CALL = """
SELECT t.id, t.listing_id, t.buyer_id, t.realtor_id, t.status, t.starts_at, t.ends_at,
       t.sequence, m.meeting_id, m.chime AS meeting, m.created_at, m.empty_since,
       a.attendee_id, a.chime AS attendee, a.video, s.senders, s.present
  FROM tours t
  JOIN meetings m ON m.tour_id = t.id AND m.state = %(live)s
  JOIN attendees a ON a.tour_id = t.id AND a.device_key = %(key)s AND NOT a.deleted
                  AND a.meeting_id = m.meeting_id
 CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE v.video) AS senders,
              coalesce(bool_or(v.present_since IS NOT NULL), false) AS present
         FROM attendees v
        WHERE v.meeting_id = m.meeting_id AND NOT v.deleted) s
 WHERE t.id = %(tour)s
"""


# The join path's statements, compiled once and prepared on the server (`UnitOfWork.rows`).
TOUR = """
SELECT id, listing_id, buyer_id, realtor_id, status, starts_at, ends_at, sequence
  FROM tours WHERE id = %(tour)s
"""
# The tour, and its meeting made on first use and locked, in one statement: `ON CONFLICT DO
# UPDATE` takes the row lock `FOR UPDATE` would, and waits for a concurrent first insert; a
# tour media has not heard of gets no meeting and no row.
TOUR_AND_MEETING = """
WITH meeting AS (
  INSERT INTO meetings (tour_id) SELECT id FROM tours WHERE id = %(tour)s
  ON CONFLICT (tour_id) DO UPDATE SET tour_id = excluded.tour_id
  RETURNING tour_id, generation, state, meeting_id, chime, created_at, started_at,
            someone_joined, empty_since, attendee_seconds
)
SELECT t.id, t.listing_id, t.buyer_id, t.realtor_id, t.status, t.starts_at, t.ends_at,
       t.sequence, m.tour_id, m.generation, m.state, m.meeting_id, m.chime, m.created_at,
       m.started_at, m.someone_joined, m.empty_since, m.attendee_seconds
  FROM meeting m JOIN tours t ON t.id = m.tour_id
"""
LOCK_MEETING = """
SELECT tour_id, generation, state, meeting_id, chime, created_at, started_at, someone_joined,
       empty_since, attendee_seconds
  FROM meetings WHERE tour_id = %(tour)s FOR UPDATE
"""
# A Chime event noted in the inbox and its meeting's row locked, in one statement: no row
# when the event was handled before, or its Chime meeting is no tour's (now).
NOTE_EVENT_AND_LOCK_MEETING = """
WITH fresh AS (
  INSERT INTO inbox (consumer, event_id, subject) VALUES (%(consumer)s, %(event)s, %(kind)s)
  ON CONFLICT DO NOTHING
  RETURNING event_id
)
SELECT tour_id, generation, state, meeting_id, chime, created_at, started_at, someone_joined,
       empty_since, attendee_seconds
  FROM meetings WHERE meeting_id = %(meeting)s AND EXISTS (SELECT 1 FROM fresh) FOR UPDATE
"""
ATTENDEES_OF = """
SELECT attendee_id, meeting_id, device_key, user_id, chime, video, present_since, last_seen,
       deleted
  FROM attendees WHERE meeting_id = %(meeting)s ORDER BY attendee_id
"""
# The meeting's row and all its attendees written in one statement, the attendees from one
# JSON array; attendees of a Chime meeting the tour no longer holds are deleted first (the
# insert reads `gone`, so the delete has run to its end before any row goes in, and a
# device's new attendee does not meet its old one in the unique index).
SAVE_MEETING = """
WITH gone AS (
  DELETE FROM attendees
   WHERE tour_id = %(tour)s AND meeting_id IS DISTINCT FROM %(meeting_id)s::text
  RETURNING attendee_id
), saved AS (
  UPDATE meetings
     SET generation = %(generation)s, state = %(state)s, meeting_id = %(meeting_id)s::text,
         chime = %(chime)s::jsonb, created_at = %(created_at)s, started_at = %(started_at)s,
         someone_joined = %(someone_joined)s, empty_since = %(empty_since)s,
         attendee_seconds = %(attendee_seconds)s
   WHERE tour_id = %(tour)s
  RETURNING tour_id
)
INSERT INTO attendees (attendee_id, tour_id, meeting_id, device_key, user_id, chime, video,
                       present_since, last_seen, deleted)
SELECT attendee_id, tour_id, meeting_id, device_key, user_id, chime, video, present_since,
       last_seen, deleted
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
       attendee_id text, tour_id uuid, meeting_id text, device_key text, user_id uuid,
       chime jsonb, video boolean, present_since timestamptz, last_seen timestamptz,
       deleted boolean)
 WHERE (SELECT count(*) FROM gone) >= 0 AND (SELECT count(*) FROM saved) >= 0
ON CONFLICT (attendee_id) DO UPDATE
   SET tour_id = excluded.tour_id, meeting_id = excluded.meeting_id,
       device_key = excluded.device_key, user_id = excluded.user_id, chime = excluded.chime,
       video = excluded.video, present_since = excluded.present_since,
       last_seen = excluded.last_seen, deleted = excluded.deleted
"""


class DuplicateGuest(Exception):
    """The email is already invited to the tour."""


# -- tours -----------------------------------------------------------------------------------
def tour_from_row(row: Any) -> Tour:
    return Tour(
        id=row.id,
        listing_id=row.listing_id,
        buyer_id=row.buyer_id,
        realtor_id=row.realtor_id,
        status=TourStatus(row.status),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        sequence=row.sequence,
    )


async def follow_tour(session: AsyncSession, tour: Tour) -> None:
    """Keep the newest state of a tour: an event older than the copy changes nothing."""
    values = {
        "id": tour.id,
        "listing_id": tour.listing_id,
        "buyer_id": tour.buyer_id,
        "realtor_id": tour.realtor_id,
        "status": tour.status.value,
        "starts_at": tour.starts_at,
        "ends_at": tour.ends_at,
        "sequence": tour.sequence,
    }
    statement = pg_insert(tours).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[tours.c.id],
            set_={k: statement.excluded[k] for k in values if k != "id"},
            where=tours.c.sequence <= statement.excluded.sequence,
        )
    )


async def tour_of(uow: UnitOfWork, tour_id: uuid.UUID) -> Tour | None:
    """The tour as media last heard of it, read in the unit of work's transaction."""
    found = await uow.rows(TOUR, {"tour": tour_id})
    return tour_from_row(found[0]) if found else None


async def get_tour(session: AsyncSession, tour_id: uuid.UUID, *, lock: bool = False) -> Tour | None:
    query = select(tours).where(tours.c.id == tour_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return tour_from_row(row) if row else None


@dataclass(frozen=True, slots=True)
class DeviceInCall:
    """What a device joining again needs: its tour, the live Chime meeting, its attendee
    there, how many attendees of the meeting send video, and what tells whether Chime
    certainly still has the attendee (when the meeting was made, whether anyone is in it
    per Chime's events, since when it is empty)."""

    tour: Tour
    meeting_id: str
    meeting: dict[str, Any]
    attendee_id: str
    attendee: dict[str, Any]
    video: bool
    senders: int
    created_at: datetime | None
    someone_present: bool
    empty_since: datetime | None


async def device_in_call(db: Database, tour_id: uuid.UUID, key: str) -> DeviceInCall | None:
    """The device's attendee in the tour's live call, read without a transaction or a lock
    (a join that then finds it gone takes the locked path); None when there is none."""
    row = await fetch_first(
        db, DEVICE_IN_CALL, {"tour": tour_id, "key": key, "live": MeetingState.LIVE.value}
    )
    if row is None or row.meeting is None:
        return None
    return DeviceInCall(
        tour=tour_from_row(row),
        meeting_id=row.meeting_id,
        meeting=row.meeting,
        attendee_id=row.attendee_id,
        attendee=row.attendee,
        video=row.video,
        senders=int(row.senders),
        created_at=row.created_at,
        someone_present=bool(row.present),
        empty_since=row.empty_since,
    )


# -- meetings --------------------------------------------------------------------------------
def _attendee(row: Any) -> Attendee:
    return Attendee(
        attendee_id=row.attendee_id,
        meeting_id=row.meeting_id,
        device_key=row.device_key,
        user_id=row.user_id,
        chime=dict(row.chime),
        video=row.video,
        present_since=row.present_since,
        last_seen=row.last_seen,
        deleted=row.deleted,
    )


async def _load(uow: UnitOfWork, row: Any) -> Meeting:
    meeting = Meeting(
        tour_id=row.tour_id,
        generation=row.generation,
        state=MeetingState(row.state),
        meeting_id=row.meeting_id,
        chime=dict(row.chime) if row.chime is not None else None,
        created_at=row.created_at,
        started_at=row.started_at,
        someone_joined=row.someone_joined,
        empty_since=row.empty_since,
        attendee_seconds=row.attendee_seconds,
    )
    if meeting.meeting_id is not None:
        found = await uow.rows(ATTENDEES_OF, {"meeting": meeting.meeting_id})
        meeting.attendees = [_attendee(r) for r in found]
    return uow.track(meeting)


async def lock_meeting(uow: UnitOfWork, tour_id: uuid.UUID) -> Meeting | None:
    """The tour's meeting, its row locked until the unit of work ends; None when the tour
    has none yet."""
    found = await uow.rows(LOCK_MEETING, {"tour": tour_id})
    return await _load(uow, found[0]) if found else None


async def tour_and_meeting(uow: UnitOfWork, tour_id: uuid.UUID) -> tuple[Tour, Meeting] | None:
    """The tour and its meeting, the meeting's row made when the tour has none yet and
    locked until the unit of work ends; None for a tour media has not heard of.

    One statement: `INSERT … ON CONFLICT DO UPDATE … RETURNING` locks the row it finds as
    `FOR UPDATE` would (a concurrent first insert is waited for), joined to the tour."""
    found = await uow.rows(TOUR_AND_MEETING, {"tour": tour_id})
    if not found:
        return None
    return tour_from_row(found[0]), await _load(uow, found[0])


async def note_event_and_lock_meeting(
    uow: UnitOfWork, event_id: uuid.UUID, kind: str, meeting_id: str
) -> Meeting | None:
    """Note a Chime event in the inbox and lock the meeting whose current Chime meeting is
    `meeting_id`, in one statement; None when the event was handled before (a redelivery)
    or the Chime meeting is not (or no longer) any tour's: either way there is nothing to
    apply."""
    found = await uow.rows(
        NOTE_EVENT_AND_LOCK_MEETING,
        {"consumer": CHIME_CONSUMER, "event": event_id, "kind": kind, "meeting": meeting_id},
    )
    return await _load(uow, found[0]) if found else None


async def lock_empty(uow: UnitOfWork, since: datetime, limit: int) -> list[Meeting]:
    """Live meetings empty since before `since`, claimed so replicas share the work."""
    rows = (
        await uow.session.execute(
            select(meetings)
            .where(
                and_(
                    meetings.c.state == MeetingState.LIVE.value,
                    meetings.c.empty_since <= since,
                )
            )
            .order_by(meetings.c.empty_since)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [await _load(uow, r) for r in rows]


def _json(value: Any) -> bytes:
    """JSON for `jsonb_to_recordset`: ids and times as text PostgreSQL casts back (orjson
    writes both itself, several times faster than `json.dumps` calling `str` on each)."""
    return orjson.dumps(value, default=str)


async def save_meeting(uow: UnitOfWork, meeting: Meeting) -> None:
    """The meeting's row and its attendees, in one statement whatever their number."""
    rows = [
        {
            "attendee_id": a.attendee_id,
            "tour_id": meeting.tour_id,
            "meeting_id": a.meeting_id,
            "device_key": a.device_key,
            "user_id": a.user_id,
            "chime": a.chime,
            "video": a.video,
            "present_since": a.present_since,
            "last_seen": a.last_seen,
            "deleted": a.deleted,
        }
        for a in meeting.attendees
    ]
    await uow.run(
        SAVE_MEETING,
        {
            "tour": meeting.tour_id,
            "generation": meeting.generation,
            "state": meeting.state.value,
            "meeting_id": meeting.meeting_id,
            "chime": Jsonb(meeting.chime) if meeting.chime is not None else None,
            "created_at": meeting.created_at,
            "started_at": meeting.started_at,
            "someone_joined": meeting.someone_joined,
            "empty_since": meeting.empty_since,
            "attendee_seconds": meeting.attendee_seconds,
            "rows": Jsonb(rows, dumps=_json),
        },
    )


async def record_chime_event(session: AsyncSession, event_id: uuid.UUID, kind: str) -> bool:
    """Note a Chime event as handled; False when it was handled before (a redelivery)."""
    found = await session.execute(
        pg_insert(inbox)
        .values(consumer=CHIME_CONSUMER, event_id=event_id, subject=kind)
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return found.first() is not None


# -- guests ----------------------------------------------------------------------------------
def guest_from_row(row: Any) -> Guest:
    return Guest(
        id=row.id,
        tour_id=row.tour_id,
        email=row.email,
        status=GuestStatus(row.status),
        invited_by=row.invited_by,
        invited_at=row.invited_at,
        user_id=row.user_id,
    )


async def active_guests(session: AsyncSession, tour_id: uuid.UUID) -> list[Guest]:
    rows = await session.execute(
        select(guests).where(
            and_(guests.c.tour_id == tour_id, guests.c.status != GuestStatus.REMOVED.value)
        )
    )
    return [guest_from_row(r) for r in rows]


async def get_guest(session: AsyncSession, tour_id: uuid.UUID, guest_id: uuid.UUID) -> Guest | None:
    row = (
        await session.execute(
            select(guests)
            .where(and_(guests.c.id == guest_id, guests.c.tour_id == tour_id))
            .with_for_update()
        )
    ).first()
    return guest_from_row(row) if row else None


async def add_guest(session: AsyncSession, guest: Guest) -> None:
    try:
        async with session.begin_nested():
            await session.execute(
                guests.insert().values(
                    id=guest.id,
                    tour_id=guest.tour_id,
                    email=guest.email,
                    status=guest.status.value,
                    invited_by=guest.invited_by,
                    invited_at=guest.invited_at,
                    user_id=guest.user_id,
                )
            )
    except IntegrityError as exc:
        orig = exc.orig
        if (
            isinstance(orig, pg_errors.UniqueViolation)
            and orig.diag is not None
            and orig.diag.constraint_name == GUEST_EMAIL
        ):
            raise DuplicateGuest() from exc
        raise


async def save_guest(session: AsyncSession, guest: Guest) -> None:
    await session.execute(
        update(guests)
        .where(guests.c.id == guest.id)
        .values(status=guest.status.value, user_id=guest.user_id)
    )
