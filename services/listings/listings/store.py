"""Rows to aggregates and back: the only module that knows both the tables and the domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
from listings.tables import listings, photos

# Everything but the (large) search document.
LISTING_COLUMNS = [c for c in listings.c if c.name != "search"]


def listing_from_row(
    row: Row[Any] | Mapping[str, Any], photo_list: Sequence[Photo] = ()
) -> Listing:
    m: Mapping[str, Any] = row._mapping if isinstance(row, Row) else row  # type: ignore[assignment]
    location = None
    if m["latitude"] is not None and m["longitude"] is not None:
        location = GeoPoint(m["latitude"], m["longitude"])
    details = ListingDetails.restore(
        title=m["title"],
        description=m["description"],
        price=Money(m["price_amount"], m["price_currency"]),
        property_type=PropertyType(m["property_type"]),
        bedrooms=m["bedrooms"],
        bathrooms=m["bathrooms"],
        living_area_sqft=m["living_area_sqft"],
        address=Address(
            street=m["street"],
            unit=m["unit"],
            city=m["city"],
            state=m["state"],
            postal_code=m["postal_code"],
            country=m["country"],
        ),
        location=location,
    )
    return Listing(
        id=m["id"],
        slug=m["slug"],
        realtor_id=m["realtor_id"],
        details=details,
        status=ListingStatus(m["status"]),
        time_zone=m["time_zone"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        photos=list(photo_list),
    )


def listing_values(listing: Listing) -> dict[str, Any]:
    d = listing.details
    return {
        "id": listing.id,
        "slug": listing.slug,
        "realtor_id": listing.realtor_id,
        "title": d.title,
        "description": d.description,
        "price_amount": d.price.amount,
        "price_currency": d.price.currency,
        "status": listing.status.value,
        "property_type": d.property_type.value,
        "bedrooms": d.bedrooms,
        "bathrooms": d.bathrooms,
        "living_area_sqft": d.living_area_sqft,
        "street": d.address.street,
        "unit": d.address.unit,
        "city": d.address.city,
        "state": d.address.state,
        "postal_code": d.address.postal_code,
        "country": d.address.country,
        "latitude": d.location.lat if d.location else None,
        "longitude": d.location.lng if d.location else None,
        "time_zone": listing.time_zone,
        "created_at": listing.created_at,
        "updated_at": listing.updated_at,
    }


def photo_from_row(row: Row[Any]) -> Photo:
    return Photo(
        id=row.id,
        key=row.key,
        content_type=row.content_type,
        size=row.size,
        position=row.position,
        is_cover=row.is_cover,
    )


async def photos_of(
    session: AsyncSession | AsyncConnection, listing_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Photo]]:
    """Photos of several listings in one query, each list in display order."""
    ids = list(listing_ids)
    found: dict[uuid.UUID, list[Photo]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = await session.execute(
        select(photos).where(photos.c.listing_id.in_(ids)).order_by(photos.c.position)
    )
    for row in rows:
        found[row.listing_id].append(photo_from_row(row))
    return found


async def load(
    session: AsyncSession, listing_id: uuid.UUID, *, lock: bool = True
) -> Listing | None:
    """The aggregate with its photos; locked for update so concurrent edits serialize."""
    statement = select(*LISTING_COLUMNS).where(listings.c.id == listing_id)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    return listing_from_row(row, (await photos_of(session, [listing_id]))[listing_id])


async def insert_listing(session: AsyncSession, listing: Listing) -> None:
    await session.execute(listings.insert().values(**listing_values(listing)))


async def save_listing(session: AsyncSession, listing: Listing) -> None:
    values = listing_values(listing)
    values.pop("id")
    await session.execute(update(listings).where(listings.c.id == listing.id).values(**values))


async def save_photos(session: AsyncSession, listing: Listing, *, now: datetime) -> None:
    """Make the stored photos of `listing` exactly its current list (order and cover)."""
    keep = [p.id for p in listing.photos]
    await session.execute(
        delete(photos).where(photos.c.listing_id == listing.id, photos.c.id.not_in(keep))
        if keep
        else delete(photos).where(photos.c.listing_id == listing.id)
    )
    if not listing.photos:
        return
    statement = insert(photos).values(
        [
            {
                "id": p.id,
                "listing_id": listing.id,
                "key": p.key,
                "content_type": p.content_type,
                "size": p.size,
                "position": p.position,
                "is_cover": p.is_cover,
                "created_at": now,
            }
            for p in listing.photos
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[photos.c.id],
            set_={"position": statement.excluded.position, "is_cover": statement.excluded.is_cover},
        )
    )
