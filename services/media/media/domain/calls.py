"""The call: who may join a tour's call and when, the meeting a tour holds in Chime, its
attendees (one per device session), its guests, and what the call announces.

Pure Python (stdlib and servicekit.vocabulary only). Chime's own records (`Meeting`,
`Attendee`) travel through as opaque mappings: the clients need them exactly as Chime gave
them, so the domain keeps them and reads only the ids it needs.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from servicekit.vocabulary import Conflict, Forbidden, Principal

# Chime's own limit on video publishers in one meeting.
MAX_VIDEO_SENDERS = 25
# The external user id Chime gives a media capture pipeline's bot.
BOT_PREFIX = "aws:MediaPipeline-"


class TourStatus(StrEnum):
    REQUESTED = "REQUESTED"
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    DECLINED = "DECLINED"
    NO_SHOW = "NO_SHOW"


class JoinMode(StrEnum):
    """How much a device sends and receives: the data-saver joins are for weak connections."""

    FULL = "FULL"
    RECEIVE_VIDEO = "RECEIVE_VIDEO"
    AUDIO_ONLY = "AUDIO_ONLY"


class GuestStatus(StrEnum):
    INVITED = "INVITED"
    JOINED = "JOINED"
    REMOVED = "REMOVED"


@dataclass(frozen=True, slots=True)
class JoinWindow:
    """When a SCHEDULED tour's call is open: from `before` its start to `after` its end."""

    before: timedelta = timedelta(minutes=10)
    after: timedelta = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Tour:
    """Media's projection of a scheduling tour: what a join needs, kept from its events."""

    id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    realtor_id: uuid.UUID
    status: TourStatus
    starts_at: datetime
    ends_at: datetime
    sequence: int

    def is_participant(self, user_id: uuid.UUID) -> bool:
        return user_id in (self.buyer_id, self.realtor_id)

    def require_open(self, now: datetime, window: JoinWindow) -> None:
        """CONFLICT (with a `reason`) unless the tour's call may be joined at `now`."""
        if self.status is TourStatus.IN_PROGRESS:
            return
        if self.status is not TourStatus.SCHEDULED:
            raise Conflict(
                f"the tour is {self.status.value.replace('_', ' ').lower()}; its call is closed",
                reason="TOUR_NOT_JOINABLE",
                status=self.status.value,
            )
        opens, closes = self.starts_at - window.before, self.ends_at + window.after
        if now < opens:
            raise Conflict(
                f"the tour's call opens at {opens.isoformat()}",
                reason="TOO_EARLY",
                opensAt=opens.isoformat(),
            )
        if now > closes:
            raise Conflict(
                f"the tour's call closed at {closes.isoformat()}",
                reason="TOO_LATE",
                closedAt=closes.isoformat(),
            )


def normalize_email(value: str) -> str:
    return value.strip().lower()


@dataclass(slots=True)
class Guest:
    """Someone a participant invited by email; they join once signed in with that email."""

    id: uuid.UUID
    tour_id: uuid.UUID
    email: str
    status: GuestStatus
    invited_by: uuid.UUID
    invited_at: datetime
    user_id: uuid.UUID | None = None

    @property
    def active(self) -> bool:
        return self.status is not GuestStatus.REMOVED


def require_host(tour: Tour, who: Principal) -> None:
    """Inviting and removing guests: the buyer or the realtor (an admin may too)."""
    if not (who.is_admin or tour.is_participant(who.user_id)):
        raise Forbidden("only the tour's buyer or realtor may manage its guests")


def require_room_for_guest(active: int, limit: int) -> None:
    if active >= limit:
        raise Conflict(f"a tour may have at most {limit} guests", reason="GUEST_LIMIT")


def may_see(tour: Tour, who: Principal, guest: Guest | None) -> bool:
    """`Tour.meeting`, `Tour.guests`: participants, their active guests, admins."""
    return who.is_admin or tour.is_participant(who.user_id) or (guest is not None and guest.active)


def require_joiner(tour: Tour, who: Principal, guest: Guest | None) -> None:
    """Only a party to the tour joins its call: its buyer, realtor, or an invited guest.
    An admin is never a party, so an admin does not join."""
    if tour.is_participant(who.user_id):
        return
    if guest is not None and guest.active:
        return
    raise Forbidden("only the tour's participants and invited guests may join its call")


def device_key(user_id: uuid.UUID, device: str | None) -> str:
    """Chime's `ExternalUserId` for one device session of a user: the user id and a short
    digest of the device id, so any device string fits Chime's 64-character pattern and the
    user is read back from the events."""
    digest = hashlib.sha256((device or "default").encode()).hexdigest()[:16]
    return f"{user_id}#{digest}"


def user_of(external_user_id: str) -> uuid.UUID | None:
    """The user behind an attendee's external id; None for a bot or a foreign id."""
    if external_user_id.startswith(BOT_PREFIX):
        return None
    try:
        return uuid.UUID(external_user_id.split("#", 1)[0])
    except ValueError:
        return None


