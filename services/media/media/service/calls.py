"""Media's call use cases: join and leave a tour's call, invite and remove guests, follow
tours and Chime's reports of the call, delete calls left empty (stopping their recording).

Each runs in one unit of work. Chime calls made on the way happen while the tour's meeting
row is locked, so concurrent joins of one tour are decided one after another by PostgreSQL
(one meeting, an exact count of video senders); when anything fails the transaction rolls
back and nothing half-made is kept: a Chime meeting created but not recorded is found
again by its `ClientRequestToken` on the next try.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import BadUserInput, Conflict, NotFound, Principal, Unavailable

from media import store
from media.chime import ChimeMeetings, Gone
from media.clients import IdentityClient
from media.domain import (
    Attendee,
    Guest,
    GuestStatus,
    JoinMode,
    JoinWindow,
    Meeting,
    Tour,
    TourStatus,
    capabilities,
    device_key,
    normalize_email,
    require_host,
    require_joiner,
    require_room_for_guest,
    sends_video,
    user_of,
)
from media.eventbridge import ChimeSignal, Kind
from media.invitations import Invitations
from media.service.recordings import Recordings

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVITABLE = frozenset({TourStatus.REQUESTED, TourStatus.SCHEDULED, TourStatus.IN_PROGRESS})


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    window: JoinWindow = field(default_factory=JoinWindow)
    guest_limit: int = 8
    empty_grace: timedelta = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class JoinInfo:
    """Chime's `Meeting` and `Attendee`, exactly as Chime returned them."""

    meeting: dict[str, Any]
    attendee: dict[str, Any]


