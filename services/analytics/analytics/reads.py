"""The read use cases: a realtor's dashboard, a listing's statistics, the platform's.

Each checks who may see the figures (the rules of `reports`), then asks the read models.
No SQL and no transport here.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from servicekit.vocabulary import Principal, Role

from analytics.domain import VIDEO_SECONDS
from analytics.queries import AnalyticsQueries, Counted, Days, PeriodFigures, Row
from analytics.reports import (
    FUNNEL,
    OUTCOMES,
    Period,
    Reason,
    Step,
    funnel,
    local_days,
    require_dashboard,
    require_listing_owner,
    zone_of,
)


@dataclass(frozen=True, slots=True)
class PeriodReport:
    period: Period
    steps: list[Step]
    outcomes: Mapping[str, list[Reason]]
    median_response_minutes: float | None
    average_tour_minutes: float | None

    @classmethod
    def of(cls, period: Period, figures: PeriodFigures) -> PeriodReport:
        return cls(
            period,
            funnel(figures.counts),
            figures.outcomes,
            figures.median_response_minutes,
            figures.average_tour_minutes,
        )


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Dashboard:
    time_zone: str
    current: PeriodReport
    previous: PeriodReport
    listings: list[Row]
    daily: list[Day]


@dataclass(frozen=True, slots=True)
class ListingReport:
    period: Period
    time_zone: str
    counts: Mapping[str, int]
    daily: list[Day]


@dataclass(frozen=True, slots=True)
class PlatformReport:
    current: PeriodReport
    active_realtors: int
    active_buyers: int
    video_minutes: int
    daily: list[Day]


def _series(period: Period, zone: str, rows: Mapping[date, Row]) -> list[Day]:
    return [
        Day(day, rows[day].counts if day in rows else {})
        for day in local_days(period, zone_of(zone))
    ]


@dataclass(frozen=True, slots=True)
class Tally:
    """Rollup rows summed: the period's counts and outcomes, per listing and per day."""

    counts: dict[str, int]
    outcomes: dict[str, list[Reason]]
    by_listing: list[Row]
    by_day: dict[date, Row]

    @classmethod
    def of(cls, rows: list[Counted]) -> Tally:
        counts = dict.fromkeys(FUNNEL, 0)
        reasons: dict[str, dict[str, int]] = {name: defaultdict(int) for name in OUTCOMES}
        listings: dict[uuid.UUID, dict[str, int]] = {}
        days: dict[date, dict[str, int]] = {}
        for row in rows:
            if row.name in counts:
                counts[row.name] += row.n
                listing = listings.setdefault(row.listing_id, dict.fromkeys(FUNNEL, 0))
                listing[row.name] += row.n
                day = days.setdefault(row.day, dict.fromkeys(FUNNEL, 0))
                day[row.name] += row.n
            elif row.name in reasons:
                reasons[row.name][row.reason] += row.n
        outcomes = {
            name: [
                Reason(reason or None, n)
                for reason, n in sorted(given.items(), key=lambda r: (-r[1], r[0] == "", r[0]))
                if n
            ]
            for name, given in reasons.items()
        }
        ordered = sorted(
            listings.items(), key=lambda kv: (-kv[1][FUNNEL[0]], -kv[1][FUNNEL[1]], str(kv[0]))
        )
        return cls(
            counts,
            outcomes,
            [Row(key, c) for key, c in ordered],
            {day: Row(day, c) for day, c in days.items()},
        )


def _day_bounds(period: Period, zone: str) -> Days:
    """The local days a period touches in `zone`, and the instants they span: the rollups
    answer whole days, so a period is read as the days of its daily series."""
    days = local_days(period, zone_of(zone))
    tz = zone_of(zone)
    start = datetime.combine(days[0], time(), tz)
    end = datetime.combine(days[-1] + timedelta(days=1), time(), tz)
    return Days(days[0], days[-1], start, end)


class Reports:
    def __init__(self, queries: AnalyticsQueries, *, clock: Callable[[], datetime]) -> None:
        self.queries = queries
        self.clock = clock

    async def dashboard(
        self, who: Principal, realtor_id: uuid.UUID, start: datetime, end: datetime
    ) -> Dashboard:
        """The realtor's funnel for the period and the one before it, per listing and day."""
        require_dashboard(who, realtor_id)
        period = Period.of(start, end)
        board = await self.queries.board(
            realtor_id, (period.start, period.end), (period.previous.start, period.previous.end)
        )
        zone = zone_of(board.time_zone).key
        current = Tally.of(board.days)
        before = Tally.of(board.previous)
        listings = Tally.of(board.listings)
        return Dashboard(
            time_zone=zone,
            current=PeriodReport.of(
                period, PeriodFigures(current.counts, current.outcomes, *board.timings["current"])
            ),
            previous=PeriodReport.of(
                period.previous,
                PeriodFigures(before.counts, before.outcomes, *board.timings["previous"]),
            ),
            listings=listings.by_listing,
            daily=_series(period, zone, current.by_day),
        )

    async def listing_stats(
        self, who: Principal, listing_id: uuid.UUID, start: datetime | None, end: datetime | None
    ) -> ListingReport:
        """One listing's views, requests and tours (its realtor, or an admin)."""
        known = await self.queries.listing(listing_id)
        require_listing_owner(who, known[0] if known else None)
        period = Period.or_recent(start, end, self.clock())
        # The rollups cut days in the realtor's zone (a listing's is its realtor's in practice).
        zone = zone_of(await self.queries.time_zone(known[0]) if known else None).key
        days = _day_bounds(period, zone)
        tally = Tally.of(await self.queries.counted(days.first, days.last, listing_id=listing_id))
        return ListingReport(period, zone, tally.counts, _series(period, zone, tally.by_day))

    async def platform(self, who: Principal, start: datetime, end: datetime) -> PlatformReport:
        """The funnel across the platform, who was active, tours per day, video minutes:
        whole UTC days, read from the platform's daily rollups."""
        who.require_role(Role.ADMIN)
        period = Period.of(start, end)
        found = await self.queries.platform_rows(_day_bounds(period, "UTC"))
        tally = Tally.of(found.days)
        seconds = sum(row.n for row in found.days if row.name == VIDEO_SECONDS)
        return PlatformReport(
            PeriodReport.of(period, PeriodFigures(tally.counts, tally.outcomes, *found.timings)),
            found.actives.get("realtor", 0),
            found.actives.get("buyer", 0),
            seconds // 60,
            _series(period, "UTC", tally.by_day),
        )
