"""The dashboard's one statement cuts both periods into the realtor's local days itself (the
zone read in the same round trip): the days it reads are exactly those `reports.local_days`
gives the daily series, in any zone (DST changes and offsets of quarter hours included) and
for periods from local midnight to midnight or starting and ending at any instant, and the timings are those of the tours whose
step falls within those days (property-based)."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from analytics.reports import Period, local_days, zone_of
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

ZONES = (None, "UTC", "America/New_York", "Asia/Tokyo", "Pacific/Chatham", "Asia/Kathmandu")
BASE = datetime(2027, 3, 5, 0, 0, tzinfo=UTC)  # New York's clocks go forward on 14 March
DAYS = [date(2027, 1, 20) + timedelta(days=i) for i in range(90)]
# A request answered after its index's minutes, every 7 hours over the days above.
REQUESTS = [
    (datetime(2027, 1, 20, tzinfo=UTC) + timedelta(hours=7 * i), 1 + i % 13) for i in range(300)
]


# A local day and the minutes after its midnight, often none: periods from midnight to
# midnight, the dashboards' usual, are where a day too many or too few would show.
instants = st.tuples(
    st.integers(min_value=0, max_value=20), st.one_of(st.just(0), st.integers(0, 24 * 60 - 1))
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(zone=st.sampled_from(ZONES), start=instants, length=instants)
async def test_the_board_reads_the_local_days_of_the_realtors_zone(
    stack: Any, zone: str | None, start: tuple[int, int], length: tuple[int, int]
) -> None:
    realtor = uuid.uuid4()
    async with stack.db.engine.begin() as conn:
        if zone is not None:
            await conn.execute(
                text("INSERT INTO people (id, time_zone) VALUES (:id, :zone)"),
                {"id": realtor, "zone": zone},
            )
        # Each day's count is its day of the month, so a day read twice or missed shows.
        await conn.execute(
            text(
                """INSERT INTO realtor_days (realtor_id, day, name, reason, n)
                   SELECT :realtor, day, 'Tour Requested', '', extract(day FROM day)
                   FROM unnest(CAST(:days AS date[])) AS day"""
            ),
            {"realtor": realtor, "days": DAYS},
        )
        await conn.execute(
            text(
                """INSERT INTO tour_steps (tour_id, name, occurred_at, day, realtor_id,
                                          listing_id, reason, took_seconds)
                   SELECT gen_random_uuid(), 'Tour Requested', at, at::date, :realtor,
                          gen_random_uuid(), '', took
                   FROM unnest(CAST(:at AS timestamptz[]), CAST(:took AS float8[])) AS r (at, took)"""
            ),
            {
                "realtor": realtor,
                "at": [a for a, _ in REQUESTS],
                "took": [60.0 * m for _, m in REQUESTS],
            },
        )
    tz = zone_of(zone)
    first = datetime.combine(BASE.date() + timedelta(days=start[0]), time(), tz)
    begins = first + timedelta(minutes=start[1])
    ends = datetime.combine(first.date() + timedelta(days=length[0]), time(), tz)
    ends += timedelta(minutes=length[1])
    assume(ends > begins)
    period = Period.of(begins, ends)

    board = await stack.parts.reports.queries.board(
        realtor, (period.start, period.end), (period.previous.start, period.previous.end)
    )

    assert board.time_zone == (zone or "UTC")
    days = local_days(period, tz)
    assert sorted(row.day for row in board.days) == days
    assert all(row.n == row.day.day for row in board.days)
    before = local_days(period.previous, tz)
    assert sum(row.n for row in board.previous) == sum(day.day for day in before)
    for name, cut in (("current", days), ("previous", before)):
        within = [m for at, m in REQUESTS if cut[0] <= at.astimezone(tz).date() <= cut[-1]]
        expected = round(float(statistics.median(within)), 2) if within else None
        assert board.timings[name][0] == expected, name
