"""The search statement: filters, full-text ranking, radius and keyset pagination.

A search's SQL depends only on its shape (which filters are set, how many statuses and
property types, who may see private listings, the sort, whether a cursor is given), never
on the values, so each shape is built and compiled to driver SQL once (`compiled`) and a
search only gathers its values (`plan`). `search_statement` is the same statement as a
SQLAlchemy `Select` with the values bound, for EXPLAIN in the tests and the benchmark.

Every sort orders by a key that ends in the id, and a page continues strictly after the key
of the last row it returned (the cursor), so rows added or changed meanwhile never make a
page repeat or skip a row that was already there. Each sort has an index whose order matches
(`listings_newest`, `listings_price`); the text filter uses the GIN index on the generated
`search` column and the radius filter the GiST index on `ll_to_earth`. Statuses and
property types are lists of parameters (`IN (%(status_0)s, ...)`), so a single status is
the plain equality the planner matches to those indexes.
"""

from __future__ import annotations

import binascii
import math
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from servicekit.errors import BadUserInput
from servicekit.pagination import decode_cursor, encode_cursor
from servicekit.reads import driver_sql
from servicekit.vocabulary import Principal
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.types import TypeEngine

from listings.criteria import ListingQuery, ListingSort, effective_sort
from listings.domain import PUBLIC_STATUSES
from listings.store import LISTING_COLUMNS
from listings.tables import listings

PUBLIC_VALUES = sorted(s.value for s in PUBLIC_STATUSES)
# The public statuses as constants of the statement (the same text for every caller).
PUBLIC = listings.c.status.in_([literal_column(f"'{v}'") for v in PUBLIC_VALUES])

# One element of a shape: a filter's name and, for lists, how many values it has.
Part = tuple[str, Hashable]
Shape = tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """A search reduced to its statement's shape and the values of its parameters."""

    shape: Shape
    params: dict[str, Any]
    sort: ListingSort  # the sort in effect (RELEVANCE without text is NEWEST)


def cursor_position(sort: ListingSort, cursor: list[Any]) -> tuple[Any, uuid.UUID]:
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


def _visibility(query: ListingQuery, who: Principal | None) -> str:
    """`sees_private_listings_of` for a search: which private statuses may show."""
    if all(s in PUBLIC_STATUSES for s in query.statuses) or (who is not None and who.is_admin):
        return "all"
    return "public" if who is None else "public_or_own"


def _filters(query: ListingQuery, who: Principal | None) -> tuple[list[Part], dict[str, Any]]:
    """The WHERE clause's shape and values (the count uses it alone)."""
    shape: list[Part] = []
    params: dict[str, Any] = {}

    def listed(name: str, values: list[str]) -> None:
        shape.append((name, len(values)))
        params.update({f"{name}_{i}": v for i, v in enumerate(values)})

    def given(name: str, value: Any) -> None:
        if value is not None:
            shape.append((name, None))
            params[name] = value

    listed("status", [s.value for s in query.statuses])
    visibility = _visibility(query, who)
    shape.append(("visible", visibility))
    if visibility == "public_or_own":
        assert who is not None
        params["viewer"] = who.user_id
    given("text", query.text or None)
    given("city", query.city.strip().lower() if query.city else None)
    given("state", query.state.strip().upper() if query.state else None)
    given("postal_code", query.postal_code.strip().upper() if query.postal_code else None)
    if query.property_types:
        listed("type", [t.value for t in query.property_types])
    given("min_price", query.min_price)
    given("max_price", query.max_price)
    given("min_bedrooms", query.min_bedrooms)
    given("min_bathrooms", query.min_bathrooms)
    given("min_sqft", query.min_sqft)
    given("realtor_id", query.realtor_id)
    if query.near is not None:
        shape.append(("near", None))
        params.update(
            lat=query.near.point.lat,
            lng=query.near.point.lng,
            metres=query.near.radius_km * 1000.0,
        )
    return shape, params


def plan(
    query: ListingQuery,
    sort: ListingSort,
    who: Principal | None,
    *,
    limit: int,
    after: str | None,
) -> Plan:
    """One page's statement shape and values (`limit + 1` rows to detect a next page); a
    cursor of another sort, or a malformed one, is BAD_USER_INPUT `after`."""
    sort = effective_sort(query, sort)
    shape, params = _filters(query, who)
    shape.append(("sort", sort.value))
    cursor = decode_cursor(after)
    if cursor is not None:
        params["after_key"], params["after_id"] = cursor_position(sort, cursor)
        shape.append(("after", None))
    params["fetch"] = limit + 1
    return Plan(shape=tuple(shape), params=params, sort=sort)


def count_plan(query: ListingQuery, who: Principal | None) -> Plan:
    shape, params = _filters(query, who)
    return Plan(shape=tuple(shape), params=params, sort=ListingSort.NEWEST)


# -- the statements of a shape ----------------------------------------------------------------
def _p(name: str, type_: TypeEngine[Any]) -> Any:
    return bindparam(name, type_=type_)


def _tsquery() -> ColumnElement[Any]:
    return func.websearch_to_tsquery(literal_column("'english'::regconfig"), _p("text", Text()))


def _earth(lat: Any, lng: Any) -> ColumnElement[Any]:
    return func.ll_to_earth(lat, lng)


