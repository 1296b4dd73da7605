"""Every statement that writes: recording events (`recording`), joining anonymous visitors
to their user, the per-visitor memory of counted Property Views, what is kept of listings and
users, counting again when a zone or a listing's realtor becomes known, deliveries, erasure
and the raw months."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from servicekit.db import UnitOfWork
from sqlalchemy import ARRAY, any_, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import UUID, insert

from analytics.domain import (
    BUYING,
    NOBODY,
    ListingFacts,
    PersonFacts,
    Recorded,
    counts_as_view,
    erasure_subjects,
)
from analytics.reports import zone_of
from analytics.store.recording import ConcurrentStep, record_all
from analytics.tables import (
    deliveries,
    erasures,
    event_keys,
    events,
    identity_links,
    listings,
    people,
    platform_actives,
    realtor_days,
    rollups,
    tour_steps,
    view_marks,
)

__all__ = ["ConcurrentStep", "record_all"]


def _realtor_lock(realtor_id: uuid.UUID | None) -> Any:
    return func.hashtextextended(str(realtor_id), 1)


async def _recount(uow: UnitOfWork, scope: str, params: dict[str, Any]) -> None:
    """Count the rollups of a scope (`realtor_id = :scope` or `listing_id = :scope`) again
    from the views still held and the tours' steps, for the days from `:since` on, in the
    realtor's zone of now."""
    await uow.session.execute(
        text(
            f"""UPDATE tour_steps t SET day = (t.occurred_at AT TIME ZONE
                    coalesce((SELECT time_zone FROM people WHERE id = t.realtor_id), 'UTC'))::date
                WHERE t.{scope} = :scope AND t.occurred_at >= :since"""  # noqa: S608
        ),
        params,
    )
    removed = await uow.session.execute(
        text(
            f"DELETE FROM rollups WHERE {scope} = :scope AND day >= :since_day "  # noqa: S608
            "RETURNING realtor_id"
        ),
        params,
    )
    touched = set(removed.scalars())
    added = await uow.session.execute(
        text(
            f"""INSERT INTO rollups (realtor_id, day, listing_id, name, reason, n)
                SELECT * FROM (
                    SELECT coalesce(e.realtor_id, :nobody) AS realtor_id,
                           (e.occurred_at AT TIME ZONE coalesce(p.time_zone, 'UTC'))::date AS day,
                           e.listing_id, e.name, '' AS reason, count(*) AS n
                    FROM events e LEFT JOIN people p ON p.id = e.realtor_id
                    WHERE e.{scope} = :scope AND e.name = 'Property View'
                      AND e.occurred_at >= :since
                    GROUP BY 1, 2, 3, 4
                    UNION ALL
                    SELECT realtor_id, day, listing_id, name, reason, count(*) FROM tour_steps
                    WHERE {scope} = :scope AND occurred_at >= :since GROUP BY 1, 2, 3, 4, 5
                ) AS counted WHERE day >= :since_day
                ON CONFLICT (realtor_id, day, listing_id, name, reason)
                DO UPDATE SET n = rollups.n + excluded.n RETURNING realtor_id"""  # noqa: S608
        ),
        params | {"nobody": NOBODY},
    )
    touched |= set(added.scalars())
    # The realtors' day sums follow their rollups: summed again for the days counted again.
    realtors = {"realtors": sorted(touched, key=str), "since_day": params["since_day"]}
    await uow.session.execute(
        text(
            "DELETE FROM realtor_days WHERE realtor_id = ANY(CAST(:realtors AS uuid[])) "
            "AND day >= :since_day"
        ),
        realtors,
    )
    await uow.session.execute(
        text(
            """INSERT INTO realtor_days (realtor_id, day, name, reason, n)
               SELECT realtor_id, day, name, reason, sum(n) FROM rollups
               WHERE realtor_id = ANY(CAST(:realtors AS uuid[])) AND day >= :since_day
               GROUP BY 1, 2, 3, 4"""
        ),
        realtors,
    )


async def _raw_horizon(uow: UnitOfWork) -> datetime:
    """The first instant whose raw events are all still held (the oldest month kept)."""
    found = await uow.session.execute(
        text(
            """SELECT min(to_date(substr(c.relname, 9), 'YYYYMM'))
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_p[0-9]{6}$'"""
        )
    )
    oldest: date | None = found.scalar_one_or_none()
    if oldest is None:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return datetime(oldest.year, oldest.month, 1, tzinfo=UTC)


