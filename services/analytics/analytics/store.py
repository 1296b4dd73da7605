"""Every statement that writes: recording events, joining anonymous visitors to their user,
the per-visitor memory of counted Property Views, what is kept of listings and users."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from servicekit.db import UnitOfWork
from sqlalchemy import ARRAY, any_, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert

from analytics.domain import (
    NOBODY,
    USER_REGISTRATION,
    ListingFacts,
    PersonFacts,
    Recorded,
    counts_as_view,
    erasure_subjects,
)
from analytics.reports import zone_of
from analytics.tables import (
    deliveries,
    erasures,
    event_keys,
    events,
    identity_links,
    listings,
    people,
    rollups,
    tour_steps,
    view_marks,
)


async def add_event(uow: UnitOfWork, event: Recorded, received_at: datetime) -> bool:
    """Store `event` unless its id is already stored; True when this call stored it.

    A User Registration seen again (identity's event and the web's share one id) adds the
    properties the first one lacked and keeps those it had.
    """
    counted = event.realtor_id is not None and (event.counted_view or event.tour_step)
    # A counted event holds its realtor's lock shared from here to commit, before its zone
    # is read (`count_event`): a zone arriving meanwhile (`save_person`) waits, then cuts
    # this event's day again too.
    statement = _ADD_COUNTED if counted else _ADD
    stored = await uow.session.execute(
        statement,
        {"id": event.id, "name": event.name, "at": event.occurred_at, "received": received_at,
         "source": event.source, "user": event.user_id, "anon": event.anonymous_id,
         "listing": event.listing_id, "realtor": event.realtor_id, "tour": event.tour_id,
         "props": json.dumps(event.properties)},
    )  # fmt: skip
    if stored.first() is not None:
        return True
    if event.name == USER_REGISTRATION:
        await uow.session.execute(
            update(events)
            .where(
                events.c.id == event.id,
                events.c.occurred_at
                == select(event_keys.c.occurred_at)
                .where(event_keys.c.id == event.id)
                .scalar_subquery(),
                events.c.name == USER_REGISTRATION,
            )
            .values(
                properties=literal(event.properties, JSONB).op("||")(events.c.properties),
                user_id=func.coalesce(events.c.user_id, event.user_id),
            )
        )
    return False


# One round trip per new event: its id into `event_keys` (nothing when already there), and
# the row into its month only if the id was new.
_ADD_SQL = """
    WITH {held}key AS (
        INSERT INTO event_keys (id, occurred_at) SELECT CAST(:id AS uuid), :at {source}
        ON CONFLICT DO NOTHING RETURNING id
    )
    INSERT INTO events (id, name, occurred_at, received_at, source, user_id, anonymous_id,
                        listing_id, realtor_id, tour_id, properties)
    SELECT id, :name, :at, :received, :source, CAST(:user AS uuid), CAST(:anon AS text),
           CAST(:listing AS uuid), CAST(:realtor AS uuid), CAST(:tour AS uuid),
           CAST(:props AS jsonb)
    FROM key RETURNING id
"""
_ADD = text(_ADD_SQL.format(held="", source=""))
_ADD_COUNTED = text(
    _ADD_SQL.format(
        held="held AS (SELECT pg_advisory_xact_lock_shared("
        "hashtextextended(CAST(:realtor AS text), 1)) AS held), ",
        source="FROM held",
    )
)


# The local day of an instant in a realtor's zone (UTC while it is not known).
_LOCAL_DAY = (
    "(CAST(:at AS timestamptz) AT TIME ZONE coalesce("
    "(SELECT time_zone FROM people WHERE id = :realtor), 'UTC'))::date"
)
_BUMP = text(
    """INSERT INTO rollups (realtor_id, day, listing_id, name, reason, n)
       VALUES (:realtor, :day, :listing, :name, :reason, :n)
       ON CONFLICT (realtor_id, day, listing_id, name, reason)
       DO UPDATE SET n = rollups.n + excluded.n"""
)
_VIEW = text(
    f"""INSERT INTO rollups (realtor_id, day, listing_id, name, reason, n)
        VALUES (:realtor, {_LOCAL_DAY}, :listing, 'Property View', '', 1)
        ON CONFLICT (realtor_id, day, listing_id, name, reason)
        DO UPDATE SET n = rollups.n + 1"""  # noqa: S608
)
_FIRST_STEP = text(
    f"""WITH first AS (
            INSERT INTO tour_steps (tour_id, name, occurred_at, day, realtor_id, listing_id,
                                    reason)
            VALUES (:tour, :name, :at, {_LOCAL_DAY}, :realtor, :listing, :reason)
            ON CONFLICT (tour_id, name) DO NOTHING
            RETURNING realtor_id, day, listing_id, name, reason
        )
        INSERT INTO rollups (realtor_id, day, listing_id, name, reason, n)
        SELECT realtor_id, day, listing_id, name, reason, 1 FROM first
        ON CONFLICT (realtor_id, day, listing_id, name, reason)
        DO UPDATE SET n = rollups.n + 1 RETURNING n"""  # noqa: S608
)


# A tour's timings, kept on its own rows whenever one of their ends is stored or moves: the
# request's time to its first answer, the completion's time from the start (not when the
# completion is earlier than the start).
_TIMED = frozenset({"Tour Requested", "Tour Scheduled", "Tour Declined", "Tour Started",
                    "Tour Completed"})  # fmt: skip
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
       WHERE t.tour_id = :tour AND t.name IN ('Tour Requested', 'Tour Completed')"""
)


