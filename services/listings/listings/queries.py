"""Every read model of listings: lookups, search, a realtor's listings, the sitemap's rows,
the public pages.

Only reads. Who sees what is the domain's rule (`Listing.visible_to`, `referable_by`,
`sees_private_listings_of`): lookups apply it to the aggregates they read, and search
states the same rule in SQL so that pages and counts agree with it.

Search is one statement: filters, full-text ranking, radius and keyset pagination. Every
sort orders by a key that ends in the id, and a page continues strictly after the key of
the last row it returned (the cursor), so rows added or changed meanwhile never make a page
repeat or skip a row that was already there. Each sort has an index whose order matches
(`listings_newest`, `listings_price`); the text filter uses the GIN index on the generated
`search` column and the radius filter the GiST index on `ll_to_earth`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from servicekit.db import Database
from servicekit.errors import BadUserInput
from servicekit.pagination import decode_cursor, encode_cursor
from servicekit.vocabulary import Principal
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    column,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG, UUID
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg as psycopg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import TableValuedAlias

from listings.criteria import ListingQuery, ListingSort, effective_sort
from listings.domain import (
    PUBLIC_STATUSES,
    Listing,
    ListingStatus,
    Photo,
    sees_private_listings_of,
)
from listings.store import LISTING_COLUMNS, listing_from_row, photo_from_row
from listings.tables import listings, photos

PUBLIC_VALUES = sorted(s.value for s in PUBLIC_STATUSES)


def _driver_sql(statement: Select[Any]) -> str:
    """A statement as psycopg's SQL text (`%(name)s` parameters), compiled once at import:
    the lookups by key skip SQLAlchemy's per-call statement building, coercion and cache
    key (a quarter of their CPU); psycopg prepares a statement run this often by itself."""
    return str(statement.compile(dialect=psycopg_dialect()))  # type: ignore[no-untyped-call]


# The lookups every entity resolution and listing page makes (tested through the subgraph).
BY_ID = _driver_sql(select(*LISTING_COLUMNS).where(listings.c.id == bindparam("key")))
BY_SLUG = _driver_sql(select(*LISTING_COLUMNS).where(listings.c.slug == bindparam("key")))
BY_IDS = _driver_sql(
    select(*LISTING_COLUMNS).where(
        listings.c.id == func.any(bindparam("keys", type_=ARRAY(UUID(as_uuid=True))))
    )
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
        before = BEFORE_NEWEST if cursor is None else _position(ListingSort.NEWEST, cursor)
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
        async with self.db.reads() as conn:
            row = (await conn.exec_driver_sql(statement, {"key": value})).first()
        if row is None:
            return None
        listing = listing_from_row(row)
        return listing if listing.visible_to(who) else None

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Listing]:
        """Listings by id in one query, every status: for the services that ask over gRPC."""
        if not ids:
            return {}
        async with self.db.reads() as conn:
            rows = await conn.exec_driver_sql(BY_IDS, {"keys": list(set(ids))})
            return {row.id: listing_from_row(row) for row in rows}

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
        async with self.db.reads() as conn:
            rows = await conn.execute(
                select(photos).where(photos.c.listing_id.in_(ids)).order_by(photos.c.position)
            )
            for row in rows:
                found[row.listing_id].append(photo_from_row(row))
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
        statement = search_statement(query, sort, who, limit=limit, after=after)
        async with self.db.reads() as conn:
            rows = (await conn.execute(statement)).all()
            total = await _count(conn, query, who) if with_total else None
        items = [
            (encode_cursor(cursor_for(sort, query, row)), listing_from_row(row))
            for row in rows[:limit]
        ]
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
                        encode_cursor(cursor_for(ListingSort.NEWEST, _NO_TEXT, row)),
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
        photo_columns = [c.label(f"photo_{c.name}") for c in photos.c]
        statement = (
            select(*LISTING_COLUMNS, *photo_columns)
            .select_from(listings.outerjoin(photos, photos.c.listing_id == listings.c.id))
            .where(listings.c.slug == slug, listings.c.status.in_(PUBLIC_VALUES))
            .order_by(photos.c.position)
        )
        async with self.db.reads() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = (await autocommit.execute(statement)).all()
        if not rows:
            return None
        found = [
            Photo(
                id=r.photo_id,
                key=r.photo_key,
                content_type=r.photo_content_type,
                size=r.photo_size,
                position=r.photo_position,
                is_cover=r.photo_is_cover,
            )
            for r in rows
            if r.photo_id is not None
        ]
        return listing_from_row(rows[0]), found

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


# -- the search statement ----------------------------------------------------------------------
def _tsquery(text: str) -> ColumnElement[Any]:
    return func.websearch_to_tsquery(literal("english").cast(REGCONFIG), text)


def _earth(lat: Any, lng: Any) -> ColumnElement[Any]:
    return func.ll_to_earth(lat, lng)


def _visible(query: ListingQuery, who: Principal | None) -> list[ColumnElement[bool]]:
    """`sees_private_listings_of` in SQL: a private status only where `who` sees it."""
    c = listings.c
    private = [s for s in query.statuses if s not in PUBLIC_STATUSES]
    if not private or (who is not None and who.is_admin):
        return []
    if who is None:
        return [c.status.in_(PUBLIC_VALUES)]
    return [or_(c.status.in_(PUBLIC_VALUES), c.realtor_id == who.user_id)]


def conditions(query: ListingQuery, who: Principal | None) -> list[ColumnElement[bool]]:
    c = listings.c
    where: list[ColumnElement[bool]] = [c.status.in_([s.value for s in query.statuses])]
    where += _visible(query, who)
    if query.text:
        where.append(c.search.op("@@")(_tsquery(query.text)))
    if query.city:
        where.append(func.lower(c.city) == query.city.strip().lower())
    if query.state:
        where.append(c.state == query.state.strip().upper())
    if query.postal_code:
        where.append(c.postal_code == query.postal_code.strip().upper())
    if query.property_types:
        where.append(c.property_type.in_([t.value for t in query.property_types]))
    if query.min_price is not None:
        where.append(c.price_amount >= query.min_price)
    if query.max_price is not None:
        where.append(c.price_amount <= query.max_price)
    if query.min_bedrooms is not None:
        where.append(c.bedrooms >= query.min_bedrooms)
    if query.min_bathrooms is not None:
        where.append(c.bathrooms >= query.min_bathrooms)
    if query.min_sqft is not None:
        where.append(c.living_area_sqft >= query.min_sqft)
    if query.realtor_id is not None:
        where.append(c.realtor_id == query.realtor_id)
    if query.near is not None:
        centre = _earth(literal(query.near.point.lat, Float), literal(query.near.point.lng, Float))
        metres = query.near.radius_km * 1000.0
        here = _earth(c.latitude, c.longitude)
        where.append(func.earth_box(centre, metres).op("@>")(here))
        where.append(func.earth_distance(centre, here) <= metres)
    return where


def _rank(query: ListingQuery) -> ColumnElement[float]:
    assert query.text
    # ts_rank weighs matches by label (A title 1.0 > B description 0.4 > C address 0.2);
    # normalisation 1 divides by 1 + log(length) so long descriptions do not win by size.
    return func.ts_rank(listings.c.search, _tsquery(query.text), 1).cast(Float)


def sort_key(query: ListingQuery, sort: ListingSort) -> list[ColumnElement[Any]]:
    c = listings.c
    if sort is ListingSort.RELEVANCE:
        return [_rank(query), c.id]
    if sort is ListingSort.NEWEST:
        return [c.created_at, c.id]
    return [c.price_amount, c.id]


def _position(sort: ListingSort, cursor: list[Any]) -> tuple[Any, uuid.UUID]:
    """The (sort key, id) a cursor of `sort` points at."""
    if not cursor or cursor[0] != sort.value or len(cursor) != 3:
        raise BadUserInput("cursor does not belong to this sort", field="after")
    try:
        last_id = uuid.UUID(str(cursor[2]))
        if sort is ListingSort.NEWEST:
            value: Any = datetime.fromisoformat(str(cursor[1]))
        elif sort is ListingSort.RELEVANCE:
            value = float(cursor[1])
        else:
            value = int(cursor[1])
    except (TypeError, ValueError):
        raise BadUserInput("invalid cursor", field="after") from None
    return value, last_id


def _after(
    sort: ListingSort, key: list[ColumnElement[Any]], cursor: list[Any]
) -> ColumnElement[bool]:
    value, last_id = _position(sort, cursor)
    position = tuple_(key[0], key[1])
    bound = tuple_(literal(value), literal(last_id))
    return position > bound if sort is ListingSort.PRICE_ASC else position < bound


def search_statement(
    query: ListingQuery,
    sort: ListingSort,
    who: Principal | None,
    *,
    limit: int,
    after: str | None,
) -> Select[Any]:
    """Rows of one page (`limit + 1` to detect a next page) with their sort key as `sort_value`."""
    sort = effective_sort(query, sort)
    key = sort_key(query, sort)
    where = conditions(query, who)
    cursor = decode_cursor(after)
    if cursor is not None:
        where.append(_after(sort, key, cursor))
    ascending = sort is ListingSort.PRICE_ASC
    order = [k.asc() if ascending else k.desc() for k in key]
    return (
        select(*LISTING_COLUMNS, key[0].label("sort_value"))
        .where(and_(*where))
        .order_by(*order)
        .limit(limit + 1)
    )


async def _count(conn: AsyncConnection, query: ListingQuery, who: Principal | None) -> int:
    statement = select(func.count()).select_from(listings).where(and_(*conditions(query, who)))
    return int((await conn.execute(statement)).scalar_one())


def cursor_for(sort: ListingSort, query: ListingQuery, row: Any) -> list[Any]:
    sort = effective_sort(query, sort)
    value = row.sort_value
    if isinstance(value, datetime):
        value = value.isoformat()
    return [sort.value, value, str(row.id)]


# -- a realtor's listings, for many realtors in one statement ------------------------------------
# The position just before anyone's newest listing: a first page continues from there, so
# every page is the same keyset condition, an index condition on `listings_realtor`.
BEFORE_NEWEST = (datetime.max.replace(tzinfo=UTC), uuid.UUID(int=(1 << 128) - 1))
# Any query without text: its NEWEST cursors are the ones search hands out.
_NO_TEXT = ListingQuery()


def _realtors(wanted: Sequence[RealtorListings], private: Sequence[bool]) -> TableValuedAlias:
    """The requests as rows, numbered from 1 (`unnest` of one array per column)."""
    return (
        func.unnest(
            literal([w.realtor_id for w in wanted], ARRAY(UUID(as_uuid=True))),
            literal([w.status.value if w.status else None for w in wanted], ARRAY(Text)),
            literal(list(private), ARRAY(Boolean)),
            literal([w.before[0] for w in wanted], ARRAY(DateTime(timezone=True))),
            literal([w.before[1] for w in wanted], ARRAY(UUID(as_uuid=True))),
            literal([w.limit + 1 for w in wanted], ARRAY(Integer)),
        )
        .table_valued(
            column("realtor_id", UUID(as_uuid=True)),
            column("status", Text),
            column("private", Boolean),
            column("before_at", DateTime(timezone=True)),
            column("before_id", UUID(as_uuid=True)),
            column("fetch", Integer),
            with_ordinality="ordinal",
        )
        .render_derived(name="wanted")
    )


def _shown(wanted: TableValuedAlias) -> list[ColumnElement[bool]]:
    """A requested realtor's listings of the requested status, private ones only where the
    caller sees that realtor's (the `private` column: `sees_private_listings_of`)."""
    c = listings.c
    return [
        c.realtor_id == wanted.c.realtor_id,
        or_(wanted.c.status.is_(None), c.status == wanted.c.status),
        or_(wanted.c.private, c.status.in_(PUBLIC_VALUES)),
    ]


def realtor_pages_statement(
    wanted: Sequence[RealtorListings], private: Sequence[bool]
) -> Select[Any]:
    """Each request's page (`limit + 1` rows, newest first) with its `ordinal`."""
    parents = _realtors(wanted, private)
    c = listings.c
    page = (
        select(*LISTING_COLUMNS, c.created_at.label("sort_value"))
        .where(
            *_shown(parents),
            tuple_(c.created_at, c.id) < tuple_(parents.c.before_at, parents.c.before_id),
        )
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(parents.c.fetch)
        .lateral("page")
    )
    return (
        select(parents.c.ordinal, page)
        .select_from(parents.join(page, true()))
        .order_by(parents.c.ordinal, page.c.sort_value.desc(), page.c.id.desc())
    )


def realtor_counts_statement(
    wanted: Sequence[RealtorListings], private: Sequence[bool]
) -> Select[Any]:
    """How many listings each request's list holds in all (`ordinal`, `total`)."""
    parents = _realtors(wanted, private)
    total = select(func.count()).select_from(listings).where(*_shown(parents)).scalar_subquery()
    return select(parents.c.ordinal, total.label("total")).select_from(parents)