def _where(shape: Shape) -> list[ColumnElement[bool]]:
    c = listings.c
    where: list[ColumnElement[bool]] = []
    for name, detail in shape:
        if name == "status":
            assert isinstance(detail, int)
            where.append(c.status.in_([_p(f"status_{i}", Text()) for i in range(detail)]))
        elif name == "visible" and detail != "all":
            own = c.realtor_id == _p("viewer", UUID(as_uuid=True))
            where.append(PUBLIC if detail == "public" else or_(PUBLIC, own))
        elif name == "text":
            where.append(c.search.op("@@")(_tsquery()))
        elif name == "city":
            where.append(func.lower(c.city) == _p("city", Text()))
        elif name == "state":
            where.append(c.state == _p("state", Text()))
        elif name == "postal_code":
            where.append(c.postal_code == _p("postal_code", Text()))
        elif name == "type":
            assert isinstance(detail, int)
            where.append(c.property_type.in_([_p(f"type_{i}", Text()) for i in range(detail)]))
        elif name == "min_price":
            where.append(c.price_amount >= _p("min_price", BigInteger()))
        elif name == "max_price":
            where.append(c.price_amount <= _p("max_price", BigInteger()))
        elif name == "min_bedrooms":
            where.append(c.bedrooms >= _p("min_bedrooms", Integer()))
        elif name == "min_bathrooms":
            where.append(c.bathrooms >= _p("min_bathrooms", Float()))
        elif name == "min_sqft":
            where.append(c.living_area_sqft >= _p("min_sqft", Integer()))
        elif name == "realtor_id":
            where.append(c.realtor_id == _p("realtor_id", UUID(as_uuid=True)))
        elif name == "near":
            centre = _earth(_p("lat", Float()), _p("lng", Float()))
            metres = _p("metres", Float())
            here = _earth(c.latitude, c.longitude)
            where.append(func.earth_box(centre, metres).op("@>")(here))
            where.append(func.earth_distance(centre, here) <= metres)
    return where


def _key(sort: ListingSort) -> tuple[ColumnElement[Any], ColumnElement[Any], TypeEngine[Any]]:
    """The sort key (value, id) and the type of a cursor's value."""
    c = listings.c
    if sort is ListingSort.RELEVANCE:
        # ts_rank weighs matches by label (A title 1.0 > B description 0.4 > C address 0.2);
        # normalisation 1 divides by 1 + log(length) so long descriptions do not win by size.
        rank = func.ts_rank(c.search, _tsquery(), literal_column("1")).cast(Float)
        return rank, c.id, Float()
    if sort is ListingSort.NEWEST:
        return c.created_at, c.id, DateTime(timezone=True)
    return c.price_amount, c.id, BigInteger()


def page_select(shape: Shape) -> Select[Any]:
    """The rows of one page of a search shaped `shape`, with their sort key as `sort_value`."""
    parts = dict(shape)
    sort = ListingSort(str(parts["sort"]))
    value, last, value_type = _key(sort)
    where = _where(shape)
    if "after" in parts:
        position = tuple_(value, last)
        bound = tuple_(_p("after_key", value_type), _p("after_id", UUID(as_uuid=True)))
        where.append(position > bound if sort is ListingSort.PRICE_ASC else position < bound)
    ascending = sort is ListingSort.PRICE_ASC
    order = [k.asc() if ascending else k.desc() for k in (value, last)]
    return (
        select(*LISTING_COLUMNS, value.label("sort_value"))
        .where(and_(*where))
        .order_by(*order)
        .limit(_p("fetch", Integer()))
    )


def count_select(shape: Shape) -> Select[Any]:
    return select(func.count()).select_from(listings).where(and_(*_where(shape)))


@lru_cache(maxsize=512)
def compiled(shape: Shape, *, count: bool = False) -> str:
    """The driver SQL of a shape (page or count), built and compiled once per shape."""
    statement = count_select(shape) if count else page_select(shape)
    return driver_sql(statement)


def search_statement(
    query: ListingQuery,
    sort: ListingSort,
    who: Principal | None,
    *,
    limit: int,
    after: str | None,
) -> Select[Any]:
    """The page statement of a search with its values bound (EXPLAIN, tests)."""
    found = plan(query, sort, who, limit=limit, after=after)
    return page_select(found.shape).params(**found.params)


def cursor_value(value: Any) -> Any:
    """A sort key as a cursor holds it (JSON: instants as ISO 8601)."""
    return value.isoformat() if isinstance(value, datetime) else value


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def row_cursor(sort: str, value: Any, row_id: uuid.UUID) -> str:
    """The cursor of a row: `encode_cursor([sort, cursor_value(value), str(row_id)])`, the
    same text, written without the JSON encoder for the sort keys search has (a sort
    name, a number, an instant, null); anything else goes through `encode_cursor`."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        key = repr(value)
    elif kind is datetime:
        key = f'"{value.isoformat()}"'
    elif value is None:
        key = "null"
    else:
        return encode_cursor([sort, cursor_value(value), str(row_id)])
    text = f'["{sort}",{key},"{row_id}"]'.encode()
    return binascii.b2a_base64(text, newline=False).translate(_URLSAFE).decode()