async def _retime(uow: UnitOfWork, event: Recorded) -> None:
    if event.name in _TIMED:
        await uow.session.execute(_RETIME, {"tour": event.tour_id})


def _realtor_lock(realtor_id: uuid.UUID | None) -> Any:
    return func.hashtextextended(str(realtor_id), 1)


async def count_event(uow: UnitOfWork, event: Recorded) -> None:
    """Add a newly stored event to the rollups: a view once, a tour's step once per tour
    (on the day of its earliest event of that step, moved there when an earlier one comes
    in late)."""
    if event.counted_view:
        await uow.session.execute(
            _VIEW,
            {"realtor": event.realtor_id or NOBODY, "listing": event.listing_id,
             "at": event.occurred_at},
        )  # fmt: skip
        return
    if not event.tour_step:
        return
    params = {"tour": event.tour_id, "name": event.name, "at": event.occurred_at,
              "realtor": event.realtor_id, "listing": event.listing_id, "reason": event.reason}  # fmt: skip
    if (await uow.session.execute(_FIRST_STEP, params)).first() is not None:
        await _retime(uow, event)
        return  # the tour's first event of this step: counted
    mine = (tour_steps.c.tour_id == event.tour_id) & (tour_steps.c.name == event.name)
    prior = (await uow.session.execute(select(tour_steps).where(mine).with_for_update())).one()
    if event.occurred_at >= prior.occurred_at:
        return
    moved = (
        await uow.session.execute(
            text(
                f"""UPDATE tour_steps SET occurred_at = :at, day = {_LOCAL_DAY},
                        realtor_id = :realtor, listing_id = :listing, reason = :reason
                    WHERE tour_id = :tour AND name = :name RETURNING day"""  # noqa: S608
            ),
            params,
        )
    ).one()
    await uow.session.execute(
        _BUMP,
        {"realtor": prior.realtor_id, "day": prior.day, "listing": prior.listing_id,
         "name": prior.name, "reason": prior.reason, "n": -1},
    )  # fmt: skip
    await uow.session.execute(_BUMP, {**params, "day": moved.day, "n": 1})
    await _retime(uow, event)


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
    await uow.session.execute(
        text(f"DELETE FROM rollups WHERE {scope} = :scope AND day >= :since_day"),  # noqa: S608
        params,
    )
    await uow.session.execute(
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
                DO UPDATE SET n = rollups.n + excluded.n"""  # noqa: S608
        ),
        params | {"nobody": NOBODY},
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
    await uow.session.execute(
        update(events)
        .where(events.c.anonymous_id == anonymous_id, events.c.user_id.is_(None))
        .values(user_id=owner)
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


async def listing_owner(uow: UnitOfWork, listing_id: uuid.UUID) -> uuid.UUID | None:
    """The listing's realtor, when known. Holds the listing's lock shared until commit, so
    the listing arriving meanwhile (`save_listing`) waits and then credits this event too."""
    await uow.session.execute(select(func.pg_advisory_xact_lock_shared(_listing_lock(listing_id))))
    found = await uow.session.execute(
        select(listings.c.realtor_id).where(listings.c.id == listing_id)
    )
    return found.scalar_one_or_none()


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
    credited = await uow.session.execute(
        update(events)
        .where(events.c.listing_id == listing.id, events.c.realtor_id.is_(None))
        .values(realtor_id=listing.realtor_id)
    )
    if credited.rowcount:  # type: ignore[attr-defined]
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


async def enqueue(
    uow: UnitOfWork, event_id: uuid.UUID, destinations: Sequence[str], at: datetime
) -> None:
    """Queue a new event for every enabled destination, in the event's own transaction."""
    if destinations:
        await uow.session.execute(
            insert(deliveries)
            .values([{"destination": d, "event_id": event_id, "due_at": at} for d in destinations])
            .on_conflict_do_nothing()
        )


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
