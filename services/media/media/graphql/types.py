# mypy: disable-error-code="untyped-decorator"
"""Media's subgraph types: `Tour` (extended with `meeting`, `guests`, `recordings`), `Meeting`,
`TourGuest`, `JoinInfo`, `Recording` and its `Transcript`, with the per-request DataLoaders
that batch their reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import strawberry
from servicekit.graphql import Context
from servicekit.vocabulary import Principal, parse_id
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from media import domain
from media.live import LiveCalls
from media.queries import MediaQueries, MeetingView
from media.service import Media, Recordings
from media.storage import RecordingStorage


@dataclass
class Services:
    """What resolvers reach through `info.context.services` (built by app.py)."""

    media: Media
    queries: MediaQueries
    recordings: Recordings
    storage: RecordingStorage
    live: LiveCalls


def _ctx(info: Info[Context, None]) -> Context:
    return info.context


def _services(info: Info[Context, None]) -> Services:
    services: Services = info.context.services
    return services


def _tours(info: Info[Context, None]) -> DataLoader[uuid.UUID, domain.Tour | None]:
    queries = _services(info).queries

    async def load(ids: Sequence[uuid.UUID]) -> list[domain.Tour | None]:
        found = await queries.tours(ids)
        return [found.get(i) for i in ids]

    return _ctx(info).loader("tours", lambda: DataLoader(load_fn=load))


def _meetings(info: Info[Context, None]) -> DataLoader[uuid.UUID, MeetingView | None]:
    queries = _services(info).queries

    async def load(ids: Sequence[uuid.UUID]) -> list[MeetingView | None]:
        found = await queries.meetings(ids)
        return [found.get(i) for i in ids]

    return _ctx(info).loader("meetings", lambda: DataLoader(load_fn=load))


def _guests(info: Info[Context, None]) -> DataLoader[uuid.UUID, list[domain.Guest]]:
    queries = _services(info).queries

    async def load(ids: Sequence[uuid.UUID]) -> list[list[domain.Guest]]:
        found = await queries.guests(ids)
        return [found.get(i, []) for i in ids]

    return _ctx(info).loader("guests", lambda: DataLoader(load_fn=load))


JoinMode = strawberry.enum(
    domain.JoinMode,
    description="How much a device sends: FULL, or data-saver joins for weak connections.",
)
GuestStatus = strawberry.enum(domain.GuestStatus, description="Where an invitation stands.")
RecordingStatus = strawberry.enum(
    domain.RecordingStatus,
    description="RECORDING, PROCESSING (being put together), AVAILABLE, FAILED, DELETED.",
)


# -- entities owned elsewhere, extended here ---------------------------------------------------
@strawberry.federation.type(keys=["id"], description="A person with an account.")
class User:
    id: strawberry.ID = strawberry.field(description="Stable identifier of the account.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)


def _user(user_id: uuid.UUID) -> User:
    return User(id=strawberry.ID(str(user_id)))


@strawberry.type(description="A tour's video call as it is now.")
class Meeting:
    id: strawberry.ID = strawberry.field(
        description="The Chime meeting's id while the tour has one, else the tour's id."
    )
    active: bool = strawberry.field(description="True while the call is open to join.")
    started_at: datetime | None = strawberry.field(
        description="When the current call started; null before anyone joined."
    )
    participants: list[User] = strawberry.field(description="Who is in the call now.")
    recording: bool = strawberry.field(
        description="True while the call is recorded, so everyone in it knows."
    )
    attendee_minutes: int = strawberry.field(
        description="Minutes people have spent in the tour's calls, summed over attendees."
    )

    @classmethod
    def of(cls, view: MeetingView) -> Meeting:
        return cls(
            id=strawberry.ID(view.meeting_id or str(view.tour_id)),
            active=view.active,
            started_at=view.started_at,
            participants=[_user(u) for u in view.participants],
            recording=view.recording,
            attendee_minutes=-(-view.attendee_seconds // 60),
        )


@strawberry.type(description="Someone invited by email to join a tour's call.")
class TourGuest:
    id: strawberry.ID = strawberry.field(description="The invitation's id.")
    email: str = strawberry.field(description="The address invited.")
    user: User | None = strawberry.field(
        description="The account that joined with this address; null until then."
    )
    status: GuestStatus = strawberry.field(description="Where the invitation stands.")  # type: ignore[valid-type]
    invited_by: User = strawberry.field(description="The participant who invited them.")
    invited_at: datetime = strawberry.field(description="When they were invited.")

    @classmethod
    def of(cls, guest: domain.Guest) -> TourGuest:
        return cls(
            id=strawberry.ID(str(guest.id)),
            email=guest.email,
            user=_user(guest.user_id) if guest.user_id else None,
            status=GuestStatus(guest.status.value),
            invited_by=_user(guest.invited_by),
            invited_at=guest.invited_at,
        )


@strawberry.type(description="What a client needs to connect to a tour's call.")
class JoinInfo:
    meeting: JSON = strawberry.field(
        description="Chime's CreateMeeting `Meeting`, PascalCase, unchanged."
    )
    attendee: JSON = strawberry.field(
        description="Chime's CreateAttendee `Attendee`, PascalCase, unchanged."
    )


def _recordings(info: Info[Context, None]) -> DataLoader[uuid.UUID, list[domain.Recording]]:
    queries = _services(info).queries

    async def load(ids: Sequence[uuid.UUID]) -> list[list[domain.Recording]]:
        found = await queries.recordings(ids)
        return [found.get(i, []) for i in ids]

    return _ctx(info).loader("recordings", lambda: DataLoader(load_fn=load))


@strawberry.type(description="One stretch of speech in a tour's transcript.")
class TranscriptSegment:
    speaker: User | None = strawberry.field(description="Who spoke; null when not a known user.")
    speaker_name: str = strawberry.field(description="The speaker's display name.")
    start_seconds: float = strawberry.field(description="Offset of the start in the recording.")
    end_seconds: float = strawberry.field(description="Offset of the end in the recording.")
    text: str = strawberry.field(description="What was said.")


@strawberry.type(description="What was said in a recorded tour, by speaker.")
class Transcript:
    language: str = strawberry.field(description="The transcription language (BCP 47).")
    segments: list[TranscriptSegment] = strawberry.field(description="In spoken order.")
    text: str = strawberry.field(description="The whole transcript, `speaker: words` per line.")

    @classmethod
    def of(cls, transcript: domain.Transcript) -> Transcript:
        return cls(
            language=transcript.language,
            segments=[
                TranscriptSegment(
                    speaker=_user(s.speaker_id) if s.speaker_id else None,
                    speaker_name=s.speaker_name,
                    start_seconds=s.start_seconds,
                    end_seconds=s.end_seconds,
                    text=s.text,
                )
                for s in transcript.segments
            ],
            text=transcript.text,
        )


@strawberry.type(description="A recording of a tour's video call.")
class Recording:
    id: strawberry.ID = strawberry.field(description="The recording's id.")
    status: RecordingStatus = strawberry.field(description="Where the recording stands.")  # type: ignore[valid-type]
    started_at: datetime = strawberry.field(description="When recording started.")
    ended_at: datetime | None = strawberry.field(description="When recording stopped.")
    duration_seconds: int | None = strawberry.field(description="Length of the recording.")
    playback_url: str | None = strawberry.field(
        description="A short-lived URL of the MP4 (participants only), while AVAILABLE."
    )
    transcript: Transcript | None = strawberry.field(
        description="What was said, once the recording was transcribed."
    )
    summary: str | None = strawberry.field(
        description="Overview, what the buyer asked and liked, concerns, agreed next steps."
    )
    tour: Tour = strawberry.field(description="The tour recorded.")

    @classmethod
    def of(cls, recording: domain.Recording, storage: RecordingStorage) -> Recording:
        key = recording.media_key
        playable = recording.status is domain.RecordingStatus.AVAILABLE and key is not None
        return cls(
            id=strawberry.ID(str(recording.id)),
            status=RecordingStatus(recording.status.value),
            started_at=recording.started_at,
            ended_at=recording.ended_at,
            duration_seconds=recording.duration_seconds,
            playback_url=storage.playback_url(key) if playable and key else None,
            transcript=Transcript.of(recording.transcript) if recording.transcript else None,
            summary=recording.summary,
            tour=Tour(id=strawberry.ID(str(recording.tour_id))),
        )


async def _visible(info: Info[Context, None], tour_id: uuid.UUID) -> bool:
    """Participants, admins and the tour's guests who joined with their account."""
    who: Principal | None = await _ctx(info).principal()
    if who is None:
        return False
    tour = await _tours(info).load(tour_id)
    if tour is None:
        return False
    invited = await _guests(info).load(tour_id)
    mine = next((g for g in invited if g.user_id == who.user_id and g.active), None)
    return domain.may_see(tour, who, mine)


