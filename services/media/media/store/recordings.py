"""Rows ↔ recordings for every write: a tour's recordings, locked while a use case changes
them (claimed with SKIP LOCKED by the workers); erasure of what a deleted account left.

A tour runs at most one recording at a time: a partial unique index says so, and its
violation becomes `RecordingUnderway`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors
from servicekit.db import UnitOfWork
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from media.domain import Recording, RecordingStatus, Segment, Transcript
from media.tables import RECORDING_ACTIVE, guests, recordings, tours


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