def capabilities(mode: JoinMode, video_senders: int) -> dict[str, str]:
    """Attendee capabilities for a join: data-saver modes send no video; past Chime's 25
    video publishers a newcomer receives video only."""
    if mode is JoinMode.AUDIO_ONLY:
        return {"Audio": "SendReceive", "Video": "None", "Content": "None"}
    if mode is JoinMode.RECEIVE_VIDEO or video_senders >= MAX_VIDEO_SENDERS:
        return {"Audio": "SendReceive", "Video": "Receive", "Content": "Receive"}
    return {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}


def sends_video(caps: Mapping[str, str]) -> bool:
    return caps.get("Video", "SendReceive") in ("SendReceive", "Send")


# -- trusting an attendee without asking Chime ------------------------------------------------
# Chime ends a meeting 24 hours after it was made, and five minutes after it was made with
# nobody joining or after its last attendee left; an attendee lives as long as its meeting
# unless deleted.
CHIME_LONGEST_MEETING = timedelta(hours=24)
CHIME_EMPTY_END = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Trust:
    """How close to Chime's own ends of a meeting a stored attendee stops being taken as
    still there: `age_margin` before the 24 hours, `quiet` of the five empty minutes
    (less than five, for clocks and events a little behind)."""

    age_margin: timedelta = timedelta(minutes=30)
    quiet: timedelta = timedelta(minutes=4)


def attendee_still_in_chime(
    now: datetime,
    *,
    live: bool,
    attendee_deleted: bool,
    created_at: datetime | None,
    someone_present: bool,
    empty_since: datetime | None,
    trust: Trust = Trust(),
) -> bool:
    """Whether a device's stored attendee is certainly still in Chime's meeting, so that
    joining again needs no `GetAttendee`: media did not delete the meeting (`live`) or the
    attendee, the meeting is well short of Chime's 24 hours, and it cannot have hit Chime's
    five-minute empty end: someone is in it as far as the Chime events consumed tell, or it
    was made, or last left empty, less than `trust.quiet` ago. Anything Chime ended or
    deleted otherwise is reported by its events, which make `live` or the attendee's row
    say so; until then, and whenever this is False, the caller asks Chime."""
    if not live or attendee_deleted or created_at is None:
        return False
    if now - created_at >= CHIME_LONGEST_MEETING - trust.age_margin:
        return False
    if someone_present:
        return True
    quiet_since = max(created_at, empty_since) if empty_since is not None else created_at
    return now - quiet_since < trust.quiet


# -- the meeting and what it announces ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MeetingStarted:
    meeting_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AttendeeJoined:
    meeting_id: str
    attendee_id: str
    user_id: uuid.UUID
    first: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class AttendeeLeft:
    meeting_id: str
    attendee_id: str
    user_id: uuid.UUID
    at: datetime
    seconds: int
    last: bool


@dataclass(frozen=True, slots=True)
class MeetingEnded:
    meeting_id: str
    at: datetime
    duration_seconds: int
    attendee_minutes: int


DomainEvent = MeetingStarted | AttendeeJoined | AttendeeLeft | MeetingEnded


@dataclass(slots=True)
class Attendee:
    """One device session of a person in the tour's current Chime meeting."""

    attendee_id: str
    meeting_id: str
    device_key: str
    user_id: uuid.UUID
    chime: dict[str, Any]
    video: bool
    present_since: datetime | None = None
    last_seen: datetime | None = None
    deleted: bool = False

    @property
    def present(self) -> bool:
        return self.present_since is not None


class MeetingState(StrEnum):
    NONE = "NONE"  # no Chime meeting yet, or the last one ended
    LIVE = "LIVE"  # created in Chime; joins go there
    ENDING = "ENDING"  # deleted by us, Chime's MeetingEnded not seen yet