@strawberry.federation.type(keys=["id"], description="A live video tour of a listing.")
class Tour:
    id: strawberry.ID = strawberry.field(description="The tour's id (stable across changes).")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Tour:
        return cls(id=id)

    @strawberry.field(
        description="The tour's video call: who is in it now (participants and guests only)."
    )
    async def meeting(self, info: Info[Context, None]) -> Meeting | None:
        tour_id = parse_id(self.id, "id")
        if not await _visible(info, tour_id):
            return None
        view = await _meetings(info).load(tour_id)
        return Meeting.of(view) if view is not None else None

    @strawberry.field(
        description="Everyone invited to the tour's call, in invitation order (participants and guests only)."
    )
    async def guests(self, info: Info[Context, None]) -> list[TourGuest]:
        tour_id = parse_id(self.id, "id")
        if not await _visible(info, tour_id):
            return []
        return [TourGuest.of(g) for g in await _guests(info).load(tour_id)]

    @strawberry.field(
        description="The tour's recordings, oldest first (participants and guests only)."
    )
    async def recordings(self, info: Info[Context, None]) -> list[Recording]:
        tour_id = parse_id(self.id, "id")
        if not await _visible(info, tour_id):
            return []
        storage = _services(info).storage
        return [Recording.of(r, storage) for r in await _recordings(info).load(tour_id)]