async def recount(uow: UnitOfWork, *, realtor_id: uuid.UUID | None = None,
                  listing_id: uuid.UUID | None = None, time_zone: str = "UTC") -> None:  # fmt: skip
    """Count a realtor's (or a listing's) rollups again, in the realtor's zone of now: the
    whole local days from the oldest raw month kept on (older days keep their counts)."""
    horizon = await _raw_horizon(uow)
    since_day = horizon.astimezone(zone_of(time_zone)).date() + timedelta(days=1)
    since = datetime.combine(since_day, time(), zone_of(time_zone))
    scope, ident = ("listing_id", listing_id) if listing_id else ("realtor_id", realtor_id)
    await _recount(uow, scope, {"scope": ident, "since": since, "since_day": since_day})


async def linked_user(uow: UnitOfWork, anonymous_id: str) -> uuid.UUID | None:
    found = await uow.session.execute(
        select(identity_links.c.user_id).where(identity_links.c.anonymous_id == anonymous_id)
    )
    return found.scalar_one_or_none()


async def link_identity(
    uow: UnitOfWork, anonymous_id: str, user_id: uuid.UUID, at: datetime
) -> uuid.UUID:
    """Join `anonymous_id` to `user_id` unless it already belongs to a user; returns the user
    it belongs to. Its earlier anonymous events move to that user."""
    await uow.session.execute(
        insert(identity_links)
        .values(anonymous_id=anonymous_id, user_id=user_id, linked_at=at)
        .on_conflict_do_nothing(index_elements=[identity_links.c.anonymous_id])
    )
    owner = await linked_user(uow, anonymous_id)
    assert owner is not None
    # The moved events make their user an active buyer on their days, as if sent signed in.
    await uow.session.execute(
        text(
            """WITH moved AS (
                   UPDATE events SET user_id = :owner
                   WHERE anonymous_id = :anon AND user_id IS NULL
                   RETURNING occurred_at, name, realtor_id
               )
               INSERT INTO platform_actives (day, role, user_id)
               SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date, 'buyer', :owner
               FROM moved WHERE name = ANY(CAST(:buying AS text[]))
                 AND (realtor_id IS NULL OR realtor_id <> :owner)
               ON CONFLICT DO NOTHING"""
        ),
        {"owner": owner, "anon": anonymous_id, "buying": sorted(BUYING)},
    )
    return owner


async def claim_view(uow: UnitOfWork, visitor: str, listing_id: uuid.UUID, at: datetime) -> bool:
    """True when this view of the listing counts for the visitor (and is remembered)."""
    first = await uow.session.execute(
        insert(view_marks)
        .values(visitor=visitor, listing_id=listing_id, counted_at=at)
        .on_conflict_do_nothing()
        .returning(view_marks.c.visitor)
    )
    if first.first() is not None:
        return True
    where = (view_marks.c.visitor == visitor) & (view_marks.c.listing_id == listing_id)
    last = (
        await uow.session.execute(select(view_marks.c.counted_at).where(where).with_for_update())
    ).scalar_one()
    if not counts_as_view(last, at):
        return False
    if at > last:
        await uow.session.execute(update(view_marks).where(where).values(counted_at=at))
    return True


def _listing_lock(listing_id: uuid.UUID) -> Any:
    return func.hashtextextended(str(listing_id), 0)


