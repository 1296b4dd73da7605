"""Every read model of listings: lookups, search, a realtor's listings, the sitemap's rows,
the public pages.

Only reads. Who sees what is the domain's rule (`Listing.visible_to`, `referable_by`,
`sees_private_listings_of`): lookups apply it to the aggregates they read, and search
states the same rule in SQL so that pages and counts agree with it.

The hot reads (lookups by key, entity batches, photos, a public page, search) run as
driver-level SQL compiled once, prepared on the connection (`queries.driver`), their
rows mapped by position (`queries.rows`); search's statement per shape is in
`queries.search`, `User.listings`' in `queries.realtors`. The rare reads (the sitemap, an
outdated slug) stay SQLAlchemy statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from servicekit.db import Database
from servicekit.pagination import decode_cursor
from servicekit.reads import driver_sql, fetch, fetch_each
from servicekit.vocabulary import Principal
from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from listings.criteria import ListingQuery, ListingSort
from listings.domain import Listing, ListingStatus, Photo, sees_private_listings_of
from listings.queries.realtors import (
    BEFORE_NEWEST,
    realtor_counts_statement,
    realtor_pages_statement,
)
from listings.queries.rows import WIDTH, listing_of, photo_of
from listings.queries.search import (
    PUBLIC,
    PUBLIC_VALUES,
    compiled,
    count_plan,
    cursor_position,
    plan,
    row_cursor,
    search_statement,
)
from listings.store import LISTING_COLUMNS, listing_from_row
from listings.tables import listings, photos

__all__ = [
    "BEFORE_NEWEST",
    "ListingQueries",
    "Page",
    "RealtorListings",
    "search_statement",
]

# An array parameter: any number of keys, one statement text.
_KEYS = func.any(bindparam("keys", type_=ARRAY(UUID(as_uuid=True))))
_KEY: BindParameter[Any] = bindparam("key")

# The statements of the hot reads, compiled once (tested through the subgraph and pages).
BY_ID = driver_sql(select(*LISTING_COLUMNS).where(listings.c.id == _KEY))
BY_SLUG = driver_sql(select(*LISTING_COLUMNS).where(listings.c.slug == _KEY))
BY_IDS = driver_sql(select(*LISTING_COLUMNS).where(listings.c.id == _KEYS))
PHOTOS_OF = driver_sql(
    select(*photos.c).where(photos.c.listing_id == _KEYS).order_by(photos.c.position)
)
# A public page: the listing joined to its photos (one row per photo), one snapshot.
PUBLIC_PAGE = driver_sql(
    select(*LISTING_COLUMNS, *photos.c)
    .select_from(listings.outerjoin(photos, photos.c.listing_id == listings.c.id))
    .where(listings.c.slug == _KEY, PUBLIC)
    .order_by(photos.c.position)
)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of listings with the cursor of each row."""

    items: list[tuple[str, Listing]]
    has_next: bool
    total: int | None = None
    has_previous: bool = False


@dataclass(frozen=True, slots=True)
class RealtorListings:
    """What `User.listings` asks of one realtor: `limit` listings newest first, after a
    cursor, of one `status` or of every status the caller may see (`with_total`: count them).

    The cursor is read when the request is made (a bad one is BAD_USER_INPUT `after`), so
    it fails its own field, never the batch it would have joined.
    """

    realtor_id: uuid.UUID
    status: ListingStatus | None
    limit: int
    after: str | None = None
    with_total: bool = False
    before: tuple[datetime, uuid.UUID] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        cursor = decode_cursor(self.after)
        before = BEFORE_NEWEST if cursor is None else cursor_position(ListingSort.NEWEST, cursor)
        object.__setattr__(self, "before", before)


