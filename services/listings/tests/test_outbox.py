"""Every domain event reaches the outbox through the use cases, with its subject and payload.

The event types are enumerated from `domain.DomainEvent`, so a new event without a use
case that announces it (or without a mapping in `events.py`) fails here. Each is driven
through a real use case against the real database; the rows are read back from the
outbox the unit of work wrote in the use case's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import httpx
from google.protobuf.message import Message
from listings import domain
from listings.domain import ListingChanges, ListingStatus
from realty.events.v1.envelope_pb2 import Envelope
from realty.listings.v1 import listings_pb2
from servicekit.auth import Principal, Role
from servicekit.db import Database
from servicekit.tables import outbox
from sqlalchemy import func, select

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100
Driver = Callable[[Any, Principal, domain.Listing], Awaitable[None]]


async def rename(service: Any, who: Principal, listing: domain.Listing) -> None:
    await service.update(who, listing.id, ListingChanges(details={"title": "Renamed home"}))


async def activate(service: Any, who: Principal, listing: domain.Listing) -> None:
    await service.update(who, listing.id, ListingChanges(status=ListingStatus.ACTIVE))


async def delete(service: Any, who: Principal, listing: domain.Listing) -> None:
    await service.delete(who, listing.id)


async def nothing_more(service: Any, who: Principal, listing: domain.Listing) -> None:
    """`created` is announced by the `create` every case starts with."""


# event type -> (use case that causes it, subject, payload type)
CASES: dict[type, tuple[Driver, str, type[Message]]] = {
    domain.ListingCreated: (nothing_more, "listings.listing.created", listings_pb2.ListingCreated),
    domain.ListingUpdated: (rename, "listings.listing.updated", listings_pb2.ListingUpdated),
    domain.ListingStatusChanged: (
        activate,
        "listings.listing.status_changed",
        listings_pb2.ListingStatusChanged,
    ),
    domain.ListingDeleted: (delete, "listings.listing.deleted", listings_pb2.ListingDeleted),
}


async def rows_after(db: Database, seq: int) -> list[Any]:
    async with db.session() as session:
        result = await session.execute(
            select(outbox.c.subject, outbox.c.subject_id, outbox.c.envelope)
            .where(outbox.c.seq > seq)
            .order_by(outbox.c.seq)
        )
        return list(result)


async def last_seq(db: Database) -> int:
    async with db.session() as session:
        seq = await session.execute(select(func.coalesce(func.max(outbox.c.seq), 0)))
        return int(seq.scalar_one())


def listing_id_of(payload: Any) -> str:
    """The listing a payload is about: whole listings (created, updated) or just its id."""
    if "listing" in payload.DESCRIPTOR.fields_by_name:
        return str(payload.listing.id)
    return str(payload.listing_id)


async def test_every_domain_event_type_reaches_the_outbox(db, service, details):
    assert set(CASES) == set(get_args(domain.DomainEvent)), "each event type has a case"
    realtor = Principal(uuid.uuid4(), Role.REALTOR)
    for event_type, (drive, subject, payload_type) in CASES.items():
        before = await last_seq(db)
        listing = await service.create(realtor, details(f"Home for {event_type.__name__}"))
        assert listing.events == [], "the unit of work took the events"
        await drive(service, realtor, listing)
        rows = await rows_after(db, before)
        subjects = [r.subject for r in rows]
        assert subjects[0] == "listings.listing.created", event_type
        assert subject in subjects, event_type
        for row in rows:
            envelope = Envelope.FromString(row.envelope)
            assert row.subject_id == str(listing.id) == envelope.subject_id
            assert envelope.subject == row.subject
            assert envelope.actor == str(realtor.user_id)
            assert envelope.source == "listings"
        row = next(r for r in rows if r.subject == subject)
        envelope = Envelope.FromString(row.envelope)
        assert envelope.type == payload_type.DESCRIPTOR.full_name
        payload = payload_type.FromString(envelope.payload)
        assert listing_id_of(payload) == str(listing.id), event_type


async def test_photo_changes_are_announced_as_updates(db, service, details):
    """Photos are part of the aggregate: adding and reordering them are updates of it."""
    realtor = Principal(uuid.uuid4(), Role.REALTOR)
    listing = await service.create(realtor, details("Gallery home"), status=ListingStatus.ACTIVE)
    photos = []
    for n in range(2):
        ticket = await service.request_photo_upload(realtor, listing.id, "image/jpeg", f"{n}.jpg")
        async with httpx.AsyncClient() as s3:
            response = await s3.post(
                ticket.post.url,
                data=ticket.post.fields,
                files={"file": (f"{n}.jpg", JPEG, "image/jpeg")},
            )
        assert response.status_code in (200, 201, 204), response.text
        before = await last_seq(db)
        photos.append(await service.confirm_photo_upload(realtor, listing.id, ticket.id))
        assert [r.subject for r in await rows_after(db, before)] == ["listings.listing.updated"]
    before = await last_seq(db)
    await service.reorder_photos(realtor, listing.id, [photos[1].id, photos[0].id])
    rows = await rows_after(db, before)
    assert [r.subject for r in rows] == ["listings.listing.updated"]
    payload = listings_pb2.ListingUpdated.FromString(Envelope.FromString(rows[0].envelope).payload)
    assert payload.listing.id == str(listing.id)
