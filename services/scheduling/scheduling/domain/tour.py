"""The tour aggregate: its state machine, who may move or see it, and what it records.

A `Tour` enforces its own rules and records each change twice: as a `Transition` (the
history shown to participants) and as a `TourEvent` (the fact announced to other services).
Pure Python: the standard library and `servicekit.vocabulary` only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from servicekit.vocabulary import BadUserInput, Forbidden, Principal

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 240
MAX_NOTE_LENGTH = 2000
MAX_REASON_LENGTH = 500
# A realtor may open the tour this early before its start.
START_EARLY = timedelta(minutes=15)


class TourStatus(StrEnum):
    REQUESTED = "REQUESTED"
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    DECLINED = "DECLINED"
    NO_SHOW = "NO_SHOW"


# Tours that hold a place in the calendars (the exclusion constraints cover exactly these).
LIVE_STATUSES = frozenset({TourStatus.REQUESTED, TourStatus.SCHEDULED, TourStatus.IN_PROGRESS})
ENDED_STATUSES = frozenset(set(TourStatus) - LIVE_STATUSES)


class Verb(StrEnum):
    """What happened to a tour; also the last part of the event subject."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    STARTED = "started"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts on a tour: a user (possibly an admin), or the system (`user_id` None)."""

    user_id: uuid.UUID | None
    admin: bool = False

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None)

    @classmethod
    def of(cls, who: Principal) -> Actor:
        return cls(user_id=who.user_id, admin=who.is_admin)

    @property
    def is_system(self) -> bool:
        return self.user_id is None


@dataclass(frozen=True, slots=True)
class Transition:
    from_status: TourStatus | None
    to_status: TourStatus
    at: datetime
    by: uuid.UUID | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class TourEvent:
    verb: Verb
    from_status: TourStatus | None
    to_status: TourStatus
    at: datetime
    actor_id: uuid.UUID | None
    reason: str | None = None
    previous_starts_at: datetime | None = None


