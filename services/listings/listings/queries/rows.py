"""Driver rows (plain tuples) to the domain's objects, by position.

The driver statements select `LISTING_COLUMNS` first, in that order, then whatever else a
read needs (a sort key, a photo's columns); the positions below are checked against the
table at import, so a new column cannot shift them unnoticed. Stored details are restored,
not validated again (as `ListingDetails.restore` does for the store).
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


_STATUSES = {member.value: member for member in ListingStatus}
_KINDS = {member.value: member for member in PropertyType}
_new = object.__new__


def _setters(cls: type[Any], *names: str) -> tuple[Any, ...]:
    """The slot descriptors' setters of a frozen value object's fields: a stored value is
    restored through them at a fraction of the frozen `__init__`'s cost (which goes through
    `object.__setattr__` by name for each field), its rules not applied again."""
    return tuple(cls.__dict__[name].__set__ for name in names)


_MONEY = _setters(Money, "amount", "currency")
_ADDRESS = _setters(Address, "street", "unit", "city", "state", "postal_code", "country")
_POINT = _setters(GeoPoint, "lat", "lng")
_DETAILS = _setters(
    ListingDetails,
    "title", "description", "price", "property_type", "bedrooms", "bathrooms",
    "living_area_sqft", "address", "location",
)  # fmt: skip


def listing_of(row: tuple[Any, ...]) -> Listing:
    """The listing in the first `WIDTH` columns of a driver row: enums by lookup, value
    objects restored through their slots (this runs for every row a search returns)."""
    (
        id_, slug, realtor_id, title, description, amount, currency, status, kind, bedrooms,
        bathrooms, area, street, unit, city, state, postal_code, country, lat, lng, zone,
        created_at, updated_at,
    ) = row[:WIDTH]  # fmt: skip
    price = _new(Money)
    _MONEY[0](price, amount)
    _MONEY[1](price, currency)
    address = _new(Address)
    a_street, a_unit, a_city, a_state, a_postal, a_country = _ADDRESS
    a_street(address, street)
    a_unit(address, unit)
    a_city(address, city)
    a_state(address, state)
    a_postal(address, postal_code)
    a_country(address, country)
    location = None
    if lat is not None and lng is not None:
        location = _new(GeoPoint)
        _POINT[0](location, lat)
        _POINT[1](location, lng)
    details = _new(ListingDetails)
    for setter, value in zip(
        _DETAILS,
        (
            title, description, price, _KINDS.get(kind) or PropertyType(kind), bedrooms,
            bathrooms, area, address, location,
        ),
        strict=True,
    ):  # fmt: skip
        setter(details, value)
    return Listing(
        id_,
        slug,
        realtor_id,
        details,
        _STATUSES.get(status) or ListingStatus(status),
        zone,
        created_at,
        updated_at,
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
