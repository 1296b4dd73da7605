"""Every read: the dashboards' figures.

A realtor's dashboard reads `realtor_days` (the rollups summed over listings), the rollups
for its rows per listing and the tours' first steps (the timings), in one round trip; a
listing's statistics read the rollups; the platform's figures read `platform_days`,
`platform_actives` and the tours' steps. None reads the raw events.

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

from analytics.domain import NOBODY
from analytics.reports import FUNNEL, Reason


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


# A dashboard in one statement: the realtor's zone (from identity; UTC when unknown) and the
# local days each period touches in it (as `reports.local_days` cuts them: the day of the
# start, the day of the last instant before the end) with the instants those days span;
# then the period's days (funnel, outcomes, the daily series) and the period before's sums
# from `realtor_days`, the period's sums per listing from the rollups, and both periods'
# timings from the tours' steps. Text for the driver (`%(name)s`), sent as is and prepared
# by psycopg after a few uses.
_BOARD = """
    WITH zone AS (
        SELECT coalesce((SELECT time_zone FROM people WHERE id = %(realtor)s), 'UTC') AS tz
    ), cut AS (
        SELECT tz, first, last, before_first, before_last,
               first::timestamp AT TIME ZONE tz AS start,
               (last + 1)::timestamp AT TIME ZONE tz AS "end",
               before_first::timestamp AT TIME ZONE tz AS before_start,
               (before_last + 1)::timestamp AT TIME ZONE tz AS before_end
        FROM zone, LATERAL (
            SELECT (%(start)s::timestamptz AT TIME ZONE tz)::date AS first,
                   ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE tz)::date
                       AS last,
                   (%(before_start)s::timestamptz AT TIME ZONE tz)::date AS before_first,
                   ((%(before_end)s::timestamptz - interval '1 microsecond') AT TIME ZONE tz)::date
                       AS before_last
        ) AS local
    )
    SELECT 'zone' AS part, NULL::date AS day, NULL::uuid AS listing_id, tz AS name,
           '' AS reason, 0::bigint AS n, NULL::float8 AS value FROM cut
    UNION ALL
    SELECT 'day', day, NULL, name, reason, n, NULL FROM realtor_days, cut
    WHERE realtor_id = %(realtor)s AND day >= cut.first AND day <= cut.last AND n <> 0
    UNION ALL
    SELECT 'previous', cut.before_first, NULL, name, reason, sum(n)::bigint, NULL
    FROM realtor_days, cut
    WHERE realtor_id = %(realtor)s AND day >= cut.before_first AND day <= cut.before_last
    GROUP BY cut.before_first, name, reason HAVING sum(n) <> 0
    UNION ALL
    SELECT 'listing', cut.first, listing_id, name, '', sum(n)::bigint, NULL FROM rollups, cut
    WHERE realtor_id = %(realtor)s AND day >= cut.first AND day <= cut.last
      AND name = ANY(%(funnel)s)
    GROUP BY cut.first, listing_id, name HAVING sum(n) <> 0
    UNION ALL
    SELECT 'timing', NULL, NULL, 'current', '', 0, response FROM (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY took_seconds) / 60 AS response
        FROM tour_steps, cut WHERE realtor_id = %(realtor)s AND name = 'Tour Requested'
          AND occurred_at >= cut.start AND occurred_at < cut."end"
          AND took_seconds IS NOT NULL) AS r
    UNION ALL
    SELECT 'timing', NULL, NULL, 'current', 'tour', 0, avg(took_seconds) / 60
    FROM tour_steps, cut
    WHERE realtor_id = %(realtor)s AND name = 'Tour Completed'
      AND occurred_at >= cut.start AND occurred_at < cut."end" AND took_seconds IS NOT NULL
    UNION ALL
    SELECT 'timing', NULL, NULL, 'previous', '', 0, response FROM (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY took_seconds) / 60 AS response
        FROM tour_steps, cut WHERE realtor_id = %(realtor)s AND name = 'Tour Requested'
          AND occurred_at >= cut.before_start AND occurred_at < cut.before_end
          AND took_seconds IS NOT NULL) AS r
    UNION ALL
    SELECT 'timing', NULL, NULL, 'previous', 'tour', 0, avg(took_seconds) / 60
    FROM tour_steps, cut
    WHERE realtor_id = %(realtor)s AND name = 'Tour Completed'
      AND occurred_at >= cut.before_start AND occurred_at < cut.before_end
      AND took_seconds IS NOT NULL
