"""The read use cases: a realtor's dashboard, a listing's statistics, the platform's.

Each checks who may see the figures (the rules of `reports`), then asks the read models.
No SQL and no transport here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from servicekit.vocabulary import Principal, Role

from analytics.queries import AnalyticsQueries, PeriodFigures, Row
from analytics.reports import (
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
        zone = zone_of(await self.queries.time_zone(realtor_id)).key
        current = await self.queries.figures(period, realtor_id=realtor_id)
        previous = await self.queries.figures(period.previous, realtor_id=realtor_id)
        return Dashboard(
            time_zone=zone,
            current=PeriodReport.of(period, current),
            previous=PeriodReport.of(period.previous, previous),
            listings=await self.queries.by_listing(period, realtor_id),
            daily=_series(
                period, zone, await self.queries.by_day(period, zone, realtor_id=realtor_id)
            ),
        )

    async def listing_stats(
        self, who: Principal, listing_id: uuid.UUID, start: datetime | None, end: datetime | None
    ) -> ListingReport:
        """One listing's views, requests and tours (its realtor, or an admin)."""
        known = await self.queries.listing(listing_id)
        require_listing_owner(who, known[0] if known else None)
        period = Period.or_recent(start, end, self.clock())
        zone = zone_of(known[1] if known else None).key
        figures = await self.queries.figures(period, listing_id=listing_id)
        rows = await self.queries.by_day(period, zone, listing_id=listing_id)
        return ListingReport(period, zone, figures.counts, _series(period, zone, rows))

    async def platform(self, who: Principal, start: datetime, end: datetime) -> PlatformReport:
        """The funnel across the platform, who was active, tours per day, video minutes."""
        who.require_role(Role.ADMIN)
        period = Period.of(start, end)
        figures = await self.queries.figures(period)
        realtors, buyers, minutes = await self.queries.platform(period)
        rows = await self.queries.by_day(period, "UTC")
        return PlatformReport(
            PeriodReport.of(period, figures),
            realtors,
            buyers,
            minutes,
            _series(period, "UTC", rows),
        )
