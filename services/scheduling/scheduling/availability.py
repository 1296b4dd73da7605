"""A realtor's availability and the free slots it leaves, in the realtor's own time zone.

Working hours are wall-clock times in an IANA zone, so 09:00 stays 09:00 across a
daylight-saving change while its UTC instant moves. Candidate starts are generated in local
time and converted with `zoneinfo`; local times that do not exist (the spring-forward gap)
are skipped, and a slot's length is real elapsed time.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
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
        # A candidate is allowed when start <= c < end and earliest <= c <= latest.
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
                if _same_offset(range_start, range_end, tz):
                    slots += _even_slots(
                        range_start, range_end, first, last, step, duration, buffer, taken
                    )
                    continue
                for candidate in _local_candidates(
                    day, range_start, range_end, duration, first, last, tz, step
                ):
                    finish = candidate + duration
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
    later = local.replace(fold=1)
    if local.utcoffset() < later.utcoffset():  # type: ignore[operator]
        # Only in a gap is the offset before the change (fold 0) the smaller one: the local
        # time does not exist, the clock jumped over it; the range starts after the jump.
        return later.astimezone(UTC)
    return local.astimezone(UTC)


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


def _local_candidates(
    day: date,
    range_start: datetime,
    range_end: datetime,
    duration: timedelta,
    first: datetime,
    last: datetime,
    tz: ZoneInfo,
    step: timedelta,
) -> Iterable[datetime]:
    """The allowed candidates of a range the clock changes in: local wall-clock steps, each
    converted (a range with one UTC offset throughout takes `_even_steps`)."""
    for candidate in _local_steps(day, range_start, range_end, tz, step):
        if candidate + duration > range_end:
            return
        if first <= candidate < last:
            yield candidate


def _same_offset(range_start: datetime, range_end: datetime, tz: ZoneInfo) -> bool:
    """True when the zone keeps one UTC offset over [range_start, range_end): every local
    step is then the same elapsed time. Offsets change months apart, never twice within
    one working range, so comparing both ends decides it."""
    before_end = range_end - _JUST_AFTER
    return range_start.astimezone(tz).utcoffset() == before_end.astimezone(tz).utcoffset()


def _even_slots(
    range_start: datetime,
    range_end: datetime,
    first: datetime,
    last: datetime,
    step: timedelta,
    duration: timedelta,
    buffer: timedelta,
    taken: _Busy,
) -> list[Range]:
    """The free slots of a range of one UTC offset, whose candidates are
    `range_start + k * step`: the allowed k are bounds, each busy range near the window
    takes out one run of k, and only the slots left are built."""
    # ceil(x / step) is -(-x // step); timedelta // timedelta is an exact integer floor.
    low = max(0, -((range_start - first) // step))
    high = min((range_end - duration - range_start) // step, -((range_start - last) // step) - 1)
    if high < low:
        return []
    reach = duration + buffer  # a candidate blocks [c, c + reach)
    free: list[int] = []
    k = low
    for b_start, b_end in taken.near(range_start + low * step, range_start + high * step + reach):
        # [c, c + reach) overlaps [b_start, b_end) exactly when b_start - reach < c < b_end.
        blocked_from = (b_start - reach - range_start) // step + 1
        blocked_to = -((range_start - b_end) // step) - 1
        if blocked_to < k or blocked_from > high:
            continue
        free.extend(range(k, min(blocked_from, high + 1)))
        k = max(k, blocked_to + 1)
    free.extend(range(k, high + 1))
    slots: list[Range] = []
    for n in free:
        candidate = range_start + n * step
        slots.append((candidate, candidate + duration))
    return slots


_JUST_AFTER = timedelta(microseconds=1)


class _Busy:
    """Busy ranges asked "does [start, end) overlap any of you?" in O(log n): merged into
    disjoint ranges sorted by start (so their ends are sorted too), the one range that can
    overlap is the first ending after `start`, found by one bisection."""

    def __init__(self, busy: Sequence[Range]) -> None:
        starts: list[datetime] = []
        ends: list[datetime] = []
        for b_start, b_end in sorted(busy):
            if b_end <= b_start:
                continue  # empty: overlaps nothing
            if ends and b_start <= ends[-1]:
                ends[-1] = max(ends[-1], b_end)
            else:
                starts.append(b_start)
                ends.append(b_end)
        self._starts = starts
        self._ends = ends

    def near(self, start: datetime, end: datetime) -> list[Range]:
        """The ranges overlapping [start, end), in order."""
        index = bisect_right(self._ends, start)
        found: list[Range] = []
        while index < len(self._ends) and self._starts[index] < end:
            found.append((self._starts[index], self._ends[index]))
            index += 1
        return found

    def overlaps(self, start: datetime, end: datetime) -> bool:
        if not self._ends:
            return False
        index = bisect_right(self._ends, start)  # the first range ending after `start`
        return index < len(self._ends) and self._starts[index] < end
