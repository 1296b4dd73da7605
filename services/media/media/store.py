"""Rows ↔ domain objects for every write: the tours followed, meetings, attendees, guests,
recordings.

A meeting is always loaded with its row locked (`FOR UPDATE`), and a tour's meeting row is
made on first use with `INSERT … ON CONFLICT DO NOTHING`: however many first joins arrive
at once, PostgreSQL lets one of them create the Chime meeting while the others wait for it
and then find it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors
from servicekit.db import UnitOfWork
from servicekit.tables import inbox
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from media.domain import (
    Attendee,
    Guest,
    GuestStatus,
    Meeting,
    MeetingState,
    Recording,
    RecordingStatus,
    Segment,
    Tour,
    TourStatus,
    Transcript,
)
from media.tables import (
    GUEST_EMAIL,
    RECORDING_ACTIVE,
    attendees,
    guests,
    meetings,
    recordings,
    tours,
)

CHIME_CONSUMER = "chime-events"


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
    row is made first when the tour has none yet."""
    if create:
        await uow.session.execute(
            pg_insert(meetings).values(tour_id=tour_id).on_conflict_do_nothing()
        )
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
    await session.execute(
        update(meetings)
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
    # Attendees of a Chime meeting the tour no longer holds are of no further use.
    stale = attendees.c.tour_id == meeting.tour_id
    if meeting.meeting_id is not None:
        stale = and_(stale, attendees.c.meeting_id != meeting.meeting_id)
    await session.execute(delete(attendees).where(stale))
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


# -- recordings ------------------------------------------------------------------------------
class RecordingUnderway(Exception):
    """The tour already has a recording running (the partial unique index said so)."""


def _transcript_json(transcript: Transcript | None) -> dict[str, Any] | None:
    if transcript is None:
        return None
    return {
        "language": transcript.language,
        "segments": [
            {
                "speakerId": str(s.speaker_id) if s.speaker_id else None,
                "speakerName": s.speaker_name,
                "start": s.start_seconds,
                "end": s.end_seconds,
                "text": s.text,
            }
            for s in transcript.segments
        ],
    }


def transcript_from_json(value: Any) -> Transcript | None:
    if not value:
        return None
    return Transcript(
        language=value["language"],
        segments=tuple(
            Segment(
                speaker_id=uuid.UUID(s["speakerId"]) if s.get("speakerId") else None,
                speaker_name=s["speakerName"],
                start_seconds=float(s["start"]),
                end_seconds=float(s["end"]),
                text=s["text"],
            )
            for s in value["segments"]
        ),
    )


def recording_from_row(row: Any) -> Recording:
    return Recording(
        id=row.id,
        tour_id=row.tour_id,
        realtor_id=row.realtor_id,
        listing_id=row.listing_id,
        meeting_id=row.meeting_id,
        started_by=row.started_by,
        started_at=row.started_at,
        bucket=row.bucket,
        prefix=row.prefix,
        language=row.language,
        status=RecordingStatus(row.status),
        capture_pipeline_id=row.capture_pipeline_id,
        capture_arn=row.capture_arn,
        concat_pipeline_id=row.concat_pipeline_id,
        ended_at=row.ended_at,
        duration_seconds=row.duration_seconds,
        transcript=transcript_from_json(row.transcript),
        summary=row.summary,
        described=row.described,
    )


def _recording_values(recording: Recording) -> dict[str, Any]:
    transcript = recording.transcript
    return {
        "status": recording.status.value,
        "capture_pipeline_id": recording.capture_pipeline_id,
        "capture_arn": recording.capture_arn,
        "concat_pipeline_id": recording.concat_pipeline_id,
        "ended_at": recording.ended_at,
        "duration_seconds": recording.duration_seconds,
        "transcript": _transcript_json(transcript),
        "transcript_text": transcript.text if transcript is not None else None,
        "summary": recording.summary,
        "described": recording.described,
    }


async def add_recording(uow: UnitOfWork, recording: Recording) -> None:
    """Insert a new recording; RecordingUnderway when the tour has one running already."""
    try:
        async with uow.session.begin_nested():
            await uow.session.execute(
                recordings.insert().values(
                    id=recording.id,
                    tour_id=recording.tour_id,
                    realtor_id=recording.realtor_id,
                    listing_id=recording.listing_id,
                    meeting_id=recording.meeting_id,
                    started_by=recording.started_by,
                    started_at=recording.started_at,
                    bucket=recording.bucket,
                    prefix=recording.prefix,
                    language=recording.language,
                    **_recording_values(recording),
                )
            )
    except IntegrityError as exc:
        orig = exc.orig
        if (
            isinstance(orig, pg_errors.UniqueViolation)
            and orig.diag is not None
            and orig.diag.constraint_name == RECORDING_ACTIVE
        ):
            raise RecordingUnderway() from exc
        raise
    uow.track(recording)


async def save_recording(uow: UnitOfWork, recording: Recording) -> None:
    await uow.session.execute(
        update(recordings)
        .where(recordings.c.id == recording.id)
        .values(**_recording_values(recording))
    )


async def _lock_recordings(
    uow: UnitOfWork, condition: Any, *, skip: bool = False
) -> list[Recording]:
    rows = await uow.session.execute(
        select(recordings)
        .where(condition)
        .order_by(recordings.c.started_at)
        .with_for_update(skip_locked=skip)
    )
    return [uow.track(recording_from_row(r)) for r in rows]


async def lock_recording(uow: UnitOfWork, recording_id: uuid.UUID) -> Recording | None:
    found = await _lock_recordings(uow, recordings.c.id == recording_id)
    return found[0] if found else None


async def lock_running_recording(uow: UnitOfWork, tour_id: uuid.UUID) -> Recording | None:
    found = await _lock_recordings(
        uow,
        and_(
            recordings.c.tour_id == tour_id,
            recordings.c.status == RecordingStatus.RECORDING.value,
        ),
    )
    return found[0] if found else None


async def lock_recordings_in(uow: UnitOfWork, meeting_id: str) -> list[Recording]:
    """Every recording of a Chime meeting, locked (waiting for a stop still under way)."""
    return await _lock_recordings(uow, recordings.c.meeting_id == meeting_id)


async def lock_to_describe(uow: UnitOfWork, limit: int) -> list[Recording]:
    """Available recordings without their transcript yet, claimed (SKIP LOCKED)."""
    rows = await uow.session.execute(
        select(recordings)
        .where(
            and_(
                recordings.c.status == RecordingStatus.AVAILABLE.value,
                recordings.c.described.is_(False),
            )
        )
        .order_by(recordings.c.started_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [uow.track(recording_from_row(r)) for r in rows]


async def lock_expired(uow: UnitOfWork, before: datetime, limit: int) -> list[Recording]:
    """Recordings started before `before` whose files still exist, claimed (SKIP LOCKED)."""
    rows = await uow.session.execute(
        select(recordings)
        .where(
            and_(
                recordings.c.started_at < before,
                recordings.c.status.in_(
                    [
                        RecordingStatus.PROCESSING.value,
                        RecordingStatus.AVAILABLE.value,
                        RecordingStatus.FAILED.value,
                    ]
                ),
            )
        )
        .order_by(recordings.c.started_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [uow.track(recording_from_row(r)) for r in rows]


async def lock_recordings_with(uow: UnitOfWork, user_id: uuid.UUID) -> list[Recording]:
    """Every recording of a tour the user took part in (buyer, realtor, or a guest who
    joined), not yet erased."""
    guest_tours = select(guests.c.tour_id).where(guests.c.user_id == user_id)
    party_tours = select(tours.c.id).where(
        or_(tours.c.buyer_id == user_id, tours.c.realtor_id == user_id)
    )
    return await _lock_recordings(
        uow,
        and_(
            recordings.c.status != RecordingStatus.DELETED.value,
            or_(recordings.c.tour_id.in_(guest_tours), recordings.c.tour_id.in_(party_tours)),
        ),
    )


async def remove_guests_of(
    session: AsyncSession, user_id: uuid.UUID, email: str | None = None
) -> int:
    """The user's invitations go — those made to them (by account or address) and those
    they made; how many."""
    condition = or_(guests.c.user_id == user_id, guests.c.invited_by == user_id)
    if email:
        condition = or_(condition, guests.c.email == email)
    found = await session.execute(delete(guests).where(condition).returning(guests.c.id))
    return len(found.all())
