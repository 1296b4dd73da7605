"""Every read: the dashboards' figures.

A realtor's dashboard and a listing's statistics read the rollups (counts per realtor,
local day, listing, step and reason) and the tours' first steps (the timings), never the raw
events; the platform's figures, for admins, are counted from the raw events.

A scope is one realtor (`realtor_id`), one listing (`listing_id`) or the whole platform
(neither). Tour steps count distinct tours, so a tour confirmed and rescheduled counts once
at each step; views count the Property Views the 30-minute rule kept. Statements are put
together from this module's own constant fragments (the scope's column, the counts), never
from input: every value is a bound parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from servicekit.db import Database
from sqlalchemy import text

from analytics.reports import FUNNEL, OUTCOMES, Period, Reason

_COUNTS = """
    count(*) FILTER (WHERE name = 'Property View') AS "Property View",
    count(DISTINCT tour_id) FILTER (WHERE name = 'Tour Requested') AS "Tour Requested",
    count(DISTINCT tour_id) FILTER (WHERE name = 'Tour Scheduled') AS "Tour Scheduled",
    count(DISTINCT tour_id) FILTER (WHERE name = 'Tour Started') AS "Tour Started",
    count(DISTINCT tour_id) FILTER (WHERE name = 'Tour Completed') AS "Tour Completed"
"""
_IN_PERIOD = "occurred_at >= :start AND occurred_at < :end"


@dataclass(slots=True)
class PeriodFigures:
    counts: dict[str, int]
    outcomes: dict[str, list[Reason]] = field(default_factory=dict)
    median_response_minutes: float | None = None
    average_tour_minutes: float | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """Funnel counts of one listing or one day."""

    key: Any
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Counted:
    """One rollup row: how many of a step (and reason) on a listing on a local day."""

    day: date
    listing_id: uuid.UUID
    name: str
    reason: str
    n: int


# Each tour's timings are kept on its own rows (`tour_steps.took_seconds`): the period's
# requests and completions are one index-only range scan each. The median is exact.
_TIMINGS = """
    SELECT
        (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY took_seconds) FROM tour_steps
         WHERE {where} AND name = 'Tour Requested' AND occurred_at >= :start
           AND occurred_at < :end AND took_seconds IS NOT NULL) / 60 AS response,
        (SELECT avg(took_seconds) FROM tour_steps
         WHERE {where} AND name = 'Tour Completed' AND occurred_at >= :start
           AND occurred_at < :end AND took_seconds IS NOT NULL) / 60 AS tour
