"""Free slots in the realtor's own zone: wall-clock hours across daylight-saving changes,
existing tours and their buffers, notice, horizon and blocked dates."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scheduling.availability import WEEKDAYS, Availability
from servicekit.errors import BadUserInput

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)


def rules(zone: str, start: str = "09:00", end: str = "17:00", **extra: object) -> Availability:
    options: dict[str, object] = {
        "buffer_minutes": 0,
        "minimum_notice_minutes": 0,
        "max_days_ahead": 365,
        "blocked_dates": [],
    }
    options.update(extra)
    return Availability.create(
        realtor_id=uuid.uuid4(),
        time_zone=zone,
        weekly_hours=[(day, start, end) for day in WEEKDAYS],
        **options,  # type: ignore[arg-type]
    )


def slots(
    value: Availability, day_utc: datetime, hours: int = 36, **extra: object
) -> list[datetime]:
    found = value.free_slots(
        start=day_utc,
        end=day_utc + timedelta(hours=hours),
        duration=extra.pop("duration", HALF_HOUR),  # type: ignore[arg-type]
        now=extra.pop("now", NOW),  # type: ignore[arg-type]
        busy=extra.pop("busy", []),  # type: ignore[arg-type]
        step=HALF_HOUR,
    )
    return [s for s, _ in found]


def first_per_day(starts: list[datetime]) -> dict[date, datetime]:
    days: dict[date, datetime] = {}
    for s in starts:
        days.setdefault(s.date(), s)
    return days


@pytest.mark.parametrize(
    ("zone", "before", "after", "utc_before", "utc_after"),
    [
        # New York springs forward on Sunday 14 March 2027: 09:00 moves from 14:00Z to 13:00Z.
        ("America/New_York", date(2027, 3, 13), date(2027, 3, 14), "14:00", "13:00"),
        # ...and falls back on Sunday 7 November 2027.
        ("America/New_York", date(2027, 11, 6), date(2027, 11, 7), "13:00", "14:00"),
        # Berlin springs forward on Sunday 28 March 2027: 09:00 moves from 08:00Z to 07:00Z.
        ("Europe/Berlin", date(2027, 3, 27), date(2027, 3, 28), "08:00", "07:00"),
        ("Europe/Berlin", date(2027, 10, 30), date(2027, 10, 31), "07:00", "08:00"),
    ],
)
def test_working_hours_keep_their_wall_clock_across_dst(
    zone: str, before: date, after: date, utc_before: str, utc_after: str
) -> None:
    value = rules(zone)
    start = datetime.combine(before, datetime.min.time(), tzinfo=UTC)
    starts = slots(value, start, hours=48)
    by_day = first_per_day(starts)
    assert by_day[before].strftime("%H:%M") == utc_before
    assert by_day[after].strftime("%H:%M") == utc_after
    # Every day still offers 09:00–17:00 local: 16 half-hour slots, the last at 16:30 local.
    for day in (before, after):
        local = [s.astimezone(value.zone) for s in starts if s.astimezone(value.zone).date() == day]
        assert len(local) == 16
        assert (local[0].strftime("%H:%M"), local[-1].strftime("%H:%M")) == ("09:00", "16:30")


def test_hours_spanning_the_spring_forward_gap_skip_missing_times() -> None:
    value = rules("America/New_York", "01:00", "04:00")
    day = datetime(2027, 3, 14, 0, 0, tzinfo=UTC)
    found = value.free_slots(
        start=day,
        end=day + timedelta(hours=12),
        duration=HALF_HOUR,
        now=NOW,
        busy=[],
        step=HALF_HOUR,
    )
    local = [s.astimezone(value.zone).strftime("%H:%M") for s, _ in found]
    # 02:00 and 02:30 do not exist that night; the slot from 01:30 ends at 03:00 (30 real minutes).
    assert local == ["01:00", "01:30", "03:00", "03:30"]
    assert all(e - s == HALF_HOUR for s, e in found)


def test_hours_spanning_the_fall_back_overlap_count_real_time() -> None:
    value = rules("Europe/Berlin", "01:00", "04:00")
    day = datetime(2027, 10, 30, 22, 0, tzinfo=UTC)
    found = value.free_slots(
        start=day,
        end=day + timedelta(hours=8),
        duration=HALF_HOUR,
        now=NOW,
        busy=[],
        step=HALF_HOUR,
    )
    starts = [s for s, _ in found]
    assert starts == sorted(set(starts))
    # Four hours of real time between 01:00 CEST (23:00Z) and 04:00 CET (03:00Z).
    assert starts[0] == datetime(2027, 10, 30, 23, 0, tzinfo=UTC)
    assert found[-1][1] <= datetime(2027, 10, 31, 3, 0, tzinfo=UTC)


def test_tours_and_their_buffers_are_not_offered() -> None:
    value = rules("UTC", buffer_minutes=15)
    day = datetime(2027, 2, 1, 0, 0, tzinfo=UTC)
    tour = (datetime(2027, 2, 1, 10, 0, tzinfo=UTC), datetime(2027, 2, 1, 10, 45, tzinfo=UTC))
    starts = [s.strftime("%H:%M") for s in slots(value, day, hours=24, busy=[tour])]
    # 09:30 would end at 10:00 and leave no buffer before the tour; 10:00 and 10:30 overlap
    # the tour and its buffer (until 10:45).
    assert starts[:3] == ["09:00", "11:00", "11:30"]


def test_notice_horizon_and_blocked_dates() -> None:
    value = rules(
        "UTC", minimum_notice_minutes=180, max_days_ahead=2, blocked_dates=[date(2027, 1, 5)]
    )
    now = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    starts = slots(value, datetime(2027, 1, 4, tzinfo=UTC), hours=24 * 5, now=now)
    assert starts[0] == datetime(2027, 1, 4, 13, 0, tzinfo=UTC)  # three hours' notice
    assert not [s for s in starts if s.date() == date(2027, 1, 5)]  # blocked
    assert max(starts) <= now + timedelta(days=2)  # horizon
    assert value.fits(
        datetime(2027, 1, 6, 9, 0, tzinfo=UTC), datetime(2027, 1, 6, 9, 30, tzinfo=UTC), now
    )
    assert not value.fits(
        datetime(2027, 1, 6, 16, 45, tzinfo=UTC), datetime(2027, 1, 6, 17, 15, tzinfo=UTC), now
    )


@pytest.mark.parametrize(
    "change",
    [
        {"time_zone": "Mars/Olympus"},
        {"weekly_hours": [("MONDAY", "17:00", "09:00")]},
        {"weekly_hours": [("MONDAY", "9am", "5pm")]},
        {"weekly_hours": [("FUNDAY", "09:00", "17:00")]},
        {"weekly_hours": [("MONDAY", "09:00", "12:00"), ("MONDAY", "11:00", "13:00")]},
        {"buffer_minutes": -5},
        {"max_days_ahead": 0},
    ],
)
def test_invalid_availability_is_refused(change: dict[str, object]) -> None:
    options: dict[str, object] = {
        "realtor_id": uuid.uuid4(),
        "time_zone": "UTC",
        "weekly_hours": [("MONDAY", "09:00", "17:00")],
        "buffer_minutes": 0,
        "minimum_notice_minutes": 0,
        "max_days_ahead": 30,
        "blocked_dates": [],
        **change,
    }
    with pytest.raises(BadUserInput):
        Availability.create(**options)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    busy=st.lists(
        st.tuples(st.integers(0, 7 * 24 * 4), st.integers(1, 16)), max_size=12
    ),  # quarter hours from Monday 00:00 UTC, and a length in quarter hours
    buffer=st.sampled_from([0, 15, 45]),
    offset_hours=st.integers(0, 72),
    notice_minutes=st.sampled_from([0, 90, 60 * 30]),
)
def test_a_slot_is_free_exactly_when_no_busy_range_overlaps_it_and_its_buffer(
    busy: list[tuple[int, int]], buffer: int, offset_hours: int, notice_minutes: int
) -> None:
    value = rules("America/New_York", buffer_minutes=buffer, minimum_notice_minutes=notice_minutes)
    monday = datetime(2027, 1, 4, tzinfo=UTC)
    ranges = [
        (monday + timedelta(minutes=15 * at), monday + timedelta(minutes=15 * (at + length)))
        for at, length in busy
    ]
    start = monday + timedelta(hours=offset_hours)
    window = {"start": start, "end": start + timedelta(days=3), "duration": HALF_HOUR}
    every = value.free_slots(**window, now=NOW, busy=[], step=HALF_HOUR)
    free = value.free_slots(**window, now=NOW, busy=ranges, step=HALF_HOUR)
    pad = timedelta(minutes=buffer)
    assert free == [(s, e) for s, e in every if not any(b < e + pad and s < f for b, f in ranges)]


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"]),
    day_offset=st.integers(0, 365),
    hours=st.sampled_from([("09:00", "17:00"), ("00:30", "04:15"), ("22:00", "24:00")]),
    minutes=st.sampled_from([15, 30, 45, 90]),
    step_minutes=st.sampled_from([15, 30, 60]),
    start_minutes=st.integers(0, 24 * 60),
    span_hours=st.integers(1, 24 * 9),
)
def test_even_steps_are_the_local_wall_clock_steps(
    zone: str,
    day_offset: int,
    hours: tuple[str, str],
    minutes: int,
    step_minutes: int,
    start_minutes: int,
    span_hours: int,
) -> None:
    """Ranges of one UTC offset are stepped by arithmetic; forcing every range through the
    wall-clock stepping gives the same slots, DST changes and odd windows included."""
    from scheduling import availability as module

    value = rules(zone, *hours, buffer_minutes=15, minimum_notice_minutes=0)
    start = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=day_offset, minutes=start_minutes)
    window = {
        "start": start,
        "end": start + timedelta(hours=span_hours),
        "duration": timedelta(minutes=minutes),
        "now": datetime(2026, 12, 31, tzinfo=UTC),
        "busy": [(start + timedelta(hours=5), start + timedelta(hours=6))],
        "step": timedelta(minutes=step_minutes),
    }
    fast = value.free_slots(**window)  # type: ignore[arg-type]
    same_offset = module._same_offset
    module._same_offset = lambda *_: False  # type: ignore[assignment]
    try:
        stepped = value.free_slots(**window)  # type: ignore[arg-type]
    finally:
        module._same_offset = same_offset
    assert fast == stepped