"""

# The platform's figures: its days' counts, the distinct active realtors and buyers of the
# days, and the timings over every tour's steps of the days.
_PLATFORM = """
    SELECT 'day' AS part, day, name, reason, n, NULL::float8 AS value FROM platform_days
    WHERE day >= %(first)s AND day <= %(last)s AND n <> 0
    UNION ALL
    SELECT 'active', NULL, role, '', count(DISTINCT user_id), NULL FROM platform_actives
    WHERE day >= %(first)s AND day <= %(last)s GROUP BY role
    UNION ALL
    SELECT 'timing', NULL, 'response', '', 0, response FROM (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY took_seconds) / 60 AS response
        FROM tour_steps WHERE name = 'Tour Requested' AND occurred_at >= %(start)s
          AND occurred_at < %(end)s AND took_seconds IS NOT NULL) AS r
    UNION ALL
    SELECT 'timing', NULL, 'tour', '', 0, avg(took_seconds) / 60 FROM tour_steps
    WHERE name = 'Tour Completed' AND occurred_at >= %(start)s AND occurred_at < %(end)s
      AND took_seconds IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class Days:
    """The local days first..last of a period and the instants they span."""

    first: date
    last: date
    start: datetime
    end: datetime


@dataclass(slots=True)
class Board:
    """What a dashboard reads: the period's rows per day (no listing), the period before's
    sums (on its first day), the period's sums per listing (reason '', on its first day), each
    period's timings, and the realtor's zone the days were cut in."""

    days: list[Counted]
    previous: list[Counted]
    listings: list[Counted]
    timings: dict[str, tuple[float | None, float | None]]
    time_zone: str


@dataclass(slots=True)
class PlatformRows:
    """The platform's days' counts (no listing), active users by role, and the timings."""

    days: list[Counted]
    actives: dict[str, int]
    timings: tuple[float | None, float | None]


def _minutes(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _scope(
    realtor_id: uuid.UUID | None, listing_id: uuid.UUID | None
) -> tuple[str, dict[str, Any]]:
    if listing_id is not None:
        return "listing_id = :scope", {"scope": listing_id}
    if realtor_id is not None:
        return "realtor_id = :scope", {"scope": realtor_id}
    return "TRUE", {}


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

    async def board(
        self,
        realtor_id: uuid.UUID,
        period: tuple[datetime, datetime],
        before: tuple[datetime, datetime],
    ) -> Board:
        """A realtor's dashboard rows for a period and the one before, read as the local
        days they touch in the realtor's zone (`Board.time_zone`), in one round trip."""
        values = {
            "realtor": realtor_id, "start": period[0], "end": period[1],
            "before_start": before[0], "before_end": before[1], "funnel": list(FUNNEL),
        }  # fmt: skip
        async with self.db.reads() as conn:
            rows = (await conn.exec_driver_sql(_BOARD, values)).all()
        board = Board([], [], [], {"current": (None, None), "previous": (None, None)}, "UTC")
        for part, day, listing, name, reason, n, value in rows:
            if part == "day":
                board.days.append(Counted(day, NOBODY, name, reason, int(n)))
            elif part == "previous":
                board.previous.append(Counted(day, NOBODY, name, reason, int(n)))
            elif part == "listing":
                board.listings.append(Counted(day, listing, name, reason, int(n)))
            elif part == "zone":
                board.time_zone = str(name)
            else:
                response, minutes = board.timings[name]
                if reason == "tour":
                    board.timings[name] = (response, _minutes(value))
                else:
                    board.timings[name] = (_minutes(value), minutes)
        return board

    async def platform_rows(self, days: Days) -> PlatformRows:
        """The platform's counts, active users and timings for whole UTC days."""
        values = {"first": days.first, "last": days.last, "start": days.start, "end": days.end}
        async with self.db.reads() as conn:
            rows = (await conn.exec_driver_sql(_PLATFORM, values)).all()
        found = PlatformRows([], {}, (None, None))
        response: float | None = None
        minutes: float | None = None
        for part, day, name, reason, n, value in rows:
            if part == "day":
                found.days.append(Counted(day, NOBODY, name, reason, int(n)))
            elif part == "active":
                found.actives[name] = int(n)
            elif name == "response":
                response = _minutes(value)
            else:
                minutes = _minutes(value)
        found.timings = (response, minutes)
        return found
