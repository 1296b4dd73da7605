"""Recording rules alone: who records and plays back, the recording's life, transcripts read
from Chime's transcription messages, and the event each step announces."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from media.domain import (
    Guest,
    GuestStatus,
    Recording,
    RecordingAvailable,
    RecordingDeleted,
    RecordingFailed,
    RecordingStarted,
    RecordingStatus,
    RecordingStopped,
    Tour,
    TourStatus,
    may_play,
    read_transcription_messages,
    require_recorder,
    transcript_of,
)
from media.events import outgoing
from realty.media.v1 import media_pb2
from servicekit.auth import Role
from servicekit.vocabulary import Conflict, Forbidden, Principal

AT = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
BUYER, REALTOR = uuid.uuid4(), uuid.uuid4()
TOUR = Tour(uuid.uuid4(), uuid.uuid4(), BUYER, REALTOR, TourStatus.IN_PROGRESS, AT, AT, 3)


def who(user_id: uuid.UUID, role: Role = Role.BUYER) -> Principal:
    return Principal(user_id=user_id, role=role)


def started() -> Recording:
    recording = Recording.start(
        tour=TOUR, meeting_id="m-1", by=REALTOR, at=AT, bucket="b", language="en-US"
    )
    recording.capturing("capture-1", "arn:capture-1")
    return recording


def test_only_the_realtor_or_an_admin_records() -> None:
    require_recorder(TOUR, who(REALTOR, Role.REALTOR))
    require_recorder(TOUR, who(uuid.uuid4(), Role.ADMIN))
    with pytest.raises(Forbidden):
        require_recorder(TOUR, who(BUYER))


def test_participants_and_their_active_guests_play_recordings_back() -> None:
    guest_id = uuid.uuid4()
    guest = Guest(uuid.uuid4(), TOUR.id, "g@example.com", GuestStatus.JOINED, BUYER, AT, guest_id)
    assert may_play(TOUR, who(BUYER), None)
    assert may_play(TOUR, who(guest_id), guest)
    guest.status = GuestStatus.REMOVED
    assert not may_play(TOUR, who(guest_id), guest)
    assert not may_play(TOUR, who(uuid.uuid4()), None)


def test_a_recording_goes_from_capture_to_available_with_its_duration() -> None:
    recording = started()
    assert recording.prefix == f"recordings/{TOUR.id}/{recording.id}"
    recording.stop(AT + timedelta(seconds=95))
    assert (recording.status, recording.duration_seconds) == (RecordingStatus.PROCESSING, 95)
    with pytest.raises(Conflict):
        recording.stop(AT + timedelta(seconds=99))  # not recording any more
    recording.concatenating("concat-1")
    assert recording.media_key == f"{recording.prefix}/concatenated/audio/concat-1.mp4"
    recording.pipeline_finished("capture-1", AT, succeeded=True)  # the capture's own end
    assert recording.status is RecordingStatus.PROCESSING
    recording.pipeline_finished("concat-1", AT, succeeded=True)
    recording.pipeline_finished("concat-1", AT, succeeded=True)  # reported twice
    assert recording.status is RecordingStatus.AVAILABLE
    assert [type(e) for e in recording.events] == [
        RecordingStarted,
        RecordingStopped,
        RecordingAvailable,
    ]


def test_failures_fail_it_and_erasing_keeps_nothing_said() -> None:
    capturing = started()
    capturing.pipeline_finished("capture-1", AT, succeeded=False)
    assert capturing.status is RecordingStatus.FAILED
    joining = started()
    joining.stop(AT)
    joining.concatenating("concat-2")
    joining.pipeline_finished("concat-2", AT, succeeded=False)
    assert joining.status is RecordingStatus.FAILED
    with pytest.raises(Conflict):
        started().erase(AT, "REALTOR")  # stop it first
    joining.describe(transcript_of("en-US", None, [], {}), "summary")
    joining.erase(AT, "ERASURE")
    joining.erase(AT, "ERASURE")
    assert (joining.transcript, joining.summary, joining.status) == (
        None,
        None,
        RecordingStatus.DELETED,
    )
    assert [type(e) for e in joining.events][-2:] == [RecordingFailed, RecordingDeleted]


def test_every_recording_event_has_its_message() -> None:
    recording = started()
    recording.stop(AT + timedelta(seconds=30))
    recording.concatenating("c")
    recording.pipeline_finished("c", AT, succeeded=True)
    recording.erase(AT, "RETENTION")
    failed = started()
    failed.pipeline_finished("capture-1", AT, succeeded=False)
    sent = [outgoing(recording, e) for e in recording.events] + [
        outgoing(failed, failed.events[-1])
    ]
    assert [o.subject for o in sent] == [
        "media.recording.started",
        "media.recording.stopped",
        "media.recording.available",
        "media.recording.deleted",
        "media.recording.failed",
    ]
    available = sent[2].payload
    assert isinstance(available, media_pb2.RecordingAvailable)
    assert (available.duration_seconds, available.realtor_id) == (30, str(REALTOR))
    assert all(o.subject_id == str(TOUR.id) for o in sent)


def _line(user: uuid.UUID, start: int, text: str, *, partial: bool = False) -> str:
    item = {"attendee": {"attendeeId": "a", "externalUserId": f"{user}#abcd"}, "content": "x"}
    result = {
        "isPartial": partial,
        "startTimeMs": start,
        "endTimeMs": start + 1200,
        "alternatives": [{"items": [item], "transcript": text}],
    }
    return json.dumps({"transcript": {"results": [result]}})


def test_transcripts_are_read_from_final_lines_named_and_offset_from_the_start() -> None:
    started_ms = 1_800_000_000_000
    body = "\n".join(
        [
            json.dumps({"transcriptionStatus": {"type": "started", "eventTimeMs": started_ms}}),
            _line(BUYER, started_ms + 4000, "Is the roof new?"),
            _line(REALTOR, started_ms + 1000, "Welcome."),
            _line(BUYER, started_ms + 5000, "Is the ro", partial=True),
            "not json",
            _line(uuid.uuid4(), started_ms + 9000, "Hello from a stranger."),
            json.dumps({"transcriptionStatus": {"type": "stopped", "eventTimeMs": started_ms}}),
        ]
    )
    origin, spoken = read_transcription_messages(body)
    assert origin == started_ms
    transcript = transcript_of("en-US", origin, spoken, {BUYER: "Ben", REALTOR: "Rita"})
    assert [
        (s.speaker_name, s.start_seconds, s.end_seconds, s.text) for s in transcript.segments
    ] == [
        ("Rita", 1.0, 2.2, "Welcome."),
        ("Ben", 4.0, 5.2, "Is the roof new?"),
        ("Guest", 9.0, 10.2, "Hello from a stranger."),
    ]
    assert transcript.segments[1].speaker_id == BUYER
    assert transcript.text.splitlines()[0] == "Rita: Welcome."