class ListingQueries:
    """The read side, over plain connections (a read never opens a unit of work)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(
        self,
        who: Principal | None,
        *,
        listing_id: uuid.UUID | None = None,
        slug: str | None = None,
    ) -> Listing | None:
        """One listing if `who` may see it (None otherwise, as if it did not exist)."""
        statement, value = (BY_ID, listing_id) if listing_id is not None else (BY_SLUG, slug)
        rows = await fetch(self.db, statement, {"key": value})
        if not rows:
            return None
        listing = listing_of(rows[0])
        return listing if listing.visible_to(who) else None

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Listing]:
        """Listings by id in one query, every status: for the services that ask over gRPC."""
        if not ids:
            return {}
        rows = await fetch(self.db, BY_IDS, {"keys": list(set(ids))})
        return {row[0]: listing_of(row) for row in rows}

    async def visible_by_ids(
        self, ids: Sequence[uuid.UUID], who: Principal | None, *, references: bool = False
    ) -> dict[uuid.UUID, Listing]:
        """The listings `who` may see (or, for entity `references`, may be shown inside
        another entity), in one query."""
        found = await self.by_ids(ids)
        if references:
            return {k: v for k, v in found.items() if v.referable_by(who)}
        return {k: v for k, v in found.items() if v.visible_to(who)}

    async def photos_of(self, listing_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Photo]]:
        """Photos of several listings in one query, each list in gallery order."""
        ids = list(listing_ids)
        found: dict[uuid.UUID, list[Photo]] = {i: [] for i in ids}
        if not ids:
            return found
        for row in await fetch(self.db, PHOTOS_OF, {"keys": ids}):
            found[row[1]].append(photo_of(row))
        return found

    async def search(
        self,
        who: Principal | None,
        query: ListingQuery,
        sort: ListingSort,
        *,
        limit: int,
        after: str | None = None,
        with_total: bool = False,
    ) -> Page:
        """One page of a search (one prepared statement per shape; `with_total` adds the
        count, on the same connection)."""
        page = plan(query, sort, who, limit=limit, after=after)
        statements = [(compiled(page.shape), page.params)]
        if with_total:
            counted = count_plan(query, who)
            statements.append((compiled(counted.shape, count=True), counted.params))
        rows, *counts = await fetch_each(self.db, statements)
        total = int(counts[0][0][0]) if counts else None
        key = page.sort.value
        items = [(row_cursor(key, row[WIDTH], row[0]), listing_of(row)) for row in rows[:limit]]
        return Page(
            items=items, has_next=len(rows) > limit, total=total, has_previous=after is not None
        )

    async def realtor_listings(
        self, who: Principal | None, wanted: Sequence[RealtorListings]
    ) -> list[Page]:
        """Pages of several realtors' listings, newest first, one per request and in its
        order: all statuses for the realtor and admins, public ones to others
        (`sees_private_listings_of`, decided here for each realtor and handed to SQL).

        One statement reads every page (a LATERAL join: each realtor's own `status`,
        cursor and page size, over `listings_realtor`), one more counts those that want
        `totalCount`; so `User.listings` under any number of users costs two at most.
        """
        if not wanted:
            return []
        private = [sees_private_listings_of(who, w.realtor_id) for w in wanted]
        counted = [i for i, w in enumerate(wanted) if w.with_total]
        pages: list[list[Any]] = [[] for _ in wanted]
        totals: dict[int, int] = {}
        async with self.db.reads() as conn:
            for row in await conn.execute(realtor_pages_statement(wanted, private)):
                pages[row.ordinal - 1].append(row)
            if counted:
                statement = realtor_counts_statement(
                    [wanted[i] for i in counted], [private[i] for i in counted]
                )
                for row in await conn.execute(statement):
                    totals[counted[row.ordinal - 1]] = int(row.total)
        return [
            Page(
                items=[
                    (
                        row_cursor(ListingSort.NEWEST.value, row.sort_value, row.id),
                        listing_from_row(row),
                    )
                    for row in rows[: w.limit]
                ],
                has_next=len(rows) > w.limit,
                total=totals.get(i),
                has_previous=w.after is not None,
            )
            for i, (w, rows) in enumerate(zip(wanted, pages, strict=True))
        ]

    # -- the sitemap ------------------------------------------------------------------------
    async def public_listings_count(self) -> int:
        async with self.db.reads() as conn:
            result = await conn.execute(
                select(func.count())
                .select_from(listings)
                .where(listings.c.status.in_(PUBLIC_VALUES))
            )
            return int(result.scalar_one())

    async def public_slugs(self, *, offset: int, limit: int) -> list[tuple[str, datetime]]:
        """(slug, updated_at) of public listings, most recently updated first."""
        async with self.db.reads() as conn:
            rows = await conn.execute(
                select(listings.c.slug, listings.c.updated_at)
                .where(listings.c.status.in_(PUBLIC_VALUES))
                .order_by(listings.c.updated_at.desc(), listings.c.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return [(row.slug, row.updated_at) for row in rows]

    # -- the public pages -------------------------------------------------------------------
    async def public_page(self, slug: str) -> tuple[Listing, list[Photo]] | None:
        """A public listing and its photos (gallery order) by slug; None for an unknown slug
        or a listing that is not public (a page shows nothing else).

        The hottest read of the pages, so one round trip: one statement (the listing joined
        to its photos, one row per photo, hence one snapshot) outside a transaction.
        """
        rows = await fetch(self.db, PUBLIC_PAGE, {"key": slug})
        if not rows:
            return None
        found = [photo_of(r, WIDTH) for r in rows if r[WIDTH] is not None]
        return listing_of(rows[0]), found

    async def public_slug_by_id_prefix(self, prefix: str) -> str | None:
        """The slug of the one public listing whose id starts with `prefix` (hex): every slug
        ends with the first 10 hex of its id, so an outdated or mangled slug still names its
        listing. A range over the primary key; None when no listing or several match."""
        digits = prefix.lower()
        low = uuid.UUID(digits.ljust(32, "0"))
        high = uuid.UUID(digits.ljust(32, "f"))
        async with self.db.reads() as conn:
            rows = (
                await conn.execute(
                    select(listings.c.slug)
                    .where(listings.c.id.between(low, high), listings.c.status.in_(PUBLIC_VALUES))
                    .limit(2)
                )
            ).all()
        return rows[0].slug if len(rows) == 1 else None
