"""Rows ↔ domain objects for every write of the call: the tours followed, meetings,
attendees, guests.

A meeting is always loaded with its row locked (`FOR UPDATE`), and a tour's meeting row is
made on first use with `INSERT … ON CONFLICT DO NOTHING`: however many first joins arrive
at once, PostgreSQL lets one of them create the Chime meeting while the others wait for it
and then find it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors
from servicekit.db import Database, UnitOfWork
from servicekit.tables import inbox
from sqlalchemy import and_, delete, select, update
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
    attendees,
    guests,
    meetings,
    tours,
)

CHIME_CONSUMER = "chime-events"

# A device's attendee in its tour's live call, with the tour and the call's video senders:
# one prepared statement, no transaction (`device_in_call`).
DEVICE_IN_CALL = """
SELECT t.id, t.listing_id, t.buyer_id, t.realtor_id, t.status, t.starts_at, t.ends_at,
       t.sequence, m.meeting_id, m.chime AS meeting, a.attendee_id, a.chime AS attendee,
       a.video,
       (SELECT count(*) FROM attendees v
         WHERE v.meeting_id = m.meeting_id AND v.video AND NOT v.deleted) AS senders
  FROM tours t
  JOIN meetings m ON m.tour_id = t.id AND m.state = %(live)s
  JOIN attendees a ON a.tour_id = t.id AND a.device_key = %(key)s AND NOT a.deleted
                  AND a.meeting_id = m.meeting_id
 WHERE t.id = %(tour)s
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


async def get_tour(session: AsyncSession, tour_id: uuid.UUID, *, lock: bool = False) -> Tour | None:
    query = select(tours).where(tours.c.id == tour_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return tour_from_row(row) if row else None


@dataclass(frozen=True, slots=True)
class DeviceInCall:
    """What a device joining again needs: its tour, the live Chime meeting, its attendee
    there, and how many attendees of the meeting send video."""

    tour: Tour
    meeting_id: str
    meeting: dict[str, Any]
    attendee_id: str
    attendee: dict[str, Any]
    video: bool
    senders: int


async def device_in_call(db: Database, tour_id: uuid.UUID, key: str) -> DeviceInCall | None:
    """The device's attendee in the tour's live call, read without a transaction or a lock
    (a join that then finds it gone takes the locked path); None when there is none."""
    async with db.driver_reads() as reads:
        row = await reads.first(
            DEVICE_IN_CALL, {"tour": tour_id, "key": key, "live": MeetingState.LIVE.value}
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
        found = await uow.session.execute(
            select(attendees)
            .where(attendees.c.meeting_id == meeting.meeting_id)
            .order_by(attendees.c.attendee_id)
        )
        meeting.attendees = [_attendee(r) for r in found]
    return uow.track(meeting)


async def lock_meeting(uow: UnitOfWork, tour_id: uuid.UUID, *, create: bool) -> Meeting | None:
    """The tour's meeting, its row locked until the unit of work ends; with `create`, the
    row is made first when the tour has none yet.

    Creating is one statement: `INSERT … ON CONFLICT DO UPDATE … RETURNING` locks the row
    it finds as `FOR UPDATE` would (a concurrent first insert is waited for), and returns it.
    """
    if create:
        statement = pg_insert(meetings).values(tour_id=tour_id)
        row = (
            await uow.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[meetings.c.tour_id],
                    set_={"tour_id": statement.excluded.tour_id},
                ).returning(*meetings.c)
            )
        ).first()
    else:
        row = (
            await uow.session.execute(
                select(meetings).where(meetings.c.tour_id == tour_id).with_for_update()
            )
        ).first()
    return await _load(uow, row) if row else None


async def lock_meeting_of(uow: UnitOfWork, meeting_id: str) -> Meeting | None:
    """The meeting whose current Chime meeting is `meeting_id`, locked; None for a Chime
    meeting that is not (or no longer) any tour's."""
    row = (
        await uow.session.execute(
            select(meetings).where(meetings.c.meeting_id == meeting_id).with_for_update()
        )
    ).first()
    return await _load(uow, row) if row else None


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


async def save_meeting(uow: UnitOfWork, meeting: Meeting) -> None:
    session = uow.session
    # Attendees of a Chime meeting the tour no longer holds are of no further use: deleted
    # in the same statement as the meeting's row is written (one round trip).
    stale = attendees.c.tour_id == meeting.tour_id
    if meeting.meeting_id is not None:
        stale = and_(stale, attendees.c.meeting_id != meeting.meeting_id)
    gone = delete(attendees).where(stale).returning(attendees.c.attendee_id).cte("gone")
    await session.execute(
        update(meetings)
        .add_cte(gone)
        .where(meetings.c.tour_id == meeting.tour_id)
        .values(
            generation=meeting.generation,
            state=meeting.state.value,
            meeting_id=meeting.meeting_id,
            chime=meeting.chime,
            created_at=meeting.created_at,
            started_at=meeting.started_at,
            someone_joined=meeting.someone_joined,
            empty_since=meeting.empty_since,
            attendee_seconds=meeting.attendee_seconds,
        )
    )
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
    if rows:
        statement = pg_insert(attendees)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[attendees.c.attendee_id],
                set_={k: statement.excluded[k] for k in rows[0] if k != "attendee_id"},
            ),
            rows,
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
