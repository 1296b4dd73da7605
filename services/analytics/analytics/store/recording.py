"""Recording events, a whole batch at a time: the new ids and rows in one statement, the
tours' first steps in two, and every count the batch adds (rollups, `realtor_days`, the
platform's days and active users) summed per key in Python, then written in one statement.

A batch of one (a frontend's event) takes the same path, so there is one way to count.
Each statement's work is bounded by the batch, never by the history: a fetched batch costs
about ten round trips however many events it holds.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from servicekit.db import UnitOfWork
from sqlalchemy import text

from analytics.domain import (
    BUYING,
    NOBODY,
    PROPERTY_VIEW,
    USER_REGISTRATION,
    VIDEO_SECONDS,
    Recorded,
)
from analytics.reports import zone_of

# A tour's timings are recomputed when one of their ends is stored or moves earlier.
_TIMED = frozenset({"Tour Requested", "Tour Scheduled", "Tour Declined", "Tour Started",
                    "Tour Completed"})  # fmt: skip

_LOCK_LISTINGS = text(
    """SELECT pg_advisory_xact_lock_shared(hashtextextended(CAST(l AS text), 0))
       FROM unnest(CAST(:ids AS uuid[])) AS l"""
)
_OWNERS = text("SELECT id, realtor_id FROM listings WHERE id = ANY(CAST(:ids AS uuid[]))")
_LOCK_REALTORS = text(
    """SELECT pg_advisory_xact_lock_shared(hashtextextended(CAST(r AS text), 1))
       FROM unnest(CAST(:ids AS uuid[])) AS r"""
)
# Held until commit by a transaction storing steps of the tours: another batch with steps of
# the same tours waits, then reads (and times) them with what this one stored.
_LOCK_TOURS = text(
    """SELECT pg_advisory_xact_lock(hashtextextended(CAST(t AS text), 2))
       FROM unnest(CAST(:ids AS uuid[])) AS t"""
)
_ZONES = text("SELECT id, time_zone FROM people WHERE id = ANY(CAST(:ids AS uuid[]))")
# The ids into `event_keys` (nothing for those already there), and the rows of the new ones
# into their months.
_ADD = text(
    """WITH fresh AS (
           INSERT INTO event_keys (id, occurred_at)
           SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:at AS timestamptz[]))
           ON CONFLICT DO NOTHING RETURNING id
       )
       INSERT INTO events (id, name, occurred_at, received_at, source, user_id, anonymous_id,
                           listing_id, realtor_id, tour_id, properties)
       SELECT e.id, e.name, e.at, :received, e.source, e.user_id, e.anon, e.listing, e.realtor,
              e.tour, CAST(e.props AS jsonb)
       FROM unnest(CAST(:id AS uuid[]), CAST(:name AS text[]), CAST(:at AS timestamptz[]),
                   CAST(:source AS text[]), CAST(:user AS uuid[]), CAST(:anon AS text[]),
                   CAST(:listing AS uuid[]), CAST(:realtor AS uuid[]), CAST(:tour AS uuid[]),
                   CAST(:props AS text[]))
            AS e (id, name, at, source, user_id, anon, listing, realtor, tour, props)
       WHERE e.id IN (SELECT id FROM fresh)
       RETURNING id"""
)
# A User Registration seen again (identity's and the web's share one id) adds the properties
# the first lacked and keeps those it had.
_MERGE_REGISTRATION = text(
    """UPDATE events SET properties = CAST(:props AS jsonb) || properties,
                         user_id = coalesce(user_id, CAST(:user AS uuid))
       WHERE id = :id AND name = :name
         AND occurred_at = (SELECT occurred_at FROM event_keys WHERE id = :id)"""
)
_PRIOR_STEPS = text(
    """SELECT t.tour_id, t.name, t.occurred_at, t.day, t.realtor_id, t.listing_id, t.reason
       FROM tour_steps t
       JOIN unnest(CAST(:tour AS uuid[]), CAST(:name AS text[])) AS k (tour_id, name)
         ON t.tour_id = k.tour_id AND t.name = k.name
       FOR UPDATE OF t"""
)
# The first step of a tour stored, or moved earlier (never later: the WHERE); `inserted`
# tells which, so a row another transaction made meanwhile is noticed, never counted twice.
_KEEP_STEPS = text(
    """INSERT INTO tour_steps AS t (tour_id, name, occurred_at, day, realtor_id, listing_id,
                                   reason)
       SELECT * FROM unnest(CAST(:tour AS uuid[]), CAST(:name AS text[]),
                            CAST(:at AS timestamptz[]), CAST(:day AS date[]),
                            CAST(:realtor AS uuid[]), CAST(:listing AS uuid[]),
                            CAST(:reason AS text[]))
       ON CONFLICT (tour_id, name) DO UPDATE SET occurred_at = excluded.occurred_at,
           day = excluded.day, realtor_id = excluded.realtor_id,
           listing_id = excluded.listing_id, reason = excluded.reason
       WHERE excluded.occurred_at < t.occurred_at
       RETURNING t.tour_id, t.name, (t.xmax = 0) AS inserted"""
)
# The timings of the batch's tours, recomputed once per tour.
_RETIME = text(
    """UPDATE tour_steps t SET took_seconds = CASE t.name
           WHEN 'Tour Requested' THEN (
               SELECT extract(epoch FROM min(s.occurred_at) - t.occurred_at) FROM tour_steps s
               WHERE s.tour_id = t.tour_id AND s.name IN ('Tour Scheduled', 'Tour Declined'))
           ELSE (
               SELECT extract(epoch FROM t.occurred_at - s.occurred_at) FROM tour_steps s
               WHERE s.tour_id = t.tour_id AND s.name = 'Tour Started'
                 AND t.occurred_at >= s.occurred_at)
           END
       WHERE t.tour_id = ANY(CAST(:tours AS uuid[]))
         AND t.name IN ('Tour Requested', 'Tour Completed')"""
)
# Every count of the batch, summed per key: one upsert per table in one statement, plus the
# active users and the deliveries.
_COUNT = text(
    """WITH rolled AS (
           INSERT INTO rollups AS r (realtor_id, day, listing_id, name, reason, n)
           SELECT * FROM unnest(CAST(:r_realtor AS uuid[]), CAST(:r_day AS date[]),
                                CAST(:r_listing AS uuid[]), CAST(:r_name AS text[]),
                                CAST(:r_reason AS text[]), CAST(:r_n AS bigint[]))
           ON CONFLICT (realtor_id, day, listing_id, name, reason)
           DO UPDATE SET n = r.n + excluded.n
       ), days AS (
           INSERT INTO realtor_days AS d (realtor_id, day, name, reason, n)
           SELECT * FROM unnest(CAST(:d_realtor AS uuid[]), CAST(:d_day AS date[]),
                                CAST(:d_name AS text[]), CAST(:d_reason AS text[]),
                                CAST(:d_n AS bigint[]))
           ON CONFLICT (realtor_id, day, name, reason) DO UPDATE SET n = d.n + excluded.n
       ), platform AS (
           INSERT INTO platform_days AS p (day, name, reason, n)
           SELECT * FROM unnest(CAST(:p_day AS date[]), CAST(:p_name AS text[]),
                                CAST(:p_reason AS text[]), CAST(:p_n AS bigint[]))
           ON CONFLICT (day, name, reason) DO UPDATE SET n = p.n + excluded.n
       ), active AS (
           INSERT INTO platform_actives (day, role, user_id)
           SELECT * FROM unnest(CAST(:a_day AS date[]), CAST(:a_role AS text[]),
                                CAST(:a_user AS uuid[]))
           ON CONFLICT DO NOTHING
       )
       INSERT INTO deliveries (destination, event_id, due_at)
       SELECT * FROM unnest(CAST(:q_destination AS text[]), CAST(:q_event AS uuid[]),
                            CAST(:q_due AS timestamptz[]))
       ON CONFLICT DO NOTHING"""
)


class ConcurrentStep(RuntimeError):
    """A tour's step was stored by another transaction between reading and writing it; the
    batch is counted again (it rolls back and comes back alone)."""


@dataclass(frozen=True, slots=True)
class _Step:
    occurred_at: datetime
    day: date
    realtor_id: uuid.UUID
    listing_id: uuid.UUID
    reason: str


def _plain(values: Iterable[uuid.UUID | datetime | date | int | None]) -> str:
    """Values whose text never needs quoting (ids, instants, days, counts) as one array
    literal: psycopg's list dumper checks every element's text for quoting (about a fifth of
    a batch's CPU in this process, profiled; 320 -> 306 us CPU per event end to end)."""
    joined = ",".join(
        "NULL" if v is None else v.isoformat() if isinstance(v, date) else str(v) for v in values
    )
    return "{" + joined + "}"


def _texts(values: Iterable[str | None]) -> str:
    """Text values as one array literal, each quoted (backslash and double quote escaped):
    cheaper than psycopg's list dumper, which checks and dumps every element on its own."""
    quoted = (
        "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values
    )
    return "{" + ",".join(quoted) + "}"


def _utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


class _Tally:
    """The counts one batch adds, per key (deltas of zero are dropped before writing)."""

    def __init__(self) -> None:
        self.rollups: Counter[tuple[uuid.UUID, date, uuid.UUID, str, str]] = Counter()
        self.platform: Counter[tuple[date, str, str]] = Counter()
        self.actives: set[tuple[date, str, uuid.UUID]] = set()

    def step(self, realtor: uuid.UUID, day: date, listing: uuid.UUID, name: str,
             reason: str, at: datetime, n: int) -> None:  # fmt: skip
        self.rollups[(realtor, day, listing, name, reason)] += n
        self.platform[(_utc_day(at), name, reason)] += n

    def params(self) -> dict[str, Any]:
        # In key order: batches recorded at the same time lock their shared rows in the same
        # order, so they wait for each other instead of deadlocking.
        rollups = sorted((k, n) for k, n in self.rollups.items() if n)
        days: Counter[tuple[uuid.UUID, date, str, str]] = Counter()
        for (realtor, day, _, name, reason), n in rollups:
            days[(realtor, day, name, reason)] += n
        summed = sorted((k, n) for k, n in days.items() if n)
        platform = sorted((k, n) for k, n in self.platform.items() if n)
        actives = sorted(self.actives)
        return {
            "r_realtor": _plain([k[0] for k, _ in rollups]), "r_day": _plain([k[1] for k, _ in rollups]),
            "r_listing": _plain([k[2] for k, _ in rollups]), "r_name": _texts([k[3] for k, _ in rollups]),
            "r_reason": _texts([k[4] for k, _ in rollups]), "r_n": _plain([n for _, n in rollups]),
            "d_realtor": _plain([k[0] for k, _ in summed]), "d_day": _plain([k[1] for k, _ in summed]),
            "d_name": _texts([k[2] for k, _ in summed]), "d_reason": _texts([k[3] for k, _ in summed]),
            "d_n": _plain([n for _, n in summed]),
            "p_day": _plain([k[0] for k, _ in platform]), "p_name": _texts([k[1] for k, _ in platform]),
            "p_reason": _texts([k[2] for k, _ in platform]), "p_n": _plain([n for _, n in platform]),
            "a_day": _plain([k[0] for k in actives]), "a_role": _texts([k[1] for k in actives]),
            "a_user": _plain([k[2] for k in actives]),
        }  # fmt: skip


async def _credit_listings(uow: UnitOfWork, events: Sequence[Recorded]) -> None:
    """Credit each event naming only a listing to the listing's realtor, when known. Holds
    each listing's lock shared until commit, so a listing arriving meanwhile
    (`save_listing`) waits and then credits these events too."""
    unknown = sorted({e.listing_id for e in events if e.listing_id and e.realtor_id is None})
    if not unknown:
        return
    await uow.session.execute(_LOCK_LISTINGS, {"ids": unknown})
    owners = dict((await uow.session.execute(_OWNERS, {"ids": unknown})).tuples().all())
    for event in events:
        if event.listing_id is not None and event.realtor_id is None:
            event.realtor_id = owners.get(event.listing_id)


async def _zones(uow: UnitOfWork, events: Sequence[Recorded]) -> dict[uuid.UUID, str]:
    """The zones of the realtors whose days the batch counts, read under their locks held
    shared until commit: a zone arriving meanwhile (`save_person`) waits, then cuts these
    events' days again too."""
    realtors = sorted(
        {e.realtor_id for e in events if e.realtor_id and (e.counted_view or e.tour_step)}
    )
    if not realtors:
        return {}
    await uow.session.execute(_LOCK_REALTORS, {"ids": realtors})
    return dict((await uow.session.execute(_ZONES, {"ids": realtors})).tuples().all())


def _local_day(at: datetime, realtor: uuid.UUID | None, zones: dict[uuid.UUID, str]) -> date:
    zone = zones.get(realtor) if realtor is not None else None
    return at.astimezone(zone_of(zone)).date()


async def _store(uow: UnitOfWork, events: Sequence[Recorded], received_at: datetime) -> set[Any]:
    found = await uow.session.execute(
        _ADD,
        {
            "received": received_at,
            "id": _plain([e.id for e in events]), "name": _texts([e.name for e in events]),
            "at": _plain([e.occurred_at for e in events]), "source": _texts([e.source for e in events]),
            "user": _plain([e.user_id for e in events]), "anon": _texts([e.anonymous_id for e in events]),
            "listing": _plain([e.listing_id for e in events]),
            "realtor": _plain([e.realtor_id for e in events]), "tour": _plain([e.tour_id for e in events]),
            "props": _texts([json.dumps(e.properties) for e in events]),
        },
    )  # fmt: skip
    return set(found.scalars())


async def _count_steps(
    uow: UnitOfWork, steps: Sequence[Recorded], zones: dict[uuid.UUID, str], tally: _Tally
) -> None:
    """Each tour's step counted once, on the local day of its earliest event: the batch's
    earliest per (tour, step) is stored when the step is new, or moves the count from the
    day it had when it is earlier. The tours are locked first: a batch recorded at the same
    time (overlapping batches of one stream) with steps of the same tours has committed
    before these are read, so the timings, which read a tour's other steps, see them all."""
    earliest: dict[tuple[uuid.UUID, str], Recorded] = {}
    for event in steps:
        assert event.tour_id is not None
        key = (event.tour_id, event.name)
        if key not in earliest or event.occurred_at < earliest[key].occurred_at:
            earliest[key] = event
    keys = sorted(earliest, key=lambda k: (str(k[0]), k[1]))
    # In one order everywhere (the ids' text), so two batches never wait for each other both.
    tours = sorted({k[0] for k in keys}, key=str)
    await uow.session.execute(_LOCK_TOURS, {"ids": _plain(tours)})
    rows = await uow.session.execute(
        _PRIOR_STEPS, {"tour": _plain([k[0] for k in keys]), "name": _texts([k[1] for k in keys])}
    )
    prior = {
        (r.tour_id, r.name): _Step(r.occurred_at, r.day, r.realtor_id, r.listing_id, r.reason)
        for r in rows
    }
    kept: list[tuple[tuple[uuid.UUID, str], Recorded, date]] = []
    for key in keys:
        event = earliest[key]
        before = prior.get(key)
        if before is not None and event.occurred_at >= before.occurred_at:
            continue
        kept.append((key, event, _local_day(event.occurred_at, event.realtor_id, zones)))
    if not kept:
        return
    written = await uow.session.execute(
        _KEEP_STEPS,
        {
            "tour": _plain([k[0] for k, _, _ in kept]), "name": _texts([k[1] for k, _, _ in kept]),
            "at": _plain([e.occurred_at for _, e, _ in kept]), "day": _plain([d for _, _, d in kept]),
            "realtor": _plain([e.realtor_id for _, e, _ in kept]),
            "listing": _plain([e.listing_id for _, e, _ in kept]),
            "reason": _texts([e.reason for _, e, _ in kept]),
        },
    )  # fmt: skip
    inserted = {(r.tour_id, r.name): bool(r.inserted) for r in written}
    for key, event, day in kept:
        before = prior.get(key)
        if inserted.get(key) is not (before is None):
            raise ConcurrentStep(f"the step {key[1]} of tour {key[0]} changed meanwhile")
        assert event.realtor_id is not None and event.listing_id is not None
        if before is not None:
            tally.step(before.realtor_id, before.day, before.listing_id, key[1], before.reason,
                       before.occurred_at, -1)  # fmt: skip
        tally.step(event.realtor_id, day, event.listing_id, key[1], event.reason,
                   event.occurred_at, 1)  # fmt: skip
    timed = sorted({str(key[0]) for key, _, _ in kept if key[1] in _TIMED})
    if timed:
        await uow.session.execute(_RETIME, {"tours": timed})


def _activity(event: Recorded, tally: _Tally) -> None:
    day = _utc_day(event.occurred_at)
    if event.realtor_id is not None:
        tally.actives.add((day, "realtor", event.realtor_id))
    user = event.user_id
    if user is not None and event.name in BUYING and user != event.realtor_id:
        tally.actives.add((day, "buyer", user))


async def record_all(
    uow: UnitOfWork,
    batch: Sequence[Recorded],
    received_at: datetime,
    destinations: Sequence[str] = (),
) -> list[Recorded]:
    """Store the events whose ids are not stored yet (the first of an id in the batch), add
    them to every count and queue them for each destination; returns the new ones, in order.
    Events naming only a listing are credited to its realtor when analytics knows it."""
    unique: dict[uuid.UUID, Recorded] = {}
    for event in batch:
        unique.setdefault(event.id, event)
    events = list(unique.values())
    if not events:
        return []
    await _credit_listings(uow, events)
    zones = await _zones(uow, events)
    stored = await _store(uow, events, received_at)
    for event in events:
        if event.id not in stored and event.name == USER_REGISTRATION:
            await uow.session.execute(
                _MERGE_REGISTRATION,
                {"id": event.id, "name": event.name, "user": event.user_id,
                 "props": json.dumps(event.properties)},
            )  # fmt: skip
    new = [e for e in events if e.id in stored]
    if not new:
        return []
    tally = _Tally()
    for event in new:
        _activity(event, tally)
        if event.counted_view:
            assert event.listing_id is not None
            realtor = event.realtor_id or NOBODY
            day = _local_day(event.occurred_at, event.realtor_id, zones)
            tally.step(realtor, day, event.listing_id, PROPERTY_VIEW, "", event.occurred_at, 1)
        elif event.name == "Video Call End":
            seconds = event.properties.get("durationSeconds")
            if isinstance(seconds, int) and not isinstance(seconds, bool):
                tally.platform[(_utc_day(event.occurred_at), VIDEO_SECONDS, "")] += seconds
    await _count_steps(uow, [e for e in new if e.tour_step], zones, tally)
    queued = [(d, e.id) for e in new for d in destinations]
    await uow.session.execute(
        _COUNT,
        tally.params()
        | {
            "q_destination": _texts([d for d, _ in queued]),
            "q_event": _plain([i for _, i in queued]),
            "q_due": _plain([received_at] * len(queued)),
        },
    )
    return new
