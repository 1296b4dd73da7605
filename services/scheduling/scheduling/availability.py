"""A realtor's availability and the free slots it leaves, in the realtor's own time zone.

Working hours are wall-clock times in an IANA zone, so 09:00 stays 09:00 across a
daylight-saving change while its UTC instant moves. Candidate starts are generated in local
time and converted with `zoneinfo`; local times that do not exist (the spring-forward gap)
are skipped, and a slot's length is real elapsed time.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from servicekit import values
from servicekit.vocabulary import BadUserInput

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
MAX_BUFFER_MINUTES = 240
MAX_NOTICE_MINUTES = 60 * 24 * 30
MAX_DAYS_AHEAD = 365
MAX_BLOCKED_DATES = 400
MAX_RANGE = timedelta(days=62)

Range = tuple[datetime, datetime]


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (servicekit's one rule for zone names), or BAD_USER_INPUT."""
    return values.zone_info(name, "timeZone")


def parse_clock(value: str, name: str) -> time:
    """'HH:MM' (24 h) → time; '24:00' is accepted as the end of the day."""
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise BadUserInput(f"{name} must look like 09:30", field=name)
    h, m = int(hours), int(minutes)
    if (h, m) == (24, 0):
        return time.max
    if not (0 <= h < 24 and 0 <= m < 60):
        raise BadUserInput(f"{name} is not a time of day", field=name)
    return time(h, m)


def format_clock(value: time) -> str:
    return "24:00" if value == time.max else value.strftime("%H:%M")