async def save_listing(uow: UnitOfWork, listing: ListingFacts) -> None:
    """Remember the listing, and credit its realtor with the events recorded before it
    (under the listing's lock: no event of it is between reading no owner and committing)."""
    await uow.session.execute(select(func.pg_advisory_xact_lock(_listing_lock(listing.id))))
    statement = insert(listings).values(
        id=listing.id, realtor_id=listing.realtor_id, time_zone=listing.time_zone
    )
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[listings.c.id],
            set_={"realtor_id": listing.realtor_id, "time_zone": listing.time_zone},
        )
    )
    # The credited events make the realtor active on their days; the realtor's own views
    # of the listing no longer make them a buyer on a day nothing else does.
    credited = await uow.session.execute(
        text(
            """WITH credited AS (
                   UPDATE events SET realtor_id = :realtor
                   WHERE listing_id = :listing AND realtor_id IS NULL
                   RETURNING occurred_at, user_id
               ), active AS (
                   INSERT INTO platform_actives (day, role, user_id)
                   SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date, 'realtor', :realtor
                   FROM credited ON CONFLICT DO NOTHING
               )
               SELECT count(*) AS n,
                      array_agg(DISTINCT (occurred_at AT TIME ZONE 'UTC')::date)
                          FILTER (WHERE user_id = :realtor) AS own
               FROM credited"""
        ),
        {"realtor": listing.realtor_id, "listing": listing.id},
    )
    count, own = credited.one()
    if own:
        await uow.session.execute(
            text(
                """DELETE FROM platform_actives a
                   WHERE a.role = 'buyer' AND a.user_id = :realtor AND a.day = ANY(:days)
                     AND NOT EXISTS (
                         SELECT 1 FROM events e WHERE e.user_id = :realtor
                           AND e.occurred_at >= a.day AT TIME ZONE 'UTC'
                           AND e.occurred_at < (a.day + 1) AT TIME ZONE 'UTC'
                           AND e.name = ANY(CAST(:buying AS text[]))
                           AND (e.realtor_id IS NULL OR e.realtor_id <> :realtor))"""
            ),
            {"realtor": listing.realtor_id, "days": own, "buying": sorted(BUYING)},
        )
    if count:
        zone = await _zone(uow, listing.realtor_id)
        await recount(uow, listing_id=listing.id, time_zone=zone)


async def _zone(uow: UnitOfWork, user_id: uuid.UUID) -> str:
    found = await uow.session.execute(select(people.c.time_zone).where(people.c.id == user_id))
    return found.scalar_one_or_none() or "UTC"


async def save_person(uow: UnitOfWork, person: PersonFacts) -> None:
    """Remember the user's zone; a realtor whose zone changes (or becomes known after their
    first events) has their days cut again in it, as far as raw events reach."""
    before = (
        await uow.session.execute(
            select(people.c.time_zone).where(people.c.id == person.id).with_for_update()
        )
    ).scalar_one_or_none()
    statement = insert(people).values(id=person.id, time_zone=person.time_zone)
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[people.c.id], set_={"time_zone": person.time_zone}
        )
    )
    if (before or "UTC") == person.time_zone:
        return
    await uow.session.execute(select(func.pg_advisory_xact_lock(_realtor_lock(person.id))))
    counted = await uow.session.execute(
        select(tour_steps.c.tour_id).where(tour_steps.c.realtor_id == person.id).limit(1)
    )
    viewed = await uow.session.execute(
        select(events.c.id).where(events.c.realtor_id == person.id).limit(1)
    )
    if counted.first() is not None or viewed.first() is not None:
        await recount(uow, realtor_id=person.id, time_zone=person.time_zone)


# A list of ids as one array parameter (`= ANY(:ids)`): an IN list of 2,000 would be 2,000
# parameters to bind and a statement of its own for each length.
_UUIDS = ARRAY(UUID(as_uuid=True))