class Media:
    def __init__(
        self,
        db: Database,
        chime: ChimeMeetings,
        identity: IdentityClient,
        invitations: Invitations,
        *,
        policy: Policy,
        clock: Callable[[], datetime] = utcnow,
        recordings: Recordings | None = None,
    ) -> None:
        self.recordings = recordings
        self.db = db
        self.chime = chime
        self.identity = identity
        self.invitations = invitations
        self.policy = policy
        self.clock = clock

    # -- following scheduling ------------------------------------------------------------------
    async def follow_tour(self, uow: UnitOfWork, tour: Tour) -> None:
        async with uow:
            await store.follow_tour(uow.session, tour)
            await uow.commit()

    # -- joining and leaving ---------------------------------------------------------------
    async def _tour(self, uow: UnitOfWork, tour_id: uuid.UUID, *, lock: bool = False) -> Tour:
        tour = await store.get_tour(uow.session, tour_id, lock=lock)
        if tour is None:
            raise NotFound("tour not found", field="tourId")
        return tour

    async def _guest_of(self, uow: UnitOfWork, tour: Tour, who: Principal) -> Guest | None:
        """The caller's invitation to the tour, if any. Identity is asked for the caller's
        address only when the tour has invitations not yet tied to an account."""
        invited = await store.active_guests(uow.session, tour.id)
        for guest in invited:
            if guest.user_id == who.user_id:
                return guest
        open_ = [g for g in invited if g.user_id is None]
        if not open_:
            return None
        found = (await self.identity.users([who.user_id])).get(who.user_id)
        if found is None or found.deleted or not found.email:
            return None
        email = normalize_email(found.email)
        return next((g for g in open_ if g.email == email), None)

    async def join(
        self, who: Principal, tour_id: uuid.UUID, mode: JoinMode, device: str | None
    ) -> JoinInfo:
        async with self.db.uow(actor=str(who.user_id)) as uow:
            tour = await self._tour(uow, tour_id)
            guest = (
                None if tour.is_participant(who.user_id) else await self._guest_of(uow, tour, who)
            )
            require_joiner(tour, who, guest)
            tour.require_open(self.clock(), self.policy.window)
            meeting = await store.lock_meeting(uow, tour_id, create=True)
            assert meeting is not None
            attendee = await self._attend(meeting, device_key(who.user_id, device), who, mode)
            if guest is not None and guest.status is GuestStatus.INVITED:
                guest.status, guest.user_id = GuestStatus.JOINED, who.user_id
                await store.save_guest(uow.session, guest)
            await store.save_meeting(uow, meeting)
            await uow.commit()
        assert meeting.chime is not None
        return JoinInfo(meeting=meeting.chime, attendee=attendee.chime)

    async def _create(self, meeting: Meeting) -> None:
        chime = await self.chime.create_meeting(
            tour_id=str(meeting.tour_id), token=meeting.request_token()
        )
        meeting.created(chime, self.clock())

    async def _attend(self, meeting: Meeting, key: str, who: Principal, mode: JoinMode) -> Attendee:
        """The device's attendee in the tour's live meeting: one Chime call when the meeting
        exists (the device's attendee checked, or a new one made); a meeting Chime no longer
        has is made again."""
        fresh = False
        if not meeting.live:
            if meeting.meeting_id is not None:
                meeting.replace(self.clock())
            await self._create(meeting)
            fresh = True
        try:
            return await self._attendee(meeting, key, who, mode)
        except Gone:
            if fresh:
                raise Unavailable("the video service lost the new meeting; try again") from None
        meeting.replace(self.clock())
        await self._create(meeting)
        try:
            return await self._attendee(meeting, key, who, mode)
        except Gone:
            raise Unavailable("the video service lost the new meeting; try again") from None

    async def _attendee(
        self, meeting: Meeting, key: str, who: Principal, mode: JoinMode
    ) -> Attendee:
        assert meeting.meeting_id is not None
        mine = meeting.attendee_for(key)
        others = meeting.video_senders() - (1 if mine is not None and mine.video else 0)
        wanted = capabilities(mode, others)
        if mine is not None:
            if mine.chime.get("Capabilities") == wanted:
                mine.chime = await self.chime.get_attendee(
                    meeting_id=meeting.meeting_id, attendee_id=mine.attendee_id
                )
            else:
                updated = await self.chime.update_capabilities(
                    meeting_id=meeting.meeting_id, attendee_id=mine.attendee_id, capabilities=wanted
                )
                mine.chime = {**mine.chime, **updated}
            mine.video = sends_video(wanted)
            return mine
        chime = await self.chime.create_attendee(
            meeting_id=meeting.meeting_id, external_user_id=key, capabilities=wanted
        )
        attendee = Attendee(
            attendee_id=str(chime["AttendeeId"]),
            meeting_id=meeting.meeting_id,
            device_key=key,
            user_id=who.user_id,
            chime=chime,
            video=sends_video(wanted),
        )
        meeting.attendees.append(attendee)
        return attendee

    async def leave(self, who: Principal, tour_id: uuid.UUID, device: str | None) -> bool:
        """Delete the device's attendee; False when it was not in the tour's call."""
        async with self.db.uow(actor=str(who.user_id)) as uow:
            meeting = await store.lock_meeting(uow, tour_id, create=False)
            mine = meeting.attendee_for(device_key(who.user_id, device)) if meeting else None
            if meeting is None or mine is None or meeting.meeting_id is None:
                return False
            if meeting.live:
                await self.chime.delete_attendee(
                    meeting_id=meeting.meeting_id, attendee_id=mine.attendee_id
                )
            mine.deleted = True
            await store.save_meeting(uow, meeting)
            await uow.commit()
        return True

    # -- guests ------------------------------------------------------------------------------
    async def invite(self, who: Principal, tour_id: uuid.UUID, email: str) -> Guest:
        address = normalize_email(email)
        if len(address) > 254 or not EMAIL.match(address):
            raise BadUserInput("email is not a valid email address", field="email")
        async with self.db.uow(actor=str(who.user_id)) as uow:
            tour = await self._tour(uow, tour_id, lock=True)  # invitations of a tour in turn
            require_host(tour, who)
            if tour.status not in INVITABLE:
                raise Conflict("guests can only be invited to a tour still to take place")
            require_room_for_guest(
                len(await store.active_guests(uow.session, tour_id)), self.policy.guest_limit
            )
            guest = Guest(
                id=uuid.uuid4(),
                tour_id=tour_id,
                email=address,
                status=GuestStatus.INVITED,
                invited_by=who.user_id,
                invited_at=self.clock(),
            )
            try:
                await store.add_guest(uow.session, guest)
            except store.DuplicateGuest:
                raise Conflict("this email is already invited", field="email") from None
            inviter = (await self.identity.users([who.user_id])).get(who.user_id)
            await self.invitations.send(
                to=address,
                tour_id=tour_id,
                inviter=inviter.display_name if inviter and inviter.display_name else "Someone",
            )
            await uow.commit()
        return guest

    async def remove_guest(self, who: Principal, tour_id: uuid.UUID, guest_id: uuid.UUID) -> bool:
        """Withdraw an invitation; a guest in the call is taken out of it."""
        async with self.db.uow(actor=str(who.user_id)) as uow:
            tour = await self._tour(uow, tour_id)
            require_host(tour, who)
            guest = await store.get_guest(uow.session, tour_id, guest_id)
            if guest is None:
                raise NotFound("guest not found", field="guestId")
            if not guest.active:
                return False
            guest.status = GuestStatus.REMOVED
            await store.save_guest(uow.session, guest)
            if guest.user_id is not None and not tour.is_participant(guest.user_id):
                await self._remove_from_call(uow, tour_id, guest.user_id)
            await uow.commit()
        return True

    async def _remove_from_call(
        self, uow: UnitOfWork, tour_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        meeting = await store.lock_meeting(uow, tour_id, create=False)
        if meeting is None or meeting.meeting_id is None:
            return
        for attendee in meeting.attendees:
            if attendee.user_id == user_id and not attendee.deleted:
                if meeting.live:
                    await self.chime.delete_attendee(
                        meeting_id=meeting.meeting_id, attendee_id=attendee.attendee_id
                    )
                attendee.deleted = True
        await store.save_meeting(uow, meeting)

    # -- Chime's reports ----------------------------------------------------------------------
    async def on_chime(self, signal: ChimeSignal) -> int:
        """Apply one Chime event once (its id goes to the inbox with its effect); the
        attendee-seconds it added to its tour."""
        async with self.db.uow() as uow:
            if not await store.record_chime_event(uow.session, signal.id, signal.kind.value):
                return 0
            meeting = await store.lock_meeting_of(uow, signal.meeting_id)
            if meeting is None:
                await uow.commit()
                return 0
            before = meeting.attendee_seconds
            # A capture pipeline's bot joins and leaves too; it is not a person.
            person = signal.external_user_id is None or user_of(signal.external_user_id) is not None
            match signal.kind:
                case Kind.MEETING_STARTED:
                    meeting.chime_started(signal.meeting_id, signal.at)
                case Kind.MEETING_ENDED:
                    if self.recordings is not None and meeting.meeting_id == signal.meeting_id:
                        # Chime stopped the capture with the meeting: join what it wrote.
                        await self.recordings.capture_over(uow, meeting.tour_id)
                    meeting.chime_ended(signal.meeting_id, signal.at)
                case Kind.ATTENDEE_JOINED if signal.attendee_id and person:
                    meeting.chime_joined(signal.meeting_id, signal.attendee_id, signal.at)
                case Kind.ATTENDEE_LEFT | Kind.ATTENDEE_DROPPED | Kind.ATTENDEE_DELETED if (
                    signal.attendee_id and person
                ):
                    meeting.chime_left(signal.meeting_id, signal.attendee_id, signal.at)
            await store.save_meeting(uow, meeting)
            await uow.commit()
        return meeting.attendee_seconds - before

    async def delete_empty(self, limit: int = 20) -> int:
        """Delete the Chime meetings nobody has been in for the grace period; how many."""
        now = self.clock()
        deleted = 0
        async with self.db.uow() as uow:
            for meeting in await store.lock_empty(uow, now - self.policy.empty_grace, limit):
                if not meeting.due_for_deletion(now, self.policy.empty_grace):
                    continue
                assert meeting.meeting_id is not None
                if self.recordings is not None:
                    await self.recordings.capture_over(uow, meeting.tour_id)
                await self.chime.delete_meeting(meeting_id=meeting.meeting_id)
                meeting.deleting()
                await store.save_meeting(uow, meeting)
                deleted += 1
            await uow.commit()
        return deleted