def _clean_text(value: str | None, *, name: str, limit: int, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise BadUserInput(f"{name} must not be empty", field=name)
        return None
    if len(text) > limit:
        raise BadUserInput(f"{name} is longer than {limit} characters", field=name)
    return text


def check_duration(minutes: int) -> timedelta:
    if not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES:
        raise BadUserInput(
            f"durationMinutes must be between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES}",
            field="durationMinutes",
        )
    return timedelta(minutes=minutes)


def check_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadUserInput(f"{name} must carry a UTC offset", field=name)
    return value


@dataclass
class Tour:
    """A tour of one listing by one buyer with the listing's realtor."""

    id: uuid.UUID
    listing_id: uuid.UUID
    buyer_id: uuid.UUID
    realtor_id: uuid.UUID
    status: TourStatus
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    buffer_minutes: int
    created_at: datetime
    updated_at: datetime
    note: str | None = None
    status_reason: str | None = None
    sequence: int = 0
    listing_title: str = ""
    location: str = ""
    transitions: list[Transition] = field(default_factory=list, repr=False)
    events: list[TourEvent] = field(default_factory=list, repr=False)

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def request(
        cls,
        *,
        listing_id: uuid.UUID,
        buyer_id: uuid.UUID,
        realtor_id: uuid.UUID,
        starts_at: datetime,
        duration_minutes: int,
        time_zone: str,
        buffer_minutes: int,
        now: datetime,
        note: str | None = None,
        listing_title: str = "",
        location: str = "",
        tour_id: uuid.UUID | None = None,
    ) -> Tour:
        """A buyer asks for a tour; it waits for the realtor's confirmation."""
        length = check_duration(duration_minutes)
        check_aware(starts_at, "startsAt")
        if starts_at <= now:
            raise BadUserInput("startsAt must be in the future", field="startsAt")
        if buyer_id == realtor_id:
            raise BadUserInput("a realtor cannot book a tour of their own listing")
        tour = cls(
            id=tour_id or uuid.uuid4(),
            listing_id=listing_id,
            buyer_id=buyer_id,
            realtor_id=realtor_id,
            status=TourStatus.REQUESTED,
            starts_at=starts_at,
            ends_at=starts_at + length,
            time_zone=time_zone,
            buffer_minutes=buffer_minutes,
            created_at=now,
            updated_at=now,
            note=_clean_text(note, name="note", limit=MAX_NOTE_LENGTH, required=False),
            listing_title=listing_title,
            location=location,
        )
        tour._record(Verb.REQUESTED, None, TourStatus.REQUESTED, now, buyer_id, None)
        return tour

    # -- who ---------------------------------------------------------------------------------
    def is_participant(self, user_id: uuid.UUID) -> bool:
        return user_id in (self.buyer_id, self.realtor_id)

    def visible_to(self, who: Principal) -> bool:
        """A tour is seen by its participants, and by admins."""
        return who.is_admin or self.is_participant(who.user_id)

    def require_visible_to(self, who: Principal) -> None:
        if not self.visible_to(who):
            raise Forbidden("only the tour's participants may see it")

    def _require_participant(self, actor: Actor) -> None:
        if actor.is_system or actor.admin:
            return
        assert actor.user_id is not None
        if not self.is_participant(actor.user_id):
            raise Forbidden("only the tour's participants may do this")

    def _require_realtor(self, actor: Actor, action: str) -> None:
        self._require_participant(actor)
        if actor.is_system or actor.admin:
            return
        if actor.user_id != self.realtor_id:
            raise Forbidden(f"only the realtor can {action} a tour")

    def _require_status(self, action: str, *allowed: TourStatus) -> None:
        if self.status not in allowed:
            expected = " or ".join(s.value for s in allowed)
            raise BadUserInput(
                f"cannot {action} a tour that is {self.status.value} (must be {expected})",
                status=self.status.value,
            )

    # -- transitions -------------------------------------------------------------------------
    def confirm(self, actor: Actor, now: datetime) -> None:
        self._require_realtor(actor, "confirm")
        self._require_status("confirm", TourStatus.REQUESTED)
        if self.starts_at <= now:
            raise BadUserInput("the requested time has already passed; reschedule instead")
        self._move(Verb.CONFIRMED, TourStatus.SCHEDULED, now, actor, None)

    def decline(self, actor: Actor, reason: str, now: datetime) -> None:
        self._require_realtor(actor, "decline")
        why = _clean_text(reason, name="reason", limit=MAX_REASON_LENGTH, required=True)
        self._require_status("decline", TourStatus.REQUESTED)
        self._move(Verb.DECLINED, TourStatus.DECLINED, now, actor, why)

    def cancel(self, actor: Actor, reason: str, now: datetime) -> None:
        self._require_participant(actor)
        why = _clean_text(reason, name="reason", limit=MAX_REASON_LENGTH, required=True)
        self._require_status("cancel", TourStatus.REQUESTED, TourStatus.SCHEDULED)
        self._move(Verb.CANCELLED, TourStatus.CANCELLED, now, actor, why)

    def start(self, actor: Actor, now: datetime) -> None:
        self._require_realtor(actor, "start")
        self._require_status("start", TourStatus.SCHEDULED)
        # Media reports the real start (first attendee joined); a realtor's manual start
        # must fall within the tour's window.
        if not actor.is_system and not (self.starts_at - START_EARLY <= now < self.ends_at):
            raise BadUserInput(
                "a tour can be started from 15 minutes before its start until its end"
            )
        self._move(Verb.STARTED, TourStatus.IN_PROGRESS, now, actor, None)

    def complete(self, actor: Actor, now: datetime) -> None:
        self._require_realtor(actor, "complete")
        self._require_status("complete", TourStatus.IN_PROGRESS)
        self._move(Verb.COMPLETED, TourStatus.COMPLETED, now, actor, None)

    def mark_no_show(self, now: datetime, grace: timedelta) -> None:
        """Nobody started the tour and its window (plus `grace`) is over."""
        self._require_status("mark as no-show", TourStatus.SCHEDULED)
        if now < self.ends_at + grace:
            raise BadUserInput("the tour's window has not passed yet")
        self._move(
            Verb.NO_SHOW, TourStatus.NO_SHOW, now, Actor.system(), "not started in its window"
        )

    def reschedule(self, actor: Actor, starts_at: datetime, now: datetime) -> None:
        """Move the tour, keeping its id: a buyer's move needs the realtor's confirmation again."""
        self._require_participant(actor)
        self._require_status("reschedule", TourStatus.REQUESTED, TourStatus.SCHEDULED)
        check_aware(starts_at, "startsAt")
        if starts_at <= now:
            raise BadUserInput("startsAt must be in the future", field="startsAt")
        if starts_at == self.starts_at:
            raise BadUserInput("the tour already starts at that time", field="startsAt")
        previous = self.starts_at
        by_buyer = actor.user_id == self.buyer_id
        target = TourStatus.REQUESTED if by_buyer else self.status
        length = self.ends_at - self.starts_at
        self.starts_at = starts_at
        self.ends_at = starts_at + length
        reason = f"moved from {previous.isoformat()} to {starts_at.isoformat()}"
        self._move(Verb.RESCHEDULED, target, now, actor, reason, previous_starts_at=previous)

    def cancel_by_system(self, reason: str, now: datetime) -> bool:
        """Cancel because of something outside the tour; False when it was not live any more."""
        if self.status not in (TourStatus.REQUESTED, TourStatus.SCHEDULED):
            return False
        self._move(Verb.CANCELLED, TourStatus.CANCELLED, now, Actor.system(), reason)
        return True

    # -- recording ---------------------------------------------------------------------------
    def _move(
        self,
        verb: Verb,
        to: TourStatus,
        now: datetime,
        actor: Actor,
        reason: str | None,
        *,
        previous_starts_at: datetime | None = None,
    ) -> None:
        before = self.status
        self.status = to
        if verb is not Verb.RESCHEDULED:
            self.status_reason = reason
        self._record(verb, before, to, now, actor.user_id, reason, previous_starts_at)

    def _record(
        self,
        verb: Verb,
        before: TourStatus | None,
        to: TourStatus,
        now: datetime,
        by: uuid.UUID | None,
        reason: str | None,
        previous_starts_at: datetime | None = None,
    ) -> None:
        if before is not None:
            self.sequence += 1
        self.updated_at = now
        self.transitions.append(Transition(before, to, now, by, reason))
        self.events.append(TourEvent(verb, before, to, now, by, reason, previous_starts_at))

    def reminder_due(self, planned_for: datetime, offset_minutes: int, now: datetime) -> bool:
        """Whether a reminder planned `offset_minutes` before `planned_for` still says the truth.

        Only for the start it was planned for, while the tour is scheduled, and while at
        least half its lead time remains (a 24 h reminder found 3 h before the start, after
        an outage, would say the wrong thing; the 1 h one follows).
        """
        return (
            self.status is TourStatus.SCHEDULED
            and self.starts_at == planned_for
            and self.starts_at - now >= timedelta(minutes=offset_minutes / 2)
        )

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def blocked_range(self) -> tuple[datetime, datetime]:
        """The realtor's time this tour holds: the tour plus the buffer after it.

        Two tours of one realtor conflict when these ranges overlap, which keeps exactly
        `buffer_minutes` between consecutive tours (the exclusion constraint checks the same).
        """
        return self.starts_at, self.ends_at + timedelta(minutes=self.buffer_minutes)