async def claim_due(
    uow: UnitOfWork, destination: str, now: datetime, limit: int
) -> list[tuple[Recorded, int]]:
    """The destination's due deliveries, oldest first, locked for this transaction; rows
    another forwarder holds are skipped. Each with the attempts it had.

    The claimed ids and their months come first (`event_keys`); the rows are then read one
    month at a time with that month's bounds, so each read touches one partition: a join of
    the claim straight into `events` cannot be pruned and probes every month's index for
    every delivery.
    """
    claimed = (
        select(deliveries.c.event_id, deliveries.c.attempts)
        .where(
            deliveries.c.destination == destination,
            deliveries.c.state == "pending",
            deliveries.c.due_at <= now,
        )
        .order_by(deliveries.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("claimed")
    )
    keyed = await uow.session.execute(
        select(claimed.c.event_id, claimed.c.attempts, event_keys.c.occurred_at).join(
            event_keys, event_keys.c.id == claimed.c.event_id
        )
    )
    attempts: dict[uuid.UUID, int] = {}
    months: dict[datetime, list[uuid.UUID]] = {}
    for key in keyed:
        attempts[key.event_id] = int(key.attempts)
        months.setdefault(_first_of_month(key.occurred_at.astimezone(UTC)), []).append(key.event_id)
    found: list[Any] = []
    for month, ids in months.items():
        found.extend(
            await uow.session.execute(
                select(events).where(
                    events.c.occurred_at >= month,
                    events.c.occurred_at < _first_of_month(month, 1),
                    events.c.id == any_(literal(ids, _UUIDS)),
                )
            )
        )
    found.sort(key=lambda r: r.occurred_at)
    return [
        (
            Recorded(
                id=r.id,
                name=r.name,
                occurred_at=r.occurred_at,
                source=r.source,
                user_id=r.user_id,
                anonymous_id=r.anonymous_id,
                listing_id=r.listing_id,
                realtor_id=r.realtor_id,
                tour_id=r.tour_id,
                properties=dict(r.properties),
            ),
            attempts[r.id],
        )
        for r in found
    ]


async def settle(
    uow: UnitOfWork,
    destination: str,
    *,
    sent: Sequence[uuid.UUID],
    rejected: dict[uuid.UUID, str],
    retry: dict[uuid.UUID, tuple[int, datetime | None]],
) -> None:
    """Record one attempt's outcome: sent; rejected with its reason; or tried again at the
    given time (None: given up, recorded as rejected)."""
    mine = deliveries.c.destination == destination
    if sent:
        await uow.session.execute(
            update(deliveries)
            .where(mine, deliveries.c.event_id == any_(literal(list(sent), _UUIDS)))
            .values(state="sent", attempts=deliveries.c.attempts + 1, error=None)
        )
    for event_id, reason in rejected.items():
        await uow.session.execute(
            update(deliveries)
            .where(mine, deliveries.c.event_id == event_id)
            .values(state="rejected", attempts=deliveries.c.attempts + 1, error=reason[:1000])
        )
    for event_id, (attempts, due) in retry.items():
        values: dict[str, Any] = {"attempts": attempts}
        if due is None:
            values |= {"state": "rejected", "error": f"gave up after {attempts} attempts"}
        else:
            values["due_at"] = due
        await uow.session.execute(
            update(deliveries).where(mine, deliveries.c.event_id == event_id).values(values)
        )


async def forget_user(
    uow: UnitOfWork, user_id: uuid.UUID, erase_at: Sequence[str], at: datetime
) -> int:
    """Erase what analytics holds of a deleted user: their events (as user or by the visitor
    ids joined to them; the ids stay in `event_keys`, so a replay cannot bring them back) and
    their deliveries, their links, view marks, zone and listings; as a realtor, their
    rollups and tours' steps (the counts buyers' events added to other realtors' rollups
    name nobody and stay). A deletion request is queued for each destination in `erase_at`
    and identifier it may hold them under. Returns how many events were erased."""
    anonymous = list(
        (
            await uow.session.execute(
                select(identity_links.c.anonymous_id).where(identity_links.c.user_id == user_id)
            )
        ).scalars()
    )
    theirs = (events.c.user_id == user_id) | events.c.anonymous_id.in_(anonymous)
    await uow.session.execute(
        delete(deliveries).where(deliveries.c.event_id.in_(select(events.c.id).where(theirs)))
    )
    visitors = [f"user:{user_id}", *(f"anon:{a}" for a in anonymous)]
    await uow.session.execute(delete(view_marks).where(view_marks.c.visitor.in_(visitors)))
    erased = await uow.session.execute(delete(events).where(theirs))
    await uow.session.execute(
        update(events).where(events.c.realtor_id == user_id).values(realtor_id=None)
    )
    await uow.session.execute(delete(rollups).where(rollups.c.realtor_id == user_id))
    await uow.session.execute(delete(realtor_days).where(realtor_days.c.realtor_id == user_id))
    await uow.session.execute(delete(platform_actives).where(platform_actives.c.user_id == user_id))
    await uow.session.execute(delete(tour_steps).where(tour_steps.c.realtor_id == user_id))
    await uow.session.execute(delete(listings).where(listings.c.realtor_id == user_id))
    await uow.session.execute(delete(identity_links).where(identity_links.c.user_id == user_id))
    await uow.session.execute(delete(people).where(people.c.id == user_id))
    requests = [
        {"destination": d, "kind": kind, "subject": subject, "due_at": at}
        for d in erase_at
        for kind, subject in erasure_subjects(d, user_id, anonymous)
    ]
    if requests:
        await uow.session.execute(insert(erasures).values(requests).on_conflict_do_nothing())
    return int(erased.rowcount or 0)  # type: ignore[attr-defined]


async def claim_erasures(
    uow: UnitOfWork, destination: str, now: datetime, limit: int
) -> list[tuple[tuple[str, str], int]]:
    """The destination's due deletion requests, locked for this transaction (rows another
    eraser holds are skipped), each with the attempts it had."""
    rows = await uow.session.execute(
        select(erasures.c.kind, erasures.c.subject, erasures.c.attempts)
        .where(
            erasures.c.destination == destination,
            erasures.c.state == "pending",
            erasures.c.due_at <= now,
        )
        .order_by(erasures.c.due_at, erasures.c.subject)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [((r.kind, r.subject), int(r.attempts)) for r in rows]


async def settle_erasures(
    uow: UnitOfWork,
    destination: str,
    *,
    done: dict[tuple[str, str], str],
    refused: dict[tuple[str, str], str],
    retry: dict[tuple[str, str], tuple[int, datetime | None]],
) -> None:
    """Record one attempt: done (with the destination's task id), refused with its reason,
    or tried again at the given time (None: given up, recorded as rejected)."""

    def where(subject: tuple[str, str]) -> Any:
        return (
            (erasures.c.destination == destination)
            & (erasures.c.kind == subject[0])
            & (erasures.c.subject == subject[1])
        )

    for subject, task in done.items():
        await uow.session.execute(
            update(erasures)
            .where(where(subject))
            .values(state="sent", attempts=erasures.c.attempts + 1, task=task or None, error=None)
        )
    for subject, reason in refused.items():
        await uow.session.execute(
            update(erasures)
            .where(where(subject))
            .values(state="rejected", attempts=erasures.c.attempts + 1, error=reason[:1000])
        )
    for subject, (attempts, due) in retry.items():
        values: dict[str, Any] = {"attempts": attempts}
        if due is None:
            values |= {"state": "rejected", "error": f"gave up after {attempts} attempts"}
        else:
            values["due_at"] = due
        await uow.session.execute(update(erasures).where(where(subject)).values(values))


_KEEPER_LOCK = 0x616E616C79746963  # one keeper at a time across replicas ("analytic")


def _first_of_month(at: datetime, months: int = 0) -> datetime:
    index = at.year * 12 + at.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


async def _months(uow: UnitOfWork) -> set[str]:
    found = await uow.session.execute(
        text(
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_p[0-9]{6}$'"""
        )
    )
    return {str(name) for name in found.scalars()}


async def keep_partitions(
    uow: UnitOfWork, now: datetime, *, ahead: int, retention: int
) -> tuple[list[str], list[str]]:
    """Make the months of raw events from this one to `ahead` months on (moving any event the
    default partition caught for them into its month), and drop the months that ended more
    than `retention` months before this one, with their ids and pending deliveries; the
    rollups stay. Returns the partitions made and dropped; nothing when another replica's
    keeper is at work."""
    got = await uow.session.execute(select(func.pg_try_advisory_xact_lock(_KEEPER_LOCK)))
    if not got.scalar_one():
        return [], []
    have = await _months(uow)
    made: list[str] = []
    for offset in range(ahead + 1):
        start, end = _first_of_month(now, offset), _first_of_month(now, offset + 1)
        name = f"events_p{start:%Y%m}"
        if name in have:
            continue
        bounds = {"start": start, "end": end}
        await uow.session.execute(text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)"))
        await uow.session.execute(
            text(
                f"""WITH moved AS (DELETE FROM events_default
                        WHERE occurred_at >= :start AND occurred_at < :end RETURNING *)
                    INSERT INTO {name} SELECT * FROM moved"""  # noqa: S608
            ),
            bounds,
        )
        # Bounds as literals: DDL takes no parameters (both are computed here, never input).
        await uow.session.execute(
            text(
                f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES "
                f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        )
        made.append(name)
    cutoff = _first_of_month(now, -retention)
    dropped = sorted(n for n in have if n < f"events_p{cutoff:%Y%m}")
    if dropped:
        old = select(event_keys.c.id).where(event_keys.c.occurred_at < cutoff)
        await uow.session.execute(delete(deliveries).where(deliveries.c.event_id.in_(old)))
        await uow.session.execute(delete(event_keys).where(event_keys.c.occurred_at < cutoff))
        await uow.session.execute(
            text("DELETE FROM events_default WHERE occurred_at < :cutoff"), {"cutoff": cutoff}
        )
        for name in dropped:
            await uow.session.execute(text(f"ALTER TABLE events DETACH PARTITION {name}"))
            await uow.session.execute(text(f"DROP TABLE {name}"))
    return made, dropped