@dataclass(slots=True)
class Meeting:
    """A tour's call: at most one Chime meeting at a time, made again when one ends.

    `generation` counts the Chime meetings the tour has had; it makes each creation's
    `ClientRequestToken`, so retrying a creation that was not recorded returns the same
    Chime meeting instead of a second one.
    """

    tour_id: uuid.UUID
    generation: int = 0
    state: MeetingState = MeetingState.NONE
    meeting_id: str | None = None
    chime: dict[str, Any] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    someone_joined: bool = False
    empty_since: datetime | None = None
    attendee_seconds: int = 0
    attendees: list[Attendee] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.state is MeetingState.LIVE and self.chime is not None

    @property
    def attendee_minutes(self) -> int:
        return math.ceil(self.attendee_seconds / 60)

    def request_token(self) -> str:
        return f"{self.tour_id.hex}-{self.generation}"

    def replace(self, at: datetime) -> str:
        """Chime no longer knows the tour's meeting (it ended unseen: nobody there, 24 hours,
        deleted): close it as ended at `at` and return the token of the one to create."""
        if self.meeting_id is not None:
            self.chime_ended(self.meeting_id, at)
        self.generation += 1
        self.state = MeetingState.NONE
        self.meeting_id = None
        self.chime = None
        self.started_at = None
        self.someone_joined = False
        self.empty_since = None
        self.attendees = []
        return self.request_token()

    def created(self, chime: dict[str, Any], at: datetime) -> None:
        self.state = MeetingState.LIVE
        self.chime = chime
        self.meeting_id = str(chime["MeetingId"])
        self.created_at = at

    def attendee_for(self, key: str) -> Attendee | None:
        for attendee in self.attendees:
            if attendee.device_key == key and not attendee.deleted:
                return attendee
        return None

    def by_attendee_id(self, attendee_id: str) -> Attendee | None:
        for attendee in self.attendees:
            if attendee.attendee_id == attendee_id:
                return attendee
        return None

    def trusts(self, attendee: Attendee, now: datetime, trust: Trust) -> bool:
        """`attendee_still_in_chime` for one of this meeting's attendees."""
        return attendee_still_in_chime(
            now,
            live=self.live and attendee.meeting_id == self.meeting_id,
            attendee_deleted=attendee.deleted,
            created_at=self.created_at,
            someone_present=any(not a.deleted for a in self.present()),
            empty_since=self.empty_since,
            trust=trust,
        )

    def video_senders(self) -> int:
        return sum(1 for a in self.attendees if a.video and not a.deleted)

    def present(self) -> list[Attendee]:
        return [a for a in self.attendees if a.present]

    # -- what Chime reports -----------------------------------------------------------------
    def _current(self, meeting_id: str) -> bool:
        return self.meeting_id == meeting_id and self.state is not MeetingState.NONE

    def chime_started(self, meeting_id: str, at: datetime) -> None:
        if not self._current(meeting_id) or self.started_at is not None:
            return
        self.started_at = at
        self.events.append(MeetingStarted(meeting_id, at))

    def chime_joined(self, meeting_id: str, attendee_id: str, at: datetime) -> None:
        attendee = self.by_attendee_id(attendee_id)
        if not self._current(meeting_id) or attendee is None or attendee.present:
            return
        if attendee.last_seen is not None and at < attendee.last_seen:
            return  # an older report delivered late
        if self.started_at is None:
            self.chime_started(meeting_id, at)
        first = not self.someone_joined
        self.someone_joined = True
        self.empty_since = None
        attendee.present_since = attendee.last_seen = at
        self.events.append(AttendeeJoined(meeting_id, attendee_id, attendee.user_id, first, at))

    def chime_left(self, meeting_id: str, attendee_id: str, at: datetime) -> None:
        attendee = self.by_attendee_id(attendee_id)
        if not self._current(meeting_id) or attendee is None:
            return
        if attendee.present_since is None:
            # Left before its join was reported: the late join is then ignored.
            attendee.last_seen = max(attendee.last_seen or at, at)
            return
        self._close(attendee, at)
        if not self.present():
            self.empty_since = at

    def chime_deleted(self, meeting_id: str, attendee_id: str, at: datetime) -> None:
        """Chime deleted the attendee (whoever asked it to): it left, and its device's next
        join makes it a new one instead of trusting the old."""
        self.chime_left(meeting_id, attendee_id, at)
        attendee = self.by_attendee_id(attendee_id)
        if self._current(meeting_id) and attendee is not None:
            attendee.deleted = True

    def _close(self, attendee: Attendee, at: datetime) -> None:
        since = attendee.present_since
        assert since is not None and self.meeting_id is not None
        seconds = max(0, int((at - since).total_seconds()))
        self.attendee_seconds += seconds
        attendee.present_since = None
        attendee.last_seen = at
        last = not self.present()
        self.events.append(
            AttendeeLeft(self.meeting_id, attendee.attendee_id, attendee.user_id, at, seconds, last)
        )

    def chime_ended(self, meeting_id: str, at: datetime) -> None:
        """The Chime meeting is over: whoever was still in it left, and the tour's next join
        makes a new one."""
        if not self._current(meeting_id):
            return
        for attendee in self.present():
            self._close(attendee, at)
        if self.started_at is not None:
            # A meeting nobody joined ended as nothing: no tour took place in it.
            duration = max(0, int((at - self.started_at).total_seconds()))
            self.events.append(MeetingEnded(meeting_id, at, duration, self.attendee_minutes))
        self.state = MeetingState.NONE
        self.chime = None
        self.empty_since = None

    def due_for_deletion(self, now: datetime, grace: timedelta) -> bool:
        """Nobody has been in the call for `grace`: Chime would keep it alive for a capture
        bot, and every minute it lives is billed."""
        return self.live and self.empty_since is not None and now - self.empty_since >= grace

    def deleting(self) -> None:
        self.state = MeetingState.ENDING
        self.empty_since = None
