"""`User.listings` under many users: one statement for every page (one more for their
`totalCount`s), whatever the number of users, and each page exactly what the user alone
would get: the same rows, cursors, `status` filter, visibility and totals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from listings.domain import ListingChanges, ListingStatus
from listings.queries import RealtorListings
from servicekit.auth import Role
from servicekit.db import Database
from servicekit.vocabulary import Principal
from sqlalchemy import event

Who = tuple[uuid.UUID, Role]

LISTINGS_OF = """
query($r: [_Any!]!, $status: ListingStatus, $first: Int, $after: String) {
  _entities(representations: $r) {
    ... on User {
      id
      listings(status: $status, first: $first, after: $after) {
        totalCount
        edges { cursor node { id status title } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
}
"""


@contextmanager
def listing_statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements that read `listings` while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM listings" in statement:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def realtors_with_listings(service: Any, details: Any, count: int) -> list[uuid.UUID]:
    """`count` realtors, each with listings of every kind of visibility, created in turns
    so that their creation times interleave (a cursor of one falls among the others')."""
    realtors = [uuid.uuid4() for _ in range(count)]
    plan = [ListingStatus.ACTIVE, ListingStatus.DRAFT, ListingStatus.COMING_SOON]
    plan += [ListingStatus.ACTIVE, ListingStatus.ACTIVE]
    for turn, status in enumerate(plan):
        for n, realtor in enumerate(realtors):
            if (n + turn) % 4 == 3:  # not everyone has every listing
                continue
            actor = Principal(realtor, Role.REALTOR)
            made = await service.create(actor, details(f"Home {turn} of {n}"), status=status)
            if turn == 4 and n % 2 == 0:
                await service.update(actor, made.id, ListingChanges(status=ListingStatus.WITHDRAWN))
    return realtors


def reps(users: list[uuid.UUID]) -> list[dict[str, str]]:
    return [{"__typename": "User", "id": str(u)} for u in users]


async def test_listings_of_twenty_users_cost_what_one_costs(api, service, details, db):
    realtors = await realtors_with_listings(service, details, 20)
    viewer: Who = (realtors[0], Role.REALTOR)
    for query, expected in ((LISTINGS_OF, 2), (LISTINGS_OF.replace("totalCount", ""), 1)):
        with listing_statements(db) as one:
            await api.data(query, {"r": reps(realtors[:1]), "first": 2}, who=viewer)
        with listing_statements(db) as twenty:
            data = await api.data(query, {"r": reps(realtors), "first": 2}, who=viewer)
        assert len(one) == len(twenty) == expected
        assert all(len(e["listings"]["edges"]) == 2 for e in data["_entities"])


async def test_each_users_page_is_the_page_they_get_alone(api, service, details):
    realtors = await realtors_with_listings(service, details, 6)
    viewers: list[Who | None] = [
        (realtors[1], Role.REALTOR),  # one of them: their private listings too
        (uuid.uuid4(), Role.BUYER),
        None,
        (uuid.uuid4(), Role.ADMIN),
    ]
    compared = 0
    for viewer in viewers:
        for status in (None, "ACTIVE", "DRAFT", "WITHDRAWN"):
            # Page 1, then page 2 after a cursor out of the middle of one realtor's list
            # (for the others a position in time like any other).
            first_page = await api.data(
                LISTINGS_OF, {"r": reps(realtors[1:2]), "first": 2, "status": status}, who=viewer
            )
            end = first_page["_entities"][0]["listings"]["pageInfo"]["endCursor"]
            for after in (None, end):
                variables = {"first": 2, "status": status, "after": after}
                together = await api.data(
                    LISTINGS_OF, {"r": reps(realtors), **variables}, who=viewer
                )
                alone = [
                    (await api.data(LISTINGS_OF, {"r": reps([r]), **variables}, who=viewer))[
                        "_entities"
                    ][0]
                    for r in realtors
                ]
                assert together["_entities"] == alone, (viewer, status, after)
                compared += sum(len(e["listings"]["edges"]) for e in alone)
    assert compared > 100  # the pages compared held listings


async def test_a_realtor_sees_their_private_listings_among_others_public_ones(
    api, service, details
):
    realtors = await realtors_with_listings(service, details, 3)
    data = await api.data(LISTINGS_OF, {"r": reps(realtors)}, who=(realtors[0], Role.REALTOR))
    own, *others = data["_entities"]
    assert {e["node"]["status"] for e in own["listings"]["edges"]} >= {"DRAFT", "WITHDRAWN"}
    for other in others:
        statuses = {e["node"]["status"] for e in other["listings"]["edges"]}
        assert statuses and statuses <= {"ACTIVE", "COMING_SOON"}


async def test_every_realtor_keeps_their_own_cursor_in_one_batch(queries, service, details):
    realtors = await realtors_with_listings(service, details, 5)
    viewer = Principal(realtors[2], Role.REALTOR)
    firsts = await queries.realtor_listings(
        viewer, [RealtorListings(r, None, limit=1) for r in realtors]
    )
    # Each its own cursor and its own page size.
    seconds = [
        RealtorListings(r, None, limit=1 + n % 3, after=page.items[-1][0], with_total=True)
        for n, (r, page) in enumerate(zip(realtors, firsts, strict=True))
    ]
    together = await queries.realtor_listings(viewer, seconds)
    alone = [(await queries.realtor_listings(viewer, [w]))[0] for w in seconds]
    assert together == alone
    assert len({len(page.items) for page in together}) > 1  # the sizes differ
    for first, second in zip(firsts, together, strict=True):
        assert second.has_previous and second.total is not None
        shown = [item.id for _, item in first.items + second.items]
        assert len(set(shown)) == len(shown)  # page 2 continues page 1, no repeats
        assert second.total >= len(shown)


async def test_a_bad_cursor_fails_its_own_field(api, realtor):
    await api.create_listing(realtor)
    body = await api.call(LISTINGS_OF, {"r": reps([realtor[0]]), "after": "not-a-cursor"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "after"
