"""Driver rows to listings and cursors: the fast paths give exactly what the general ones
give (the store's mapping by name, `encode_cursor`'s JSON)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from listings.domain import ListingStatus, PropertyType
from listings.queries.rows import ORDER, listing_of
from listings.queries.search import cursor_value, row_cursor
from listings.store import listing_from_row
from servicekit.pagination import decode_cursor, encode_cursor

SORT_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(sort=st.sampled_from(["NEWEST", "PRICE_ASC", "RELEVANCE"]), value=SORT_VALUES)
def test_a_row_cursor_is_the_encoded_sort_key(sort: str, value: Any) -> None:
    row_id = uuid.uuid4()
    cursor = row_cursor(sort, value, row_id)
    assert cursor == encode_cursor([sort, cursor_value(value), str(row_id)])
    assert decode_cursor(cursor) is not None


@settings(max_examples=100, deadline=None)
@given(
    status=st.sampled_from(list(ListingStatus)),
    kind=st.sampled_from(list(PropertyType)),
    unit=st.one_of(st.none(), st.text(max_size=5)),
    area=st.one_of(st.none(), st.integers(1, 10_000)),
    point=st.one_of(st.none(), st.tuples(st.floats(-90, 90), st.floats(-180, 180))),
    lat_only=st.booleans(),
)
def test_a_driver_row_is_the_listing_the_store_maps(
    status: ListingStatus,
    kind: PropertyType,
    unit: str | None,
    area: int | None,
    point: tuple[float, float] | None,
    lat_only: bool,
) -> None:
    now = datetime(2027, 1, 4, tzinfo=UTC)
    lat, lng = point if point else (None, None)
    if lat_only and point:
        lng = None
    values = {
        "id": uuid.uuid4(), "slug": "home-1", "realtor_id": uuid.uuid4(), "title": "Home",
        "description": "Big", "price_amount": 45_000_000, "price_currency": "USD",
        "status": status.value, "property_type": kind.value, "bedrooms": 3, "bathrooms": 2.5,
        "living_area_sqft": area, "street": "1 Main St", "unit": unit, "city": "Austin",
        "state": "TX", "postal_code": "78701", "country": "US", "latitude": lat,
        "longitude": lng, "time_zone": "America/Chicago", "created_at": now,
        "updated_at": now + timedelta(hours=1),
    }  # fmt: skip
    row = (*(values[name] for name in ORDER), "sort key")
    found = listing_of(row)
    assert found == listing_from_row(values)
    assert type(found.status) is ListingStatus
    assert type(found.details.property_type) is PropertyType
