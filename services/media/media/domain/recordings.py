"""Recordings of a tour's call: who may record and play them back, the `Recording` aggregate
from capture to an available file (and to its erasure), and the transcript read out of
Chime's transcription messages.

A recording goes RECORDING (a capture pipeline runs) -> PROCESSING (the capture stopped,
a concatenation pipeline joins its chunks) -> AVAILABLE (Chime said the concatenation
finished) or FAILED; DELETED when the realtor, the retention period or a participant's
erasure removed its files. Pure Python: the stdlib and servicekit.vocabulary only.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from servicekit.vocabulary import Conflict, Forbidden, Principal

from media.domain.calls import Guest, Tour, user_of


class RecordingStatus(StrEnum):
    RECORDING = "RECORDING"
    PROCESSING = "PROCESSING"
    AVAILABLE = "AVAILABLE"
    FAILED = "FAILED"
    DELETED = "DELETED"


def require_recorder(tour: Tour, who: Principal) -> None:
    """Starting, stopping and deleting recordings: the tour's realtor (an admin may too)."""
    if not (who.is_admin or who.user_id == tour.realtor_id):
        raise Forbidden("only the tour's realtor may record it or delete its recordings")


def may_play(tour: Tour, who: Principal, guest: Guest | None) -> bool:
    """Playback, transcripts, summaries: the people who took part (buyer, realtor, the
    guests they invited) and admins."""
    return who.is_admin or tour.is_participant(who.user_id) or (guest is not None and guest.active)


# -- transcripts -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Spoken:
    """One line as Chime transcribed it, before its speaker has a name."""

    external_user_id: str
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class Segment:
    speaker_id: uuid.UUID | None
    speaker_name: str
    start_seconds: float
    end_seconds: float
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    language: str
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """The whole conversation, one line per segment, speakers named."""
        return "\n".join(f"{s.speaker_name}: {s.text}" for s in self.segments)


def read_transcription_messages(body: str) -> tuple[int | None, list[Spoken]]:
    """The final lines in Chime's transcription messages (one JSON event per line, as the
    Chime SDK hands them to clients) and the instant transcription started (ms since the
    epoch), which offsets are counted from. Partial results and undecodable lines are
    skipped: a transcript is built from what Chime settled on."""
    started: int | None = None
    spoken: list[Spoken] = []
    for raw in body.splitlines():
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        status = message.get("transcriptionStatus")
        if isinstance(status, dict):
            if status.get("type") == "started" and started is None:
                started = _int(status.get("eventTimeMs"))
            continue
        transcript = message.get("transcript")
        results = transcript.get("results") if isinstance(transcript, dict) else None
        for result in results if isinstance(results, list) else []:
            line = _final_line(result)
            if line is not None:
                spoken.append(line)
    spoken.sort(key=lambda s: s.start_ms)
    return started, spoken


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _final_line(result: object) -> Spoken | None:
    if not isinstance(result, dict) or result.get("isPartial", False):
        return None
    alternatives = result.get("alternatives")
    if not isinstance(alternatives, list) or not alternatives:
        return None
    best = alternatives[0]
    items = best.get("items") if isinstance(best, dict) else None
    text = best.get("transcript") if isinstance(best, dict) else None
    speaker = next(
        (
            i["attendee"].get("externalUserId")
            for i in items or []
            if isinstance(i, dict) and isinstance(i.get("attendee"), dict)
        ),
        None,
    )
    start, end = _int(result.get("startTimeMs")), _int(result.get("endTimeMs"))
    if not isinstance(text, str) or not text.strip() or not speaker or start is None:
        return None
    return Spoken(str(speaker), start, end if end is not None else start, text.strip())


def transcript_of(
    language: str, started_ms: int | None, spoken: list[Spoken], names: dict[uuid.UUID, str]
) -> Transcript:
    """Segments with their speakers named (`names`: display names by user id) and offsets
    in seconds from the start of transcription (else of the first line)."""
    origin = started_ms if started_ms is not None else (spoken[0].start_ms if spoken else 0)
    segments = []
    for line in spoken:
        speaker = user_of(line.external_user_id)
        segments.append(
            Segment(
                speaker_id=speaker,
                speaker_name=names.get(speaker, "Guest") if speaker else "Unknown speaker",
                start_seconds=max(0.0, (line.start_ms - origin) / 1000),
                end_seconds=max(0.0, (line.end_ms - origin) / 1000),
                text=line.text,
            )
        )
    return Transcript(language, tuple(segments))


# -- the recording ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecordingStarted:
    recording_id: uuid.UUID
    by: uuid.UUID
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    recording_id: uuid.UUID
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingAvailable:
    recording_id: uuid.UUID
    at: datetime
    duration_seconds: int