@dataclass(frozen=True, slots=True)
class WorkingHours:
    weekday: int  # 0 = Monday
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Availability:
    """When a realtor takes tours. Build it with `Availability.create` (validates)."""

    realtor_id: uuid.UUID
    time_zone: str
    weekly_hours: tuple[WorkingHours, ...]
    buffer_minutes: int
    minimum_notice_minutes: int
    max_days_ahead: int
    blocked_dates: frozenset[date]

    @classmethod
    def create(
        cls,
        *,
        realtor_id: uuid.UUID,
        time_zone: str,
        weekly_hours: Iterable[tuple[str, str, str]],
        buffer_minutes: int,
        minimum_notice_minutes: int,
        max_days_ahead: int,
        blocked_dates: Iterable[date],
    ) -> Availability:
        zone(time_zone)
        hours: list[WorkingHours] = []
        for index, (weekday, start, end) in enumerate(weekly_hours):
            at = f"weeklyHours.{index}"
            if weekday not in WEEKDAYS:
                raise BadUserInput(f"unknown weekday {weekday!r}", field=f"{at}.weekday")
            begin, finish = parse_clock(start, f"{at}.start"), parse_clock(end, f"{at}.end")
            if begin == time.max or finish <= begin:
                raise BadUserInput(f"{weekday}: end must be after start", field=f"{at}.end")
            hours.append(WorkingHours(WEEKDAYS.index(weekday), begin, finish))
        hours.sort(key=lambda h: (h.weekday, h.start))
        for a, b in pairwise(hours):
            if a.weekday == b.weekday and b.start < a.end:
                raise BadUserInput(
                    f"{WEEKDAYS[a.weekday]}: working hours overlap", field="weeklyHours"
                )
        _bounded(buffer_minutes, 0, MAX_BUFFER_MINUTES, "bufferMinutes")
        _bounded(minimum_notice_minutes, 0, MAX_NOTICE_MINUTES, "minimumNoticeMinutes")
        _bounded(max_days_ahead, 1, MAX_DAYS_AHEAD, "maxDaysAhead")
        blocked = frozenset(blocked_dates)
        if len(blocked) > MAX_BLOCKED_DATES:
            raise BadUserInput(f"at most {MAX_BLOCKED_DATES} blocked dates", field="blockedDates")
        return cls(
            realtor_id=realtor_id,
            time_zone=time_zone,
            weekly_hours=tuple(hours),
            buffer_minutes=buffer_minutes,
            minimum_notice_minutes=minimum_notice_minutes,
            max_days_ahead=max_days_ahead,
            blocked_dates=blocked,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def bookable_window(self, now: datetime) -> Range:
        """Starts must fall in [now + minimum notice, now + max days ahead]."""
        return (
            now + timedelta(minutes=self.minimum_notice_minutes),
            now + timedelta(days=self.max_days_ahead),
        )

    def working_ranges(self, day: date) -> list[Range]:
        """The working ranges of a local date as UTC instants (none when the date is blocked)."""
        if day in self.blocked_dates:
            return []
        tz = self.zone
        ranges: list[Range] = []
        for hours in self.weekly_hours:
            if hours.weekday != day.weekday():
                continue
            start = _local_instant(day, hours.start, tz)
            end = (
                _local_instant(day + timedelta(days=1), time(0, 0), tz)
                if hours.end == time.max
                else _local_instant(day, hours.end, tz)
            )
            ranges.append((start, end))
        return ranges

    def fits(self, start: datetime, end: datetime, now: datetime) -> bool:
        """True when [start, end) lies inside working hours and the bookable window."""
        earliest, latest = self.bookable_window(now)
        if not earliest <= start <= latest:
            return False
        local_day = start.astimezone(self.zone).date()
        return any(s <= start and end <= e for s, e in self.working_ranges(local_day))

    def free_slots(
        self,
        *,
        start: datetime,
        end: datetime,
        duration: timedelta,
        now: datetime,
        busy: Sequence[Range],
        step: timedelta,
    ) -> list[Range]:
        """Free slots of `duration` starting in [start, end), none overlapping `busy`.

        `busy` holds the blocked ranges of the realtor's live tours (tour + its buffer); a
        candidate is free when its own blocked range (slot + this buffer) overlaps none.
        """
        if end <= start:
            raise BadUserInput("`to` must be after `from`", field="to")
        if end - start > MAX_RANGE:
            raise BadUserInput(f"at most {MAX_RANGE.days} days per query", field="to")
        earliest, latest = self.bookable_window(now)
        buffer = timedelta(minutes=self.buffer_minutes)
        tz = self.zone
        taken = _Busy(busy)
        first, last = max(start, earliest), min(end, latest + _JUST_AFTER)
        slots: list[Range] = []
        day = start.astimezone(tz).date() - timedelta(days=1)
        last_day = end.astimezone(tz).date()
        while day <= last_day:
            for range_start, range_end in self.working_ranges(day):
                # A range that ends before the first allowed start or begins after the last
                # holds no candidate: its steps are not generated at all.
                if range_end - duration < first or range_start >= last:
                    continue
                for candidate in _local_steps(day, range_start, range_end, tz, step):
                    finish = candidate + duration
                    if finish > range_end:
                        break
                    if not (start <= candidate < end and earliest <= candidate <= latest):
                        continue
                    if not taken.overlaps(candidate, finish + buffer):
                        slots.append((candidate, finish))
            day += timedelta(days=1)
        return slots


def _bounded(value: int, low: int, high: int, name: str) -> None:
    if not low <= value <= high:
        raise BadUserInput(f"{name} must be between {low} and {high}", field=name)


def _local_instant(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time; a time in a DST gap moves forward."""
    local = datetime.combine(day, clock, tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        # Nonexistent local time: the clock jumped over it; the range starts after the jump.
        instant = local.replace(fold=1).astimezone(UTC)
    return instant


def _local_steps(
    day: date, range_start: datetime, range_end: datetime, tz: ZoneInfo, step: timedelta
) -> Iterable[datetime]:
    """Candidate starts every `step` of local wall-clock time from `range_start`, as UTC."""
    local = range_start.astimezone(tz).replace(tzinfo=None)
    seen: set[datetime] = set()
    while True:
        aware = local.replace(tzinfo=tz)
        instant = aware.astimezone(UTC)
        exists = instant.astimezone(tz).replace(tzinfo=None) == local
        if instant >= range_end:
            return
        if exists and instant >= range_start and instant not in seen:
            seen.add(instant)
            yield instant
        local += step
        if local.date() > day + timedelta(days=1):
            return


_JUST_AFTER = timedelta(microseconds=1)


class _Busy:
    """Busy ranges asked "does [start, end) overlap any of you?" in O(log n): sorted by
    start, with the latest end among each prefix, so the ranges starting before `end` are
    one bisection and whether one of them ends after `start` one comparison."""

    def __init__(self, busy: Sequence[Range]) -> None:
        ordered = sorted(busy)
        self._starts = [b_start for b_start, _ in ordered]
        self._latest_end: list[datetime] = []
        for _, b_end in ordered:
            latest = self._latest_end[-1] if self._latest_end else b_end
            self._latest_end.append(max(latest, b_end))

    def overlaps(self, start: datetime, end: datetime) -> bool:
        before_end = bisect_left(self._starts, end)  # these start before `end`
        return before_end > 0 and self._latest_end[before_end - 1] > start
