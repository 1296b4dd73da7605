"""Listing search: filters, full-text ranking, radius and keyset pagination as one SQL query.

Every sort orders by a key that ends in the id, and a page continues strictly after the
key of the last row it returned (the cursor), so rows added or changed meanwhile never make
a page repeat or skip a row that was already there. Each sort has an index whose order
matches (`listings_newest`, `listings_price`); the text filter uses the GIN index on the
generated `search` column and the radius filter the GiST index on `ll_to_earth`.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from servicekit.errors import BadUserInput
from servicekit.pagination import decode_cursor
from sqlalchemy import ColumnElement, Float, Select, and_, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import REGCONFIG

from listings.domain import PUBLIC_STATUSES, GeoPoint, ListingStatus, PropertyType
from listings.store import LISTING_COLUMNS
from listings.tables import listings

MAX_RADIUS_KM = 500.0
MAX_TEXT = 200


class ListingSort(StrEnum):
    RELEVANCE = "RELEVANCE"
    NEWEST = "NEWEST"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"


@dataclass(frozen=True, slots=True)
class Near:
    point: GeoPoint
    radius_km: float

    @classmethod
    def of(cls, lat: float, lng: float, radius_km: float) -> Near:
        if not (math.isfinite(radius_km) and 0 < radius_km <= MAX_RADIUS_KM):
            raise BadUserInput(
                f"radiusKm must be greater than 0 and at most {MAX_RADIUS_KM:g}",
                field="near.radiusKm",
            )
        return cls(GeoPoint.of(lat, lng), radius_km)


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """What a caller searches for; empty fields do not filter."""

    text: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    property_types: tuple[PropertyType, ...] = ()
    min_price: int | None = None
    max_price: int | None = None
    min_bedrooms: int | None = None
    min_bathrooms: float | None = None
    min_sqft: int | None = None
    near: Near | None = None
    statuses: tuple[ListingStatus, ...] = (ListingStatus.ACTIVE,)
    realtor_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.text is not None:
            cleaned = self.text.strip()
            if len(cleaned) > MAX_TEXT:
                raise BadUserInput(f"text is longer than {MAX_TEXT} characters", field="text")
            object.__setattr__(self, "text", cleaned or None)
        for name in ("min_price", "max_price", "min_bedrooms", "min_sqft"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise BadUserInput(f"{name} must not be negative", field=name)
        if self.min_bathrooms is not None and not (
            math.isfinite(self.min_bathrooms) and self.min_bathrooms >= 0
        ):
            raise BadUserInput("minBathrooms must not be negative", field="minBathrooms")
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise BadUserInput("minPrice is greater than maxPrice", field="minPrice")
        if not self.statuses:
            raise BadUserInput("statuses must not be empty", field="statuses")


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: decides whether DRAFT and WITHDRAWN listings can appear."""

    user_id: uuid.UUID | None = None
    is_admin: bool = False


def effective_sort(query: ListingQuery, sort: ListingSort) -> ListingSort:
    """RELEVANCE needs words to rank by; without text it means NEWEST."""
    return ListingSort.NEWEST if sort is ListingSort.RELEVANCE and not query.text else sort


def _tsquery(text: str) -> ColumnElement[Any]:
    return func.websearch_to_tsquery(literal("english").cast(REGCONFIG), text)


def _earth(lat: Any, lng: Any) -> ColumnElement[Any]:
    return func.ll_to_earth(lat, lng)


def conditions(query: ListingQuery, viewer: Viewer) -> list[ColumnElement[bool]]:
    c = listings.c
    where: list[ColumnElement[bool]] = [c.status.in_([s.value for s in query.statuses])]
    private = [s for s in query.statuses if s not in PUBLIC_STATUSES]
    if private and not viewer.is_admin:
        if viewer.user_id is None:
            where.append(c.status.in_([s.value for s in PUBLIC_STATUSES]))
        else:
            where.append(
                or_(
                    c.status.in_([s.value for s in PUBLIC_STATUSES]), c.realtor_id == viewer.user_id
                )
            )
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


def _after(
    sort: ListingSort, key: list[ColumnElement[Any]], cursor: list[Any]
) -> ColumnElement[bool]:
    if not cursor or cursor[0] != sort.value or len(cursor) != 3:
        raise BadUserInput("cursor does not belong to this sort", argument="after")
    try:
        last_id = uuid.UUID(str(cursor[2]))
        if sort is ListingSort.NEWEST:
            value: Any = datetime.fromisoformat(str(cursor[1]))
        elif sort is ListingSort.RELEVANCE:
            value = float(cursor[1])
        else:
            value = int(cursor[1])
    except (TypeError, ValueError):
        raise BadUserInput("invalid cursor", argument="after") from None
    position = tuple_(key[0], key[1])
    bound = tuple_(literal(value), literal(last_id))
    return position > bound if sort is ListingSort.PRICE_ASC else position < bound


def search_statement(
    query: ListingQuery,
    sort: ListingSort,
    viewer: Viewer,
    *,
    limit: int,
    after: str | None,
) -> Select[Any]:
    """Rows of one page (`limit + 1` to detect a next page) with their sort key as `sort_value`."""
    sort = effective_sort(query, sort)
    key = sort_key(query, sort)
    where = conditions(query, viewer)
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


def count_statement(query: ListingQuery, viewer: Viewer) -> Select[Any]:
    return select(func.count()).select_from(listings).where(and_(*conditions(query, viewer)))


def cursor_for(sort: ListingSort, query: ListingQuery, row: Any) -> list[Any]:
    sort = effective_sort(query, sort)
    value = row.sort_value
    if isinstance(value, datetime):
        value = value.isoformat()
    return [sort.value, value, str(row.id)]