"""


def _scope(
    realtor_id: uuid.UUID | None, listing_id: uuid.UUID | None
) -> tuple[str, dict[str, Any]]:
    if listing_id is not None:
        return "listing_id = :scope", {"scope": listing_id}
    if realtor_id is not None:
        return "realtor_id = :scope", {"scope": realtor_id}
    return "TRUE", {}


def _counts(row: Any) -> dict[str, int]:
    mapping = row._mapping
    return {name: int(mapping[name]) for name in FUNNEL}


class AnalyticsQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _all(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        async with self.db.session() as session:
            return (await session.execute(text(sql), dict(params))).all()

    async def time_zone(self, user_id: uuid.UUID) -> str | None:
        found = await self._all("SELECT time_zone FROM people WHERE id = :id", {"id": user_id})
        return str(found[0].time_zone) if found else None

    async def listing(self, listing_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
        """The listing's realtor and zone, when analytics knows the listing."""
        found = await self._all(
            "SELECT realtor_id, time_zone FROM listings WHERE id = :id", {"id": listing_id}
        )
        return (found[0].realtor_id, str(found[0].time_zone)) if found else None

    async def counted(
        self,
        first: date,
        last: date,
        *,
        realtor_id: uuid.UUID | None = None,
        listing_id: uuid.UUID | None = None,
    ) -> list[Counted]:
        """The rollup rows of a realtor or a listing for the local days first..last."""
        where, params = _scope(realtor_id, listing_id)
        rows = await self._all(
            f"""SELECT day, listing_id, name, reason, n FROM rollups
                WHERE {where} AND day >= :first AND day <= :last AND n <> 0""",  # noqa: S608
            params | {"first": first, "last": last},
        )
        return [Counted(r.day, r.listing_id, r.name, r.reason, int(r.n)) for r in rows]

    async def timings(
        self,
        start: datetime,
        end: datetime,
        *,
        realtor_id: uuid.UUID | None = None,
        listing_id: uuid.UUID | None = None,
    ) -> tuple[float | None, float | None]:
        """Median minutes from a request in [start, end) to its answer, and average minutes
        from start to completion of the tours completed in it, from the timings kept on the
        tours' steps."""
        where, params = _scope(realtor_id, listing_id)
        found = await self._all(_TIMINGS.format(where=where), params | {"start": start, "end": end})
        response, minutes = found[0].response, found[0].tour
        return (
            None if response is None else round(float(response), 2),
            None if minutes is None else round(float(minutes), 2),
        )

    async def figures(
        self,
        period: Period,
        *,
        realtor_id: uuid.UUID | None = None,
        listing_id: uuid.UUID | None = None,
    ) -> PeriodFigures:
        where, params = _scope(realtor_id, listing_id)
        params |= {"start": period.start, "end": period.end}
        counts = await self._all(
            f"SELECT {_COUNTS} FROM events WHERE {where} AND {_IN_PERIOD}",  # noqa: S608
            params,
        )
        figures = PeriodFigures(_counts(counts[0]), {name: [] for name in OUTCOMES})
        for row in await self._all(
            f"""SELECT name, properties->>'reason' AS reason, count(DISTINCT tour_id) AS n
                FROM events WHERE {where} AND {_IN_PERIOD} AND name = ANY(:outcomes)
                GROUP BY 1, 2 ORDER BY 3 DESC, 2""",  # noqa: S608
            params | {"outcomes": list(OUTCOMES)},
        ):
            figures.outcomes[row.name].append(Reason(row.reason, int(row.n)))
        timing = await self._all(
            f"""
            WITH asked AS (
                SELECT tour_id, min(occurred_at) AS at FROM events
                WHERE {where} AND {_IN_PERIOD} AND name = 'Tour Requested' GROUP BY tour_id
            ), answered AS (
                SELECT e.tour_id, min(e.occurred_at) AS at FROM events e JOIN asked USING (tour_id)
                WHERE e.name IN ('Tour Scheduled', 'Tour Declined') GROUP BY e.tour_id
            ), held AS (
                SELECT tour_id, min(occurred_at) AS at FROM events
                WHERE {where} AND {_IN_PERIOD} AND name = 'Tour Completed' GROUP BY tour_id
            ), began AS (
                SELECT e.tour_id, min(e.occurred_at) AS at FROM events e JOIN held USING (tour_id)
                WHERE e.name = 'Tour Started' GROUP BY e.tour_id
            )
            SELECT
                (SELECT percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY extract(epoch FROM answered.at - asked.at))
                 FROM asked JOIN answered USING (tour_id) WHERE answered.at IS NOT NULL) / 60 AS response,
                (SELECT avg(extract(epoch FROM held.at - began.at))
                 FROM held JOIN began USING (tour_id) WHERE held.at >= began.at) / 60 AS tour
            """,  # noqa: S608
            params,
        )
        response, minutes = timing[0].response, timing[0].tour
        figures.median_response_minutes = None if response is None else round(float(response), 2)
        figures.average_tour_minutes = None if minutes is None else round(float(minutes), 2)
        return figures

    async def by_day(
        self,
        period: Period,
        zone: str,
        *,
        realtor_id: uuid.UUID | None = None,
        listing_id: uuid.UUID | None = None,
    ) -> dict[date, Row]:
        """Funnel counts per local date in `zone` (dates without events are absent)."""
        where, params = _scope(realtor_id, listing_id)
        rows = await self._all(
            f"""SELECT (occurred_at AT TIME ZONE :zone)::date AS day, {_COUNTS} FROM events
                WHERE {where} AND {_IN_PERIOD} GROUP BY 1""",  # noqa: S608
            params | {"zone": zone, "start": period.start, "end": period.end},
        )
        return {r.day: Row(r.day, _counts(r)) for r in rows}

    async def platform(self, period: Period) -> tuple[int, int, int]:
        """Active realtors and buyers, and video minutes, across the platform."""
        rows = await self._all(
            f"""SELECT
                  count(DISTINCT realtor_id) AS realtors,
                  count(DISTINCT user_id) FILTER (
                      WHERE name IN ('Property View', 'Tour Booking', 'Tour Requested')
                        AND (realtor_id IS NULL OR user_id <> realtor_id)) AS buyers,
                  coalesce(sum((properties->>'durationSeconds')::bigint)
                      FILTER (WHERE name = 'Video Call End'), 0) AS seconds
                FROM events WHERE {_IN_PERIOD}""",  # noqa: S608
            {"start": period.start, "end": period.end},
        )
        row = rows[0]
        return int(row.realtors), int(row.buyers), int(row.seconds) // 60
