"""Every statement that writes: listings, their photos and pending uploads, in a unit of work.

The functions that load or add a `Listing` register it with the unit of work
(`uow.track`), so its domain events reach the outbox at commit whatever the use case does.
Loads lock the row (`FOR UPDATE`), so concurrent changes of one listing serialize. A row
that breaks a unique constraint surfaces as CONFLICT. The row <-> aggregate mapping lives
here too; `queries.py` reuses it to read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from servicekit.db import UnitOfWork, libpq_url
from servicekit.errors import Conflict
from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from listings.domain import (
    Address,
    GeoPoint,
    Listing,
    ListingDetails,
    ListingStatus,
    Money,
    PendingUpload,
    Photo,
    PropertyType,
)
from listings.tables import listings, photo_uploads, photos

# Everything but the (large) search document.
LISTING_COLUMNS = [c for c in listings.c if c.name != "search"]
COPY_COLUMNS = [c.name for c in LISTING_COLUMNS]


# -- rows <-> aggregate ----------------------------------------------------------------------
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


# -- listings --------------------------------------------------------------------------------
async def load(uow: UnitOfWork, listing_id: uuid.UUID) -> Listing | None:
    """The aggregate with its photos, locked for update and tracked by `uow`."""
    session = uow.session
    row = (
        await session.execute(
            select(*LISTING_COLUMNS).where(listings.c.id == listing_id).with_for_update()
        )
    ).first()
    if row is None:
        return None
    found = await session.execute(
        select(photos).where(photos.c.listing_id == listing_id).order_by(photos.c.position)
    )
    return uow.track(listing_from_row(row, [photo_from_row(p) for p in found]))


async def add(uow: UnitOfWork, listing: Listing) -> Listing:
    """Insert a new listing; tracked, so its `created` event is written at commit."""
    await add_many(uow, [listing])
    return listing


async def add_many(uow: UnitOfWork, batch: Sequence[Listing]) -> int:
    """Insert listings with one statement, each tracked (their events go out at commit)."""
    if not batch:
        return 0
    try:
        await uow.session.execute(listings.insert(), [listing_values(x) for x in batch])
    except IntegrityError as exc:
        raise Conflict("a listing with this id or slug already exists") from exc
    for listing in batch:
        uow.track(listing)
    return len(batch)


async def save(uow: UnitOfWork, listing: Listing) -> None:
    """Write the listing's own columns (its photos are `save_photos`)."""
    values = listing_values(listing)
    values.pop("id")
    await uow.session.execute(update(listings).where(listings.c.id == listing.id).values(**values))


async def remove(uow: UnitOfWork, listing: Listing) -> None:
    """Delete the listing; its photos and pending uploads go with it (ON DELETE CASCADE)."""
    await uow.session.execute(delete(listings).where(listings.c.id == listing.id))


async def on_market_of(uow: UnitOfWork, realtor_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the realtor's listings that are not withdrawn, in a stable (locking) order."""
    rows = await uow.session.execute(
        select(listings.c.id)
        .where(
            listings.c.realtor_id == realtor_id,
            listings.c.status != ListingStatus.WITHDRAWN.value,
        )
        .order_by(listings.c.id)
    )
    return list(rows.scalars())


async def save_photos(uow: UnitOfWork, listing: Listing, *, now: datetime) -> None:
    """Make the stored photos of `listing` exactly its current list (order and cover)."""
    keep = [p.id for p in listing.photos]
    gone = photos.c.listing_id == listing.id
    await uow.session.execute(
        delete(photos).where(gone, photos.c.id.not_in(keep)) if keep else delete(photos).where(gone)
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
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[photos.c.id],
            set_={"position": statement.excluded.position, "is_cover": statement.excluded.is_cover},
        )
    )


# -- pending uploads -------------------------------------------------------------------------
async def add_upload(uow: UnitOfWork, upload: PendingUpload, *, now: datetime) -> None:
    await uow.session.execute(
        photo_uploads.insert().values(
            id=upload.id,
            listing_id=upload.listing_id,
            key=upload.key,
            content_type=upload.content_type,
            file_name=upload.file_name,
            expires_at=upload.expires_at,
            created_at=now,
        )
    )


async def take_upload(
    uow: UnitOfWork, listing_id: uuid.UUID, upload_id: uuid.UUID
) -> PendingUpload | None:
    """The pending upload of this listing, locked so two confirmations cannot both use it."""
    row = (
        await uow.session.execute(
            select(photo_uploads)
            .where(photo_uploads.c.id == upload_id, photo_uploads.c.listing_id == listing_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    return PendingUpload(
        id=row.id,
        listing_id=row.listing_id,
        key=row.key,
        content_type=row.content_type,
        file_name=row.file_name,
        expires_at=row.expires_at,
    )


async def forget_upload(uow: UnitOfWork, upload_id: uuid.UUID) -> None:
    await uow.session.execute(delete(photo_uploads).where(photo_uploads.c.id == upload_id))


async def upload_keys_of(uow: UnitOfWork, listing_id: uuid.UUID) -> list[str]:
    rows = await uow.session.execute(
        select(photo_uploads.c.key).where(photo_uploads.c.listing_id == listing_id)
    )
    return list(rows.scalars())


async def purge_uploads(uow: UnitOfWork, *, expired_before: datetime) -> list[str]:
    """Forget uploads whose POST expired before `expired_before`; the keys of their objects."""
    rows = await uow.session.execute(
        delete(photo_uploads)
        .where(photo_uploads.c.expires_at < expired_before)
        .returning(photo_uploads.c.key)
    )
    return list(rows.scalars())


# -- bulk load -------------------------------------------------------------------------------
async def copy_listings(database_url: str, batch: Iterable[Listing]) -> int:
    """COPY listings into the table and ANALYZE it: no events, for benchmarks and big demos
    (a bulk load is not a business fact)."""
    total = 0
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        async with conn.cursor() as cur:
            columns = ", ".join(COPY_COLUMNS)
            async with cur.copy(f"COPY listings ({columns}) FROM STDIN") as copy:
                for listing in batch:
                    values = listing_values(listing)
                    await copy.write_row(tuple(values[name] for name in COPY_COLUMNS))
                    total += 1
        await conn.commit()
        await conn.execute("ANALYZE listings")
        await conn.commit()
    return total