@dataclass(frozen=True, slots=True)
class RecordingFailed:
    recording_id: uuid.UUID
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingDeleted:
    recording_id: uuid.UUID
    at: datetime
    reason: str


RecordingEvent = (
    RecordingStarted | RecordingStopped | RecordingAvailable | RecordingFailed | RecordingDeleted
)


@dataclass(slots=True)
class Recording:
    """One recording of a tour's call, from its capture pipeline to its concatenated file.

    Its objects live under `prefix` in `bucket`; the playable file is `media_key`.
    """

    id: uuid.UUID
    tour_id: uuid.UUID
    realtor_id: uuid.UUID
    listing_id: uuid.UUID
    meeting_id: str
    started_by: uuid.UUID
    started_at: datetime
    bucket: str
    prefix: str
    language: str
    status: RecordingStatus = RecordingStatus.RECORDING
    capture_pipeline_id: str | None = None
    capture_arn: str | None = None
    concat_pipeline_id: str | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    transcript: Transcript | None = None
    summary: str | None = None
    described: bool = False
    events: list[RecordingEvent] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        *,
        tour: Tour,
        meeting_id: str,
        by: uuid.UUID,
        at: datetime,
        bucket: str,
        language: str,
    ) -> Recording:
        recording_id = uuid.uuid4()
        recording = cls(
            id=recording_id,
            tour_id=tour.id,
            realtor_id=tour.realtor_id,
            listing_id=tour.listing_id,
            meeting_id=meeting_id,
            started_by=by,
            started_at=at,
            bucket=bucket,
            prefix=f"recordings/{tour.id}/{recording_id}",
            language=language,
        )
        recording.events.append(RecordingStarted(recording_id, by, at))
        return recording

    @property
    def concat_prefix(self) -> str:
        return f"{self.prefix}/concatenated"

    @property
    def media_key(self) -> str | None:
        """The concatenated MP4, as Chime names it under the concatenation's sink."""
        if self.concat_pipeline_id is None:
            return None
        return f"{self.concat_prefix}/audio/{self.concat_pipeline_id}.mp4"

    @property
    def transcription_key(self) -> str | None:
        if self.concat_pipeline_id is None:
            return None
        return f"{self.concat_prefix}/transcription-messages/{self.concat_pipeline_id}.txt"

    def capturing(self, pipeline_id: str, arn: str) -> None:
        self.capture_pipeline_id, self.capture_arn = pipeline_id, arn

    def stop(self, at: datetime) -> None:
        """The capture is over (stopped by the realtor, the call emptied or ended)."""
        if self.status is not RecordingStatus.RECORDING:
            raise Conflict("the tour is not being recorded", reason="NOT_RECORDING")
        self.status = RecordingStatus.PROCESSING
        self.ended_at = max(at, self.started_at)
        self.duration_seconds = int((self.ended_at - self.started_at).total_seconds())
        self.events.append(RecordingStopped(self.id, at))

    def concatenating(self, pipeline_id: str) -> None:
        self.concat_pipeline_id = pipeline_id

    def pipeline_finished(self, pipeline_id: str, at: datetime, *, succeeded: bool) -> None:
        """Chime reports a pipeline of this recording ended: the concatenation's end makes
        the file available (or the recording failed); a capture failing fails it too."""
        if pipeline_id == self.concat_pipeline_id and self.status is RecordingStatus.PROCESSING:
            if succeeded:
                self.status = RecordingStatus.AVAILABLE
                self.events.append(RecordingAvailable(self.id, at, self.duration_seconds or 0))
            else:
                self.status = RecordingStatus.FAILED
                self.events.append(RecordingFailed(self.id, at))
        elif (
            pipeline_id == self.capture_pipeline_id
            and not succeeded
            and self.status is RecordingStatus.RECORDING
        ):
            self.status = RecordingStatus.FAILED
            self.ended_at = at
            self.events.append(RecordingFailed(self.id, at))

    def describe(self, transcript: Transcript, summary: str | None) -> None:
        self.transcript, self.summary, self.described = transcript, summary, True

    @property
    def erased(self) -> bool:
        return self.status is RecordingStatus.DELETED

    def erase(self, at: datetime, reason: str) -> None:
        """Its files are gone: keep the fact it existed, nothing of what was said."""
        if self.erased:
            return
        if self.status is RecordingStatus.RECORDING:
            raise Conflict("stop the recording before deleting it", reason="RECORDING")
        self.status = RecordingStatus.DELETED
        self.transcript, self.summary, self.described = None, None, True
        self.events.append(RecordingDeleted(self.id, at, reason))
