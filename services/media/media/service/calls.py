"""Media's call use cases: join and leave a tour's call, invite and remove guests, follow
tours and Chime's reports of the call, delete calls left empty (stopping their recording).

Each runs in one unit of work. Chime calls made on the way happen while the tour's meeting
row is locked, so concurrent joins of one tour are decided one after another by PostgreSQL
(one meeting, an exact count of video senders); when anything fails the transaction rolls
back and nothing half-made is kept: a Chime meeting created but not recorded is found
again by its `ClientRequestToken` on the next try.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import (
    BadUserInput,
    Conflict,
    NotFound,
    Principal,
    ServiceError,
    Unavailable,
)

from media import store
from media.chime import WITH_MEETING, ChimeMeetings, Gone
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
    Trust,
    attendee_still_in_chime,
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
    trust: Trust = field(default_factory=Trust)


@dataclass(frozen=True, slots=True)
class JoinInfo:
    """Chime's `Meeting` and `Attendee`, exactly as Chime returned them."""

    meeting: dict[str, Any]
    attendee: dict[str, Any]


MAX_BATCH = 100  # attendees one BatchCreateAttendee takes
REMEMBERED_DEVICES = 50_000


@dataclass(slots=True)
class _Ask:
    """One caller's join, waiting to be answered with its tour's batch."""

    who: Principal
    mode: JoinMode
    key: str  # the device's ExternalUserId
    answer: asyncio.Future[JoinInfo]
    # The device's attendee Chime just said it no longer has (`GetAttendee` on the way in).
    gone: str | None = None

    def succeed(self, info: JoinInfo) -> None:
        if not self.answer.done():
            self.answer.set_result(info)

    def fail(self, error: BaseException) -> None:
        if not self.answer.done():
            self.answer.set_exception(error)


def _first_per_device(asks: list[_Ask]) -> list[_Ask]:
    """The first ask of each device, in the order the joins came (a device asking twice in
    one batch gets one attendee, and both asks its answer)."""
    first: dict[str, _Ask] = {}
    for ask in asks:
        first.setdefault(ask.key, ask)
    return list(first.values())


