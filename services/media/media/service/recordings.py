"""Media's recording use cases: start and stop recording a tour's call, follow Chime's
pipelines to a playable file, build its transcript and summary, delete it (the realtor,
the retention period, a participant's erasure).

Chime calls are made inside the unit of work, the tour's meeting row (start, stop) or the
recording's row locked, so a second start waits for the first and finds it. What Chime made
before a failure is undone before the error goes out: no capture runs that no row knows of.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import Conflict, NotFound, Principal, ServiceError

from media import store
from media.chime import ChimeMeetings, ChimePipelines, Pipeline
from media.clients import IdentityClient
from media.domain import (
    Recording,
    RecordingStatus,
    Tour,
    read_transcription_messages,
    require_recorder,
    transcript_of,
    user_of,
)
from media.eventbridge import PipelineKind, PipelineSignal
from media.storage import RecordingStorage
from media.summaries import Summariser, TourContext

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    language: str = "en-US"
    sink_role_arn: str = "arn:aws:iam::123456789012:role/realty-media-capture-sink"
    retention: timedelta = timedelta(days=365)


class Recordings:
    def __init__(
        self,
        db: Database,
        meetings: ChimeMeetings,
        pipelines: ChimePipelines,
        storage: RecordingStorage,
        identity: IdentityClient,
        summariser: Summariser,
        *,
        policy: RecordingPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.meetings = meetings
        self.pipelines = pipelines
        self.storage = storage
        self.identity = identity
        self.summariser = summariser
        self.policy = policy
        self.clock = clock

    async def _tour(self, uow: UnitOfWork, tour_id: uuid.UUID) -> Tour:
        tour = await store.get_tour(uow.session, tour_id)
        if tour is None:
            raise NotFound("tour not found", field="tourId")
        return tour

    # -- starting and stopping ---------------------------------------------------------------
    async def start(self, who: Principal, tour_id: uuid.UUID) -> Recording:
        """Capture the tour's call (its realtor); CONFLICT while one runs or with no call."""
        async with self.db.uow(actor=str(who.user_id)) as uow:
            tour = await self._tour(uow, tour_id)
            require_recorder(tour, who)
            meeting = await store.lock_meeting(uow, tour_id)
            if meeting is None or not meeting.live or meeting.chime is None:
                raise Conflict("the tour's call is not on", reason="NO_CALL")
            if await store.lock_running_recording(uow, tour_id) is not None:
                raise Conflict("the tour is being recorded already", reason="ALREADY_RECORDING")
            key = await self.storage.ensure_ready()
            assert meeting.meeting_id is not None
            recording = Recording.start(
                tour=tour,
                meeting_id=meeting.meeting_id,
                by=who.user_id,
                at=self.clock(),
                bucket=self.storage.bucket,
                language=self.policy.language,
            )
            await self.meetings.start_transcription(
                meeting_id=meeting.meeting_id, language=recording.language
            )
            capture: Pipeline | None = None
            try:
                capture = await self.pipelines.create_capture(
                    meeting_arn=str(meeting.chime["MeetingArn"]),
                    sink_arn=self.storage.sink_arn(recording.prefix),
                    token=recording.id.hex,
                    kms_key_id=key,
                    sink_role_arn=self.policy.sink_role_arn,
                )
                recording.capturing(capture.id, capture.arn)
                await store.add_recording(uow, recording)
                await uow.commit()
            except Exception as exc:
                await self._undo_start(meeting.meeting_id, capture)
                if isinstance(exc, store.RecordingUnderway):
                    raise Conflict(
                        "the tour is being recorded already", reason="ALREADY_RECORDING"
                    ) from None
                raise
        return recording

    async def _undo_start(self, meeting_id: str, capture: Pipeline | None) -> None:
        try:
            if capture is not None:
                await self.pipelines.delete_capture(pipeline_id=capture.id)
            await self.meetings.stop_transcription(meeting_id=meeting_id)
        except ServiceError:
            log.warning("could not undo a recording start in meeting %s", meeting_id, exc_info=True)

    async def stop(self, who: Principal, tour_id: uuid.UUID) -> Recording:
        """End the capture and have Chime join its chunks into one file (its realtor)."""
        async with self.db.uow(actor=str(who.user_id)) as uow:
            tour = await self._tour(uow, tour_id)
            require_recorder(tour, who)
            await store.lock_meeting(uow, tour_id)
            recording = await store.lock_running_recording(uow, tour_id)
            if recording is None:
                raise Conflict("the tour is not being recorded", reason="NOT_RECORDING")
            await self._finish_capture(recording)
            await store.save_recording(uow, recording)
            await uow.commit()
        return recording

    async def capture_over(self, uow: UnitOfWork, tour_id: uuid.UUID) -> None:
        """The call emptied or ended: a recording still running is stopped and joined."""
        recording = await store.lock_running_recording(uow, tour_id)
        if recording is not None:
            await self._finish_capture(recording)
            await store.save_recording(uow, recording)

    async def _finish_capture(self, recording: Recording) -> None:
        recording.stop(self.clock())
        assert recording.capture_pipeline_id is not None and recording.capture_arn is not None
        await self.meetings.stop_transcription(meeting_id=recording.meeting_id)
        await self.pipelines.delete_capture(pipeline_id=recording.capture_pipeline_id)
        joined = await self.pipelines.create_concatenation(
            capture_arn=recording.capture_arn,
            destination_arn=self.storage.sink_arn(recording.concat_prefix),
            token=f"{recording.id.hex}-concat",
        )
        recording.concatenating(joined.id)

    # -- Chime's pipeline reports -------------------------------------------------------------
    async def on_pipeline(self, signal: PipelineSignal) -> None:
        """A pipeline of a recording ended (or failed): applied once (inbox), the file made
        available. Recordings are found by their meeting, so a report racing the stop that
        made its pipeline waits for that stop to commit."""
        async with self.db.uow() as uow:
            if not await store.record_chime_event(uow.session, signal.id, signal.kind.value):
                return
            if signal.kind is not PipelineKind.IN_PROGRESS:
                for recording in await store.lock_recordings_in(uow, signal.meeting_id):
                    recording.pipeline_finished(
                        signal.pipeline_id,
                        signal.at,
                        succeeded=signal.kind is PipelineKind.DELETED,
                    )
                    if recording.erased:
                        # Erased while Chime was still writing: what it wrote goes too.
                        await self.storage.delete_prefix(recording.prefix)
                    await store.save_recording(uow, recording)
            await uow.commit()

    # -- transcripts and summaries ------------------------------------------------------------
    async def describe_available(self, limit: int = 5) -> int:
        """Build the transcript and summary of recordings that became available; how many."""
        done = 0
        async with self.db.uow() as uow:
            for recording in await store.lock_to_describe(uow, limit):
                try:
                    await self._describe(uow, recording)
                except ServiceError as exc:
                    log.warning("recording %s not described yet: %s", recording.id, exc.message)
                    continue
                await store.save_recording(uow, recording)
                done += 1
            await uow.commit()
        return done

    async def _describe(self, uow: UnitOfWork, recording: Recording) -> None:
        key = recording.transcription_key
        body = (await self.storage.read_text(key) if key else None) or ""
        started, spoken = read_transcription_messages(body)
        tour = await store.get_tour(uow.session, recording.tour_id)
        wanted = {u for u in (user_of(s.external_user_id) for s in spoken) if u is not None}
        if tour is not None:
            wanted |= {tour.buyer_id, tour.realtor_id}
        found = await self.identity.users(wanted)
        names = {i: u.display_name for i, u in found.items() if u.display_name and not u.deleted}
        transcript = transcript_of(recording.language, started, spoken, names)
        summary = None
        if transcript.segments:
            context = TourContext(
                buyer_name=names.get(tour.buyer_id, "the buyer") if tour else "the buyer",
                realtor_name=names.get(tour.realtor_id, "the realtor") if tour else "the realtor",
            )
            summary = await self.summariser.summarise(transcript, context)
        recording.describe(transcript, summary)

    # -- deleting ---------------------------------------------------------------------------
    async def delete(self, who: Principal, recording_id: uuid.UUID) -> bool:
        """Remove a recording's files and transcript (the tour's realtor); False when it was
        deleted already."""
        async with self.db.uow(actor=str(who.user_id)) as uow:
            recording = await store.lock_recording(uow, recording_id)
            if recording is None:
                raise NotFound("recording not found", field="id")
            require_recorder(await self._tour(uow, recording.tour_id), who)
            if recording.erased:
                return False
            await self.storage.delete_prefix(recording.prefix)
            recording.erase(self.clock(), "REALTOR")
            await store.save_recording(uow, recording)
            await uow.commit()
        return True

    async def expire(self, limit: int = 20) -> int:
        """Delete recordings older than the retention period; how many."""
        now = self.clock()
        count = 0
        async with self.db.uow() as uow:
            for recording in await store.lock_expired(uow, now - self.policy.retention, limit):
                await self.storage.delete_prefix(recording.prefix)
                recording.erase(now, "RETENTION")
                await store.save_recording(uow, recording)
                count += 1
            await uow.commit()
        return count

    async def erase_user(self, uow: UnitOfWork, user_id: uuid.UUID) -> int:
        """A user's account was deleted: their invitations go, and the recordings and
        transcripts of every tour they took part in are erased, files included (face and
        voice are personal data). Runs in the consumer's unit of work (which commits it with
        the event's inbox row, so it happens once)."""
        now = self.clock()
        erased = 0
        for recording in await store.lock_recordings_with(uow, user_id):
            if recording.status is RecordingStatus.RECORDING:
                await self._finish_capture(recording)
            await self.storage.delete_prefix(recording.prefix)
            recording.erase(now, "ERASURE")
            await store.save_recording(uow, recording)
            erased += 1
        await store.remove_guests_of(uow.session, user_id)
        return erased
