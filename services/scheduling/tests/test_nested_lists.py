"""The lists under an entity (`upcomingTours`, `tourHistory`, `clients`, `Listing.tours`)
cost one statement each however many users or listings an `_entities` call holds, and one
question to listings for all the listings' realtors; each parent's page is exactly the page
it gets alone: rows, cursors, `status` filter, and who is refused what."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduling.service import ListPage
from servicekit.access import Caller
from servicekit.auth import Principal, Role
from servicekit.db import Database
from sqlalchemy import event

# Tuesday 2027-01-05, 10:00 in New York (15:00 UTC): inside weekday working hours.
TUESDAY_10AM = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
PAGE = "edges { cursor node { id status startsAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
CLIENT_PAGE = (
    "edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
)
FIELDS = {
    "upcomingTours": f"... on User {{ id upcomingTours(first: $first, after: $after) {{ {PAGE} }} }}",
    "tourHistory": f"... on User {{ id tourHistory(first: $first, after: $after) {{ {PAGE} }} }}",
    "clients": f"... on User {{ id clients(first: $first, after: $after) {{ {CLIENT_PAGE} }} }}",
    "tours": (
        f"... on Listing {{ id tours(status: $status, first: $first, after: $after) {{ {PAGE} }} }}"
    ),
}


def entities(*fields: str) -> str:
    selections = " ".join(FIELDS[f] for f in fields)
    status = ", $status: TourStatus" if "tours" in fields else ""
    return (
        f"query($reps: [_Any!]!, $first: Int, $after: String{status}) "
        f"{{ _entities(representations: $reps) {{ {selections} }} }}"
    )


@dataclass
class World:
    realtors: list[Any]
    buyers: list[Any]
    listings: list[uuid.UUID]
    admin: Any


async def tours_of_several(stack: Any) -> World:
    """Three realtors (the first with three listings), four buyers, eighteen tours in every
    status that matters (requested, scheduled, cancelled; over and to come)."""
    owners: list[Any] = []
    listings: list[uuid.UUID] = []
    for _ in range(3):
        realtor, listing = await stack.open_for_tours()
        owners.append(realtor)
        listings.append(listing)
    listings += [stack.peers.listing(owners[0]), stack.peers.listing(owners[0])]
    realtor_of = {listing: owners[i] if i < 3 else owners[0] for i, listing in enumerate(listings)}
    buyers = [stack.peers.person(Role.BUYER) for _ in range(4)]
    for k in range(18):
        # Every tour at its own time: nobody's tours overlap, whoever they are with.
        starts = TUESDAY_10AM + timedelta(days=k // 6, hours=k % 6)
        listing, buyer = listings[k % 5], buyers[k % 4]
        body = await stack.request(buyer, listing, starts)
        assert not body.get("errors"), body["errors"]
        tour_id = body["data"]["requestTour"]["id"]
        if k % 3 == 0:
            await stack.ok(
                "mutation($id: ID!) { confirmTour(id: $id) { id } }",
                {"id": tour_id},
                as_=realtor_of[listing],
            )
        elif k % 2 == 0:
            await stack.ok(
                'mutation($id: ID!) { cancelTour(id: $id, reason: "plans changed") { id } }',
                {"id": tour_id},
                as_=buyer,
            )
    # Wednesday evening: Tuesday's and Wednesday's tours are over, Thursday's to come.
    stack.clock.now = datetime(2027, 1, 6, 23, 0, tzinfo=UTC)
    return World(owners, buyers, listings, stack.peers.person(Role.ADMIN))


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def users(*people: Any) -> list[dict[str, str]]:
    return [{"__typename": "User", "id": str(p.id)} for p in people]


def of_listings(ids: list[uuid.UUID]) -> list[dict[str, str]]:
    return [{"__typename": "Listing", "id": str(i)} for i in ids]


async def test_twenty_parents_cost_what_one_costs(stack: Any) -> None:
    world = await tours_of_several(stack)
    strangers = [stack.peers.person(Role.BUYER) for _ in range(13)]
    twenty = users(*world.realtors, *world.buyers, *strangers)
    query = entities("upcomingTours", "tourHistory", "clients")
    with statements(stack.db) as one:
        await stack.ok(query, {"reps": twenty[:1], "first": 3}, as_=world.admin)
    with statements(stack.db) as many:
        found = await stack.ok(query, {"reps": twenty, "first": 3}, as_=world.admin)
    assert len(one) == len(many) == 3  # one per list, whatever the number of users
    assert sum(len(e["upcomingTours"]["edges"]) for e in found["_entities"]) > 0
    assert sum(len(e["tourHistory"]["edges"]) for e in found["_entities"]) > 0

    # A realtor's twenty listings: one statement, and one question to listings.
    realtor = world.realtors[0]
    mine = (
        world.listings[:1] + world.listings[3:] + [stack.peers.listing(realtor) for _ in range(17)]
    )
    query = entities("tours")
    counts = []
    for reps in (of_listings(mine[:1]), of_listings(mine)):
        stack.peers.listings.callers.clear()
        before = (stack.peers.listings.calls, stack.peers.listings.batch_calls)
        with statements(stack.db) as seen:
            page = await stack.ok(query, {"reps": reps, "first": 3}, as_=realtor)
        after = (stack.peers.listings.calls, stack.peers.listings.batch_calls)
        assert after == (before[0], before[1] + 1)  # one BatchGetListings, no GetListing
        # Listings is asked on behalf of the realtor being served.
        assert set(stack.peers.listings.callers) == {
            Caller("scheduling", Principal(realtor.id, Role.REALTOR))
        }
        counts.append(len(seen))
    assert counts == [1, 1]
    assert sum(len(e["tours"]["edges"]) for e in page["_entities"]) > 0


def answers(body: dict[str, Any], offset: int = 0) -> tuple[list[Any], list[Any]]:
    """The entities of a response and its errors by entity (index, field, code, message)."""
    errors = sorted(
        (e["path"][1] + offset, e["path"][2], e["extensions"]["code"], e["message"])
        for e in body.get("errors") or []
    )
    return body["data"]["_entities"], errors


async def compare(stack: Any, query: str, reps: list[Any], who: Any, **variables: Any) -> int:
    """Assert the batch answers every parent as it is answered alone; return how many rows
    the pages held and how many errors there were, to show the comparison compared something."""
    together, together_errors = answers(
        await stack.gql(query, {"reps": reps, **variables}, as_=who)
    )
    alone: list[Any] = []
    alone_errors: list[Any] = []
    for i, rep in enumerate(reps):
        found, errors = answers(await stack.gql(query, {"reps": [rep], **variables}, as_=who), i)
        alone += found
        alone_errors += errors
    assert together == alone, variables
    assert together_errors == sorted(alone_errors), variables
    rows = sum(len(page["edges"]) for e in together if e for k, page in e.items() if k != "id")
    return rows + len(together_errors)


def first_cursor(body: dict[str, Any], field: str) -> str | None:
    """The end cursor of the first page that has a next one."""
    for entity in body["data"]["_entities"]:
        if entity and entity[field]["pageInfo"]["hasNextPage"]:
            cursor: str = entity[field]["pageInfo"]["endCursor"]
            return cursor
    return None


async def test_each_parents_page_is_the_page_it_gets_alone(stack: Any) -> None:
    world = await tours_of_several(stack)
    people = users(*world.realtors, *world.buyers, stack.peers.person(Role.BUYER))
    places = of_listings([*world.listings, uuid.uuid4()])
    viewers = [world.admin, world.realtors[0], world.buyers[0]]
    compared = 0
    for who in viewers:
        for field, reps in (
            ("upcomingTours", people),
            ("tourHistory", people),
            ("clients", people),
            ("tours", places),
        ):
            query = entities(field)
            for status in (None, "SCHEDULED", "CANCELLED") if field == "tours" else (None,):
                variables: dict[str, Any] = {"first": 2}
                if field == "tours":
                    variables["status"] = status
                page_one = await stack.gql(query, {"reps": reps, **variables}, as_=world.admin)
                for after in (None, first_cursor(page_one, field)):
                    compared += await compare(stack, query, reps, who, **variables, after=after)
    assert compared > 100


async def test_a_refused_parent_fails_alone(stack: Any) -> None:
    world = await tours_of_several(stack)
    realtor, other = world.realtors[0], world.realtors[1]
    body = await stack.gql(entities("upcomingTours"), {"reps": users(realtor, other)}, as_=realtor)
    mine, theirs = body["data"]["_entities"]
    assert mine["upcomingTours"]["edges"] and theirs is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["_entities", 1, "upcomingTours"], "FORBIDDEN")
    ]
    unknown = uuid.uuid4()
    body = await stack.gql(
        entities("tours"), {"reps": of_listings([world.listings[0], unknown])}, as_=realtor
    )
    assert body["data"]["_entities"][0]["tours"]["edges"]
    assert [(e["path"][1], e["extensions"]["code"]) for e in body["errors"]] == [(1, "NOT_FOUND")]


async def test_every_parent_keeps_its_own_cursor_in_one_batch(stack: Any) -> None:
    world = await tours_of_several(stack)
    scheduling = stack.parts.scheduling
    admin = Principal(world.admin.id, Role.ADMIN)
    owners = [p.id for p in (*world.realtors, *world.buyers)]
    firsts = await scheduling.past_tours(admin, [ListPage(o, 1) for o in owners])
    # Each its own cursor and its own page size.
    seconds = [
        ListPage(o, 1 + n % 3, [page[0].starts_at.isoformat(), str(page[0].id)] if page else None)
        for n, (o, page) in enumerate(zip(owners, firsts, strict=True))
    ]
    together = await scheduling.past_tours(admin, seconds)
    alone = [(await scheduling.past_tours(admin, [w]))[0] for w in seconds]
    assert together == alone
    assert len({len(page) for page in together}) > 1  # the sizes differ
    for first, second in zip(firsts, together, strict=True):
        assert not {t.id for t in first[:1]} & {t.id for t in second}
    # A bad cursor fails its own request, not the others'.
    broken = [ListPage(owners[0], 1, ["not a time", "nor an id"]), ListPage(owners[1], 1)]
    failed, fine = await scheduling.past_tours(admin, broken)
    assert isinstance(failed, Exception) and getattr(failed, "field", None) == "after"
    assert fine == (await scheduling.past_tours(admin, broken[1:]))[0]
