"""Every statement that writes: recording events, joining anonymous visitors to their user,
the per-visitor memory of counted Property Views, what is kept of listings and users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from servicekit.db import UnitOfWork
from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.dml import ReturningInsert

from analytics.domain import (
    USER_REGISTRATION,
    ListingFacts,
    PersonFacts,
    Recorded,
    counts_as_view,
)
from analytics.tables import deliveries, events, identity_links, listings, people, view_marks


async def add_event(uow: UnitOfWork, event: Recorded, received_at: datetime) -> bool:
    """Store `event` unless its id is already stored; True when this call stored it.

    A User Registration seen again (identity's event and the web's share one id) adds the
    properties the first one lacked and keeps those it had.
    """
    row = {
        "id": event.id,
        "name": event.name,
        "occurred_at": event.occurred_at,
        "received_at": received_at,
        "source": event.source,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "listing_id": event.listing_id,
        "realtor_id": event.realtor_id,
        "tour_id": event.tour_id,
        "properties": event.properties,
    }
    new = insert(events).values(row)
    statement: ReturningInsert[Any] = new.on_conflict_do_update(
        index_elements=[events.c.id],
        set_={
            "properties": new.excluded.properties.op("||")(events.c.properties),
            "user_id": func.coalesce(events.c.user_id, new.excluded.user_id),
        },
        where=(events.c.name == USER_REGISTRATION) & (new.excluded.name == USER_REGISTRATION),
    ).returning(literal_column("xmax = 0").label("inserted"))  # false when it was merged
    found = (await uow.session.execute(statement)).first()
    return found is not None and bool(found.inserted)


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
    await uow.session.execute(
        update(events)
        .where(events.c.listing_id == listing.id, events.c.realtor_id.is_(None))
        .values(realtor_id=listing.realtor_id)
    )


async def save_person(uow: UnitOfWork, person: PersonFacts) -> None:
    statement = insert(people).values(id=person.id, time_zone=person.time_zone)
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[people.c.id], set_={"time_zone": person.time_zone}
        )
    )


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


async def claim_due(
    uow: UnitOfWork, destination: str, now: datetime, limit: int
) -> list[tuple[Recorded, int]]:
    """The destination's due deliveries, oldest first, locked for this transaction; rows
    another forwarder holds are skipped. Each with the attempts it had."""
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
    rows = await uow.session.execute(
        select(events, claimed.c.attempts)
        .join(claimed, claimed.c.event_id == events.c.id)
        .order_by(events.c.occurred_at)
    )
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
            int(r.attempts),
        )
        for r in rows
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
            .where(mine, deliveries.c.event_id.in_(sent))
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


async def forget_user(uow: UnitOfWork, user_id: uuid.UUID) -> int:
    """Anonymise everything analytics holds of a deleted user: their events keep counting in
    the funnels but name nobody (and the properties they typed are cleared); their links,
    view marks and zone go, and nothing of theirs still waiting is forwarded. Returns how
    many events were anonymised."""
    anonymous = select(identity_links.c.anonymous_id).where(identity_links.c.user_id == user_id)
    theirs = (events.c.user_id == user_id) | events.c.anonymous_id.in_(anonymous)
    mine = select(events.c.id).where(theirs)
    await uow.session.execute(
        delete(deliveries).where(deliveries.c.state == "pending", deliveries.c.event_id.in_(mine))
    )
    await uow.session.execute(
        delete(view_marks).where(
            (view_marks.c.visitor == f"user:{user_id}")
            | view_marks.c.visitor.in_(
                select(literal_column("'anon:' || anonymous_id"))
                .select_from(identity_links)
                .where(identity_links.c.user_id == user_id)
            )
        )
    )
    await uow.session.execute(
        update(events)
        .where(theirs, events.c.source == "client")
        .values(properties=literal_column("'{}'::jsonb"))
    )
    changed = await uow.session.execute(
        update(events).where(theirs).values(user_id=None, anonymous_id=None)
    )
    await uow.session.execute(
        update(events).where(events.c.realtor_id == user_id).values(realtor_id=None)
    )
    await uow.session.execute(delete(listings).where(listings.c.realtor_id == user_id))
    await uow.session.execute(delete(identity_links).where(identity_links.c.user_id == user_id))
    await uow.session.execute(delete(people).where(people.c.id == user_id))
    return int(changed.rowcount or 0)  # type: ignore[attr-defined]
