# mypy: disable-error-code="untyped-decorator"
"""The figures realtors and admins see, and the entities they hang from (`User.dashboard`,
`Listing.stats`), mapped from the read models of `analytics.reads`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

import strawberry
from servicekit.graphql import Context
from servicekit.vocabulary import parse_id
from strawberry.types import Info

from analytics import reads
from analytics.graphql.context import services
from analytics.reports import Reason, Step


@strawberry.type(
    description="One step of the funnel: listing views -> tour requested -> scheduled -> "
    "started -> completed."
)
class FunnelStep:
    name: str = strawberry.field(description="The tracking plan's event counted at this step.")
    count: int = strawberry.field(
        description="Property Views (one per visitor and listing per 30 minutes), or distinct "
        "tours that reached the step in the period."
    )
    conversion: float | None = strawberry.field(
        description="This step's count over the step before (0..1, can exceed 1 when earlier "
        "steps fell before the period); null for the first step or after a zero."
    )

    @classmethod
    def of(cls, step: Step) -> FunnelStep:
        return cls(name=step.name, count=step.count, conversion=step.conversion)


@strawberry.type(description="How many tours ended one way for one reason.")
class ReasonCount:
    reason: str | None = strawberry.field(description="The reason given; null when none was.")
    count: int = strawberry.field(description="Distinct tours.")


@strawberry.type(description="Tours that ended one way (cancelled, declined, no-show).")
class Outcome:
    count: int = strawberry.field(description="Distinct tours in the period.")
    reasons: list[ReasonCount] = strawberry.field(description="By reason, most frequent first.")

    @classmethod
    def of(cls, reasons: list[Reason]) -> Outcome:
        return cls(
            count=sum(r.count for r in reasons),
            reasons=[ReasonCount(reason=r.reason, count=r.count) for r in reasons],
        )


@strawberry.type(description="A realtor's (or the platform's) figures for one period.")
class PeriodFigures:
    from_: datetime = strawberry.field(name="from", description="Start of the period.")
    to: datetime = strawberry.field(description="End of the period (exclusive).")
    funnel: list[FunnelStep] = strawberry.field(description="The funnel, step by step.")
    cancellations: Outcome = strawberry.field(description="Tours cancelled, by reason.")
    declines: Outcome = strawberry.field(description="Requests the realtor declined, by reason.")
    no_shows: Outcome = strawberry.field(description="Tours nobody started, by reason.")
    median_response_minutes: float | None = strawberry.field(
        description="Median time from a request in the period to the realtor's answer "
        "(confirmed or declined); null when none was answered."
    )
    average_tour_minutes: float | None = strawberry.field(
        description="Average time from start to completion of the tours completed in the period."
    )

    @classmethod
    def of(cls, report: reads.PeriodReport) -> PeriodFigures:
        return cls(
            from_=report.period.start,
            to=report.period.end,
            funnel=[FunnelStep.of(s) for s in report.steps],
            cancellations=Outcome.of(list(report.outcomes.get("Tour Cancelled", []))),
            declines=Outcome.of(list(report.outcomes.get("Tour Declined", []))),
            no_shows=Outcome.of(list(report.outcomes.get("Tour No Show", []))),
            median_response_minutes=report.median_response_minutes,
            average_tour_minutes=report.average_tour_minutes,
        )


def _count(counts: Mapping[str, int], name: str) -> int:
    return int(counts.get(name, 0))


@strawberry.type(description="The funnel's counts for one day or one listing.")
class FunnelCounts:
    views: int = strawberry.field(description="Property Views.")
    requested: int = strawberry.field(description="Tours requested.")
    scheduled: int = strawberry.field(description="Tours confirmed.")
    started: int = strawberry.field(description="Tours started.")
    completed: int = strawberry.field(description="Tours completed.")

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> FunnelCounts:
        return cls(
            views=_count(counts, "Property View"),
            requested=_count(counts, "Tour Requested"),
            scheduled=_count(counts, "Tour Scheduled"),
            started=_count(counts, "Tour Started"),
            completed=_count(counts, "Tour Completed"),
        )


@strawberry.type(description="One local day of a daily series.")
class FunnelDay:
    date: str = strawberry.field(description="The date (YYYY-MM-DD) in the series' zone.")
    counts: FunnelCounts = strawberry.field(description="The funnel's counts that day.")


@strawberry.type(description="One listing's row of a realtor's dashboard.")
class ListingFunnel:
    listing: Listing = strawberry.field(description="The listing.")
    counts: FunnelCounts = strawberry.field(description="Its funnel's counts in the period.")


@strawberry.type(
    description="What a realtor's listings and tours produced, for a period and the period "
    "of equal length before it."
)
class RealtorDashboard:
    time_zone: str = strawberry.field(description="The realtor's zone, which cuts the days.")
    current: PeriodFigures = strawberry.field(description="The period asked for.")
    previous: PeriodFigures = strawberry.field(
        description="The period of equal length just before, for comparison."
    )
    listings: list[ListingFunnel] = strawberry.field(
        description="Per listing with any event in the period, busiest first."
    )
    daily: list[FunnelDay] = strawberry.field(
        description="Every day of the period in the realtor's zone, days without events too."
    )

    @classmethod
    def of(cls, report: reads.Dashboard) -> RealtorDashboard:
        return cls(
            time_zone=report.time_zone,
            current=PeriodFigures.of(report.current),
            previous=PeriodFigures.of(report.previous),
            listings=[
                ListingFunnel(
                    listing=Listing(id=strawberry.ID(str(r.key))), counts=FunnelCounts.of(r.counts)
                )
                for r in report.listings
            ],
            daily=_days(report.daily),
        )


def _days(days: list[reads.Day]) -> list[FunnelDay]:
    return [FunnelDay(date=d.day.isoformat(), counts=FunnelCounts.of(d.counts)) for d in days]


@strawberry.type(description="One day of a listing's statistics, in the listing's zone.")
class ListingDay:
    date: str = strawberry.field(description="The date (YYYY-MM-DD) in the listing's zone.")
    views: int = strawberry.field(description="Property Views.")
    requests: int = strawberry.field(description="Tours requested.")
    tours: int = strawberry.field(description="Tours completed.")


@strawberry.type(description="What one listing produced in a period.")
class ListingStats:
    from_: datetime = strawberry.field(name="from", description="Start of the period.")
    to: datetime = strawberry.field(description="End of the period (exclusive).")
    views: int = strawberry.field(description="Property Views.")
    requests: int = strawberry.field(description="Tours requested.")
    tours: int = strawberry.field(description="Tours completed.")
    completion_rate: float | None = strawberry.field(
        description="Tours completed over tours scheduled (0..1); null when none was scheduled."
    )
    daily: list[ListingDay] = strawberry.field(description="Every day of the period.")

    @classmethod
    def of(cls, report: reads.ListingReport) -> ListingStats:
        counts = report.counts
        scheduled = _count(counts, "Tour Scheduled")
        completed = _count(counts, "Tour Completed")
        return cls(
            from_=report.period.start,
            to=report.period.end,
            views=_count(counts, "Property View"),
            requests=_count(counts, "Tour Requested"),
            tours=completed,
            completion_rate=round(completed / scheduled, 4) if scheduled else None,
            daily=[
                ListingDay(
                    date=d.day.isoformat(),
                    views=_count(d.counts, "Property View"),
                    requests=_count(d.counts, "Tour Requested"),
                    tours=_count(d.counts, "Tour Completed"),
                )
                for d in report.daily
            ],
        )


@strawberry.type(description="One UTC day's count.")
class DayCount:
    date: str = strawberry.field(description="The UTC date (YYYY-MM-DD).")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="The platform's figures for a period (ADMIN).")
class PlatformStats:
    figures: PeriodFigures = strawberry.field(description="The funnel across the platform.")
    active_realtors: int = strawberry.field(
        description="Realtors with any listing or tour event in the period."
    )
    active_buyers: int = strawberry.field(
        description="Signed-in users who viewed a listing, booked or requested a tour."
    )
    tours_per_day: list[DayCount] = strawberry.field(description="Tours completed per UTC day.")
    video_minutes: int = strawberry.field(description="Minutes of tour video meetings ended.")

    @classmethod
    def of(cls, report: reads.PlatformReport) -> PlatformStats:
        return cls(
            figures=PeriodFigures.of(report.current),
            active_realtors=report.active_realtors,
            active_buyers=report.active_buyers,
            tours_per_day=[
                DayCount(date=d.day.isoformat(), count=_count(d.counts, "Tour Completed"))
                for d in report.daily
            ],
            video_minutes=report.video_minutes,
        )


@strawberry.federation.type(keys=["id"], description="A user (owned by identity).")
class User:
    id: strawberry.ID = strawberry.field(description="The user's id.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)

    @strawberry.field(
        description="What the realtor's listings and tours produced in [from, to), with the "
        "period before for comparison (the realtor themself, or an admin)."
    )
    async def dashboard(
        self,
        info: Info[Context, None],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> RealtorDashboard:
        who = await info.context.user()
        report = await services(info).reports.dashboard(who, parse_id(self.id), from_, to)
        return RealtorDashboard.of(report)


@strawberry.federation.type(keys=["id"], description="A listing (owned by listings).")
class Listing:
    id: strawberry.ID = strawberry.field(description="The listing's id.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Listing:
        return cls(id=id)

    @strawberry.field(
        description="Views, requests and tours of the listing in [from, to) (default: the "
        "last 30 days), by day (its realtor, or an admin)."
    )
    async def stats(
        self,
        info: Info[Context, None],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> ListingStats:
        who = await info.context.user()
        report = await services(info).reports.listing_stats(who, parse_id(self.id), from_, to)
        return ListingStats.of(report)