def _as_error(outcome: BaseException) -> Exception:
    if isinstance(outcome, Exception):
        return outcome
    raise outcome  # cancellation and the like are not an answer


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
        # Joins waiting per tour, and the tours whose joins are being answered.
        self._waiting: dict[uuid.UUID, list[_Ask]] = {}
        self._joining: set[uuid.UUID] = set()
        self._drains: set[asyncio.Task[None]] = set()
        # Devices that joined through this process, newest last.
        self._joined: OrderedDict[tuple[uuid.UUID, str], None] = OrderedDict()

    # -- following scheduling ------------------------------------------------------------------
    async def follow_tour(self, uow: UnitOfWork, tour: Tour) -> None:
        async with uow:
            await store.follow_tour(uow.session, tour)
            await uow.commit()

    # -- joining and leaving ---------------------------------------------------------------
    async def _tour(self, uow: UnitOfWork, tour_id: uuid.UUID, *, lock: bool = False) -> Tour:
        tour = (
            await store.get_tour(uow.session, tour_id, lock=True)
            if lock
            else await store.tour_of(uow, tour_id)
        )
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
        """Join the tour's call from a device. Joins of one tour that arrive together are
        answered together: one transaction; when there is no live meeting, one
        `CreateMeetingWithAttendees` makes it with the batch's devices (up to twenty), and
        one `BatchCreateAttendee` adds the devices new to it beyond those."""
        key = device_key(who.user_id, device)
        gone: str | None = None
        if (tour_id, key) in self._joined:  # a device this process saw join: likely again
            again, gone = await self._again(who, tour_id, mode, key)
            if again is not None:
                return again
        ask = _Ask(who, mode, key, asyncio.get_running_loop().create_future(), gone)
        self._waiting.setdefault(tour_id, []).append(ask)
        if tour_id not in self._joining:
            self._joining.add(tour_id)
            task = asyncio.create_task(self._drain(tour_id))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        info = await ask.answer
        self._remember(tour_id, key)
        return info

    def _remember(self, tour_id: uuid.UUID, key: str) -> None:
        """Note a device that joined (the newest `REMEMBERED_DEVICES`), so that its next
        join tries the one-read path first and a new device's does not."""
        self._joined[(tour_id, key)] = None
        self._joined.move_to_end((tour_id, key))
        while len(self._joined) > REMEMBERED_DEVICES:
            self._joined.popitem(last=False)

    async def _again(
        self, who: Principal, tour_id: uuid.UUID, mode: JoinMode, key: str
    ) -> tuple[JoinInfo | None, str | None]:
        """A participant's device already in the live call, joining as before: one read,
        nothing written, and no Chime call while the attendee is certainly still there
        (`attendee_still_in_chime`), else one `GetAttendee`. No answer: take the locked path
        (a new device, a changed mode, a guest, a meeting Chime no longer has), told which
        attendee Chime said is gone, so that it is not asked about again."""
        seen = await store.device_in_call(self.db, tour_id, key)
        if seen is None or not seen.tour.is_participant(who.user_id):
            return None, None
        now = self.clock()
        seen.tour.require_open(now, self.policy.window)
        wanted = capabilities(mode, seen.senders - (1 if seen.video else 0))
        if seen.attendee.get("Capabilities") != wanted:
            return None, None
        if attendee_still_in_chime(
            now,
            live=True,
            attendee_deleted=False,
            created_at=seen.created_at,
            someone_present=seen.someone_present,
            empty_since=seen.empty_since,
            trust=self.policy.trust,
        ):
            return JoinInfo(meeting=seen.meeting, attendee=seen.attendee), None
        try:
            attendee = await self.chime.get_attendee(
                meeting_id=seen.meeting_id, attendee_id=seen.attendee_id
            )
        except Gone:
            return None, seen.attendee_id
        return JoinInfo(meeting=seen.meeting, attendee=attendee), None

    async def _drain(self, tour_id: uuid.UUID) -> None:
        """Answer the tour's waiting joins, a batch at a time, until none is left."""
        try:
            while self._waiting.get(tour_id):
                batch = self._take(tour_id, [])
                try:
                    await self._join_batch(tour_id, batch)
                except Exception as exc:  # the batch as a whole failed: each caller is told
                    for ask in batch:
                        ask.fail(exc)
        finally:
            self._joining.discard(tour_id)
            for ask in self._waiting.pop(tour_id, []):  # only when stopped mid-way
                ask.fail(Unavailable("the service is stopping; try again"))

    def _take(self, tour_id: uuid.UUID, batch: list[_Ask]) -> list[_Ask]:
        """Move waiting joins into the batch, up to what one `BatchCreateAttendee` takes."""
        waiting = self._waiting.get(tour_id, [])
        room = MAX_BATCH - len(batch)
        batch.extend(waiting[:room])
        self._waiting[tour_id] = waiting[room:]
        return batch

    async def _admit(
        self, uow: UnitOfWork, tour: Tour, asks: list[_Ask]
    ) -> list[tuple[_Ask, Guest | None]]:
        """The asks allowed to join now; each refused one is answered with its error."""
        admitted: list[tuple[_Ask, Guest | None]] = []
        now = self.clock()
        for ask in asks:
            try:
                guest = (
                    None
                    if tour.is_participant(ask.who.user_id)
                    else await self._guest_of(uow, tour, ask.who)
                )
                require_joiner(tour, ask.who, guest)
                tour.require_open(now, self.policy.window)
            except ServiceError as refused:
                ask.fail(refused)
                continue
            admitted.append((ask, guest))
        return admitted

    async def _join_batch(self, tour_id: uuid.UUID, batch: list[_Ask]) -> None:
        """One transaction for the batch. Joins still arriving while the meeting row is
        locked, or while Chime makes the meeting, are taken into it (`batch` grows)."""
        async with self.db.uow(actor=str(batch[0].who.user_id)) as uow:
            held = await store.tour_and_meeting(uow, tour_id)
            if held is None:
                raise NotFound("tour not found", field="tourId")
            tour, meeting = held
            # Joins that came while the row was locked ride on the call that makes the
            # meeting too.
            admitted = await self._admit(uow, tour, list(self._take(tour_id, batch)))
            made: dict[str, Attendee | Exception] | None = None
            if not meeting.live:
                if not admitted:
                    return
                if meeting.meeting_id is not None:
                    meeting.replace(self.clock())
                made = await self._create(meeting, [ask for ask, _ in admitted])
            more = len(batch)
            admitted += await self._admit(uow, tour, self._take(tour_id, batch)[more:])
            if not admitted:
                return
            asks = [ask for ask, _ in admitted]
            found = await self._attend_all(meeting, asks, made=made)
            if all(isinstance(found[ask.key], Exception) for ask in asks):
                # Nobody got in: nothing is kept (the meeting Chime made is found again by
                # its ClientRequestToken on the next join).
                for ask in asks:
                    ask.fail(cast(Exception, found[ask.key]))
                raise cast(Exception, found[asks[0].key])
            for ask, guest in admitted:
                joined = not isinstance(found[ask.key], Exception)
                if joined and guest is not None and guest.status is GuestStatus.INVITED:
                    guest.status, guest.user_id = GuestStatus.JOINED, ask.who.user_id
                    await store.save_guest(uow.session, guest)
            await store.save_meeting(uow, meeting)
            await uow.commit()
        assert meeting.chime is not None
        for ask in asks:
            outcome = found[ask.key]
            if isinstance(outcome, Exception):
                ask.fail(outcome)
            else:
                ask.succeed(JoinInfo(meeting=meeting.chime, attendee=outcome.chime))

    async def _create(self, meeting: Meeting, asks: list[_Ask]) -> dict[str, Attendee | Exception]:
        """Make the tour's Chime meeting with the batch's first devices in one
        `CreateMeetingWithAttendees` (the first ask of each device, at most `WITH_MEETING`,
        video senders counted in the order the joins came) and record their attendees on it.
        The result holds only the devices Chime answered for: one it left out (a repeated
        token returns only the attendees made before) is still to be added."""
        senders = meeting.video_senders()
        wanted: list[tuple[_Ask, dict[str, str]]] = []
        for ask in _first_per_device(asks)[:WITH_MEETING]:
            caps = capabilities(ask.mode, senders)
            senders += 1 if sends_video(caps) else 0
            wanted.append((ask, caps))
        chime, records = await self.chime.create_meeting_with_attendees(
            tour_id=str(meeting.tour_id),
            token=meeting.request_token(),
            attendees=[(ask.key, caps) for ask, caps in wanted],
        )
        meeting.created(chime, self.clock())
        made = self._record(meeting, wanted, records)
        for key, outcome in made.items():
            if isinstance(outcome, Gone):  # not for a meeting just made: Chime is failing
                made[key] = Unavailable("the video service lost the new meeting; try again")
        return made

    async def _attend_all(
        self, meeting: Meeting, asks: list[_Ask], *, made: dict[str, Attendee | Exception] | None
    ) -> dict[str, Attendee | Exception]:
        """Each device's attendee in the tour's live meeting, or the error Chime gave for
        it. `made`: the devices the meeting was just made with (None when it was live
        already); the others are added to it. A meeting Chime no longer has is made again
        with the batch's devices, and the rest join the new one."""
        try:
            return await self._attend_rest(meeting, asks, made or {})
        except Gone:
            if made is not None:
                raise Unavailable("the video service lost the new meeting; try again") from None
        meeting.replace(self.clock())
        made = await self._create(meeting, asks)
        try:
            return await self._attend_rest(meeting, asks, made)
        except Gone:
            raise Unavailable("the video service lost the new meeting; try again") from None

    async def _attend_rest(
        self, meeting: Meeting, asks: list[_Ask], made: dict[str, Attendee | Exception]
    ) -> dict[str, Attendee | Exception]:
        """`made`, with the attendees of the devices not in it."""
        rest = [ask for ask in asks if ask.key not in made]
        if not rest:
            return dict(made)
        return {**made, **await self._attendees(meeting, rest)}

    async def _attendees(
        self, meeting: Meeting, asks: list[_Ask]
    ) -> dict[str, Attendee | Exception]:
        """A device seen before: its attendee checked (`GetAttendee`), or its capabilities
        changed; new devices: one `CreateAttendee`, or one `BatchCreateAttendee` for
        several. Video senders are counted in the order the joins came. `Gone` when Chime
        no longer has the meeting."""
        assert meeting.meeting_id is not None
        meeting_id = meeting.meeting_id
        senders = meeting.video_senders()
        found: dict[str, Attendee | Exception] = {}
        checks: list[tuple[Attendee, dict[str, str], bool]] = []
        new: list[tuple[_Ask, dict[str, str]]] = []
        for ask in _first_per_device(asks):
            mine = meeting.attendee_for(ask.key)
            if mine is None:
                wanted = capabilities(ask.mode, senders)
                new.append((ask, wanted))
            else:
                wanted = capabilities(ask.mode, senders - (1 if mine.video else 0))
                senders -= 1 if mine.video else 0
                checks.append((mine, wanted, ask.gone == mine.attendee_id))
            senders += 1 if sends_video(wanted) else 0
        outcomes = await asyncio.gather(
            *(self._check(meeting, mine, wanted, gone) for mine, wanted, gone in checks),
            self._add(meeting_id, new),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, Gone):
                raise outcome
        for (mine, wanted, _), outcome in zip(checks, outcomes, strict=False):
            if isinstance(outcome, BaseException):
                found[mine.device_key] = _as_error(outcome)
            else:
                mine.video = sends_video(wanted)
                found[mine.device_key] = mine
        added = outcomes[-1]
        if isinstance(added, BaseException):
            for ask, _ in new:
                found[ask.key] = _as_error(added)
            return found
        assert isinstance(added, dict)
        recorded = self._record(meeting, new, added)
        for ask, _ in new:
            made = recorded.get(ask.key)
            if isinstance(made, Gone):
                raise made
            found[ask.key] = made or Unavailable("the video service made no attendee")
        return found

    @staticmethod
    def _record(
        meeting: Meeting,
        wanted: list[tuple[_Ask, dict[str, str]]],
        records: dict[str, dict[str, Any] | Exception],
    ) -> dict[str, Attendee | Exception]:
        """The attendees Chime made for the devices `wanted`, recorded on the meeting, or
        the error Chime gave for a device; a device Chime did not answer for is absent."""
        assert meeting.meeting_id is not None
        found: dict[str, Attendee | Exception] = {}
        for ask, caps in wanted:
            record = records.get(ask.key)
            if record is None or isinstance(record, Exception):
                if record is not None:
                    found[ask.key] = record
                continue
            attendee = Attendee(
                attendee_id=str(record["AttendeeId"]),
                meeting_id=meeting.meeting_id,
                device_key=ask.key,
                user_id=ask.who.user_id,
                chime=record,
                video=sends_video(caps),
            )
            meeting.attendees.append(attendee)
            found[ask.key] = attendee
        return found

    async def _check(
        self, meeting: Meeting, mine: Attendee, wanted: dict[str, str], gone: bool
    ) -> None:
        """The device's attendee, still in Chime's meeting, with the capabilities wanted;
        not asked about while the meeting's state proves Chime still has it, nor when Chime
        has just said it is gone (`gone`: as Chime's `NotFound`)."""
        assert meeting.meeting_id is not None
        meeting_id = meeting.meeting_id
        if gone:
            raise Gone("NotFoundException")
        if mine.chime.get("Capabilities") == wanted:
            if meeting.trusts(mine, self.clock(), self.policy.trust):
                return
            mine.chime = await self.chime.get_attendee(
                meeting_id=meeting_id, attendee_id=mine.attendee_id
            )
        else:
            updated = await self.chime.update_capabilities(
                meeting_id=meeting_id, attendee_id=mine.attendee_id, capabilities=wanted
            )
            mine.chime = {**mine.chime, **updated}

    async def _add(
        self, meeting_id: str, new: list[tuple[_Ask, dict[str, str]]]
    ) -> dict[str, dict[str, Any] | Exception]:
        if not new:
            return {}
        if len(new) == 1:
            ask, wanted = new[0]
            record = await self.chime.create_attendee(
                meeting_id=meeting_id, external_user_id=ask.key, capabilities=wanted
            )
            return {ask.key: record}
        return await self.chime.batch_create_attendees(
            meeting_id=meeting_id, attendees=[(ask.key, wanted) for ask, wanted in new]
        )

    async def leave(self, who: Principal, tour_id: uuid.UUID, device: str | None) -> bool:
        """Delete the device's attendee; False when it was not in the tour's call."""
        async with self.db.uow(actor=str(who.user_id)) as uow:
            meeting = await store.lock_meeting(uow, tour_id)
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
        meeting = await store.lock_meeting(uow, tour_id)
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
            meeting = await store.note_event_and_lock_meeting(
                uow, signal.id, signal.kind.value, signal.meeting_id
            )
            if meeting is None:  # handled before, or no tour's meeting: nothing to apply
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
                case Kind.ATTENDEE_LEFT | Kind.ATTENDEE_DROPPED if signal.attendee_id and person:
                    meeting.chime_left(signal.meeting_id, signal.attendee_id, signal.at)
                case Kind.ATTENDEE_DELETED if signal.attendee_id and person:
                    meeting.chime_deleted(signal.meeting_id, signal.attendee_id, signal.at)
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
