"""Driver rows (plain tuples) to the domain's objects, by position.

The driver statements select `LISTING_COLUMNS` first, in that order, then whatever else a
read needs (a sort key, a photo's columns); the positions below are checked against the
table at import, so a new column cannot shift them unnoticed. Stored details are restored,
not validated again (`ListingDetails.restore`), as the store does.
"""

from __future__ import annotations

from typing import Any

from listings.domain import (
    Address,
    GeoPoint,
    Listing,
    ListingDetails,
    ListingStatus,
    Money,
    Photo,
    PropertyType,
)
from listings.store import LISTING_COLUMNS
from listings.tables import photos

ORDER = (
    "id", "slug", "realtor_id", "title", "description", "price_amount", "price_currency",
    "status", "property_type", "bedrooms", "bathrooms", "living_area_sqft", "street", "unit",
    "city", "state", "postal_code", "country", "latitude", "longitude", "time_zone",
    "created_at", "updated_at",
)  # fmt: skip
if tuple(c.name for c in LISTING_COLUMNS) != ORDER:
    raise RuntimeError("listings' columns changed: update queries.rows.ORDER and listing_of")
WIDTH = len(ORDER)  # where a statement's own columns start

PHOTO_ORDER = (
    "id", "listing_id", "key", "content_type", "size", "position", "is_cover", "created_at",
)  # fmt: skip
if tuple(c.name for c in photos.c) != PHOTO_ORDER:
    raise RuntimeError("listing_photos' columns changed: update queries.rows.photo_of")


def listing_of(row: tuple[Any, ...]) -> Listing:
    """The listing in the first `WIDTH` columns of a driver row."""
    (
        id_, slug, realtor_id, title, description, amount, currency, status, kind, bedrooms,
        bathrooms, area, street, unit, city, state, postal_code, country, lat, lng, zone,
        created_at, updated_at,
    ) = row[:WIDTH]  # fmt: skip
    details = ListingDetails.restore(
        title=title,
        description=description,
        price=Money(amount, currency),
        property_type=PropertyType(kind),
        bedrooms=bedrooms,
        bathrooms=bathrooms,
        living_area_sqft=area,
        address=Address(
            street=street,
            unit=unit,
            city=city,
            state=state,
            postal_code=postal_code,
            country=country,
        ),
        location=GeoPoint(lat, lng) if lat is not None and lng is not None else None,
    )
    return Listing(
        id=id_,
        slug=slug,
        realtor_id=realtor_id,
        details=details,
        status=ListingStatus(status),
        time_zone=zone,
        created_at=created_at,
        updated_at=updated_at,
        photos=[],
    )


def photo_of(row: tuple[Any, ...], start: int = 0) -> Photo:
    """The photo in a driver row's columns from `start` on (`listing_photos`' order)."""
    id_, _, key, content_type, size, position, is_cover = row[start : start + 7]
    return Photo(
        id=id_,
        key=key,
        content_type=content_type,
        size=size,
        position=position,
        is_cover=is_cover,
    )
