"""The rules of what realtors and admins see: the period asked for and the one before it,
who may see whose figures, the funnel's steps and their conversion, days in a zone.

Pure Python: part of the domain (the queries count, these rules shape and guard).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from servicekit.vocabulary import BadUserInput, Forbidden, Principal, Role

MAX_PERIOD = timedelta(days=366)
DEFAULT_STATS_PERIOD = timedelta(days=30)
# The funnel, in order: each step's conversion is its count over the step before.
FUNNEL = ("Property View", "Tour Requested", "Tour Scheduled", "Tour Started", "Tour Completed")
OUTCOMES = ("Tour Cancelled", "Tour Declined", "Tour No Show")


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Period:
        if start.tzinfo is None or end.tzinfo is None:
            raise BadUserInput("from and to need a time zone offset", field="from")
        if end <= start:
            raise BadUserInput("to must be after from", field="to")
        if end - start > MAX_PERIOD:
            raise BadUserInput("a period is at most 366 days", field="to")
        return cls(start, end)

    @classmethod
    def or_recent(cls, start: datetime | None, end: datetime | None, now: datetime) -> Period:
        """The period asked for; without bounds, the last 30 days up to now."""
        end = end or now
        return cls.of(start or end - DEFAULT_STATS_PERIOD, end)

    @property
    def previous(self) -> Period:
        """The period of equal length just before, for comparison."""
        return Period(self.start - (self.end - self.start), self.start)


@dataclass(frozen=True, slots=True)
class Reason:
    """How many tours ended one way for one reason (None: no reason given)."""

    reason: str | None
    count: int


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    count: int
    conversion: float | None  # of the step before; None for the first or after a zero


def funnel(counts: dict[str, int]) -> list[Step]:
    steps: list[Step] = []
    before: int | None = None
    for name in FUNNEL:
        count = counts.get(name, 0)
        conversion = None if not before else round(count / before, 4)
        steps.append(Step(name, count, conversion))
        before = count
    return steps


def local_days(period: Period, zone: ZoneInfo) -> list[date]:
    """Every date of the period in `zone`, first to last, so a daily series has no gaps."""
    first = period.start.astimezone(zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def zone_of(name: str | None) -> ZoneInfo:
    """A user's or listing's zone as recorded; UTC when unknown or unreadable."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def require_dashboard(who: Principal, realtor_id: uuid.UUID) -> None:
    """A realtor sees their own dashboard; an admin sees anyone's."""
    if who.is_admin:
        return
    if who.user_id != realtor_id or who.role is not Role.REALTOR:
        raise Forbidden("only the realtor themself sees their dashboard")


def require_listing_owner(who: Principal, owner: uuid.UUID | None) -> None:
    if who.is_admin:
        return
    if owner is None or who.user_id != owner:
        raise Forbidden("only the listing's realtor sees its statistics")
