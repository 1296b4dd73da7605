"""Listings' use cases: the only code that changes listings and their photos.

Each command opens a unit of work, loads the aggregate through the store (locked and
tracked), lets the domain decide, writes through the store and commits; the unit of work
writes the events of every listing it tracked to the outbox in the same transaction.
Reads are `queries.py`. Transport layers (GraphQL, gRPC, NATS, workers) call these
methods; none of them speaks SQL or a transport here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import BadUserInput, NotFound, Principal

from listings import store
from listings.domain import (
    Listing,
    ListingChanges,
    ListingDetails,
    ListingStatus,
    PendingUpload,
    Photo,
)
from listings.images import IMAGE_TYPES, SNIFF_BYTES, normalise_content_type, sniff
from listings.storage import PhotoStorage, PresignedPost

Clock = Callable[[], datetime]
MAX_FILE_NAME = 255
# How long after its POST expired an unconfirmed upload is forgotten with its object.
UPLOAD_GRACE = timedelta(hours=24)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PhotoUploadTicket:
    id: uuid.UUID
    post: PresignedPost
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PhotoPolicy:
    max_bytes: int = 15 * 1024 * 1024
    max_photos: int = 50
    upload_expires_seconds: int = 900


class ListingService:
    def __init__(
        self,
        db: Database,
        storage: PhotoStorage,
        *,
        photo_policy: PhotoPolicy | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.storage = storage
        self.photo_policy = photo_policy or PhotoPolicy()
        self.clock = clock

    # -- listings ---------------------------------------------------------------------------
    async def create(
        self,
        actor: Principal,
        details: ListingDetails,
        *,
        status: ListingStatus = ListingStatus.DRAFT,
        time_zone: str | None = None,
    ) -> Listing:
        """A new listing whose realtor is the caller (REALTOR exactly: the domain's rule)."""
        listing = Listing.create(
            by=actor, details=details, status=status, time_zone=time_zone, now=self.clock()
        )
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            await store.add(uow, listing)
            await uow.commit()
        return listing

    async def update(
        self, actor: Principal, listing_id: uuid.UUID, changes: ListingChanges
    ) -> Listing:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._managed(uow, actor, listing_id)
            listing.update(changes, now=self.clock())
            await store.save(uow, listing)
            await uow.commit()
        return listing

    async def delete(self, actor: Principal, listing_id: uuid.UUID) -> bool:
        """Delete the listing, then its photo objects (an orphan costs storage, not truth)."""
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._managed(uow, actor, listing_id)
            keys = [p.key for p in listing.photos] + await store.upload_keys_of(uow, listing.id)
            listing.delete()
            await store.remove(uow, listing)
            await uow.commit()
        await self.storage.delete(*keys)
        return True

    async def withdraw_all_of(self, realtor_id: uuid.UUID, uow: UnitOfWork) -> int:
        """Take every listing of a realtor off the market (their account is gone), in the
        caller's unit of work (the consumer's, which records the event as processed)."""
        async with uow:
            withdrawn = 0
            now = self.clock()
            for listing_id in await store.on_market_of(uow, realtor_id):
                listing = await store.load(uow, listing_id)
                if listing is not None and listing.withdraw(now=now):
                    await store.save(uow, listing)
                    withdrawn += 1
            await uow.commit()
        return withdrawn

    async def import_listings(self, batch: Iterable[Listing], *, chunk: int = 500) -> int:
        """Add listings made elsewhere (demo data), announced like any new listing: their
        `created` events go out through the unit of work, one transaction per chunk."""
        total = 0
        pending = list(batch)
        for start in range(0, len(pending), chunk):
            part = pending[start : start + chunk]
            async with self.db.uow() as uow:
                total += await store.add_many(uow, part)
                await uow.commit()
        return total

    # -- photos -----------------------------------------------------------------------------
    async def request_photo_upload(
        self, actor: Principal, listing_id: uuid.UUID, content_type: str, file_name: str
    ) -> PhotoUploadTicket:
        declared = normalise_content_type(content_type)
        if declared is None:
            accepted = ", ".join(IMAGE_TYPES)
            raise BadUserInput(f"contentType must be one of {accepted}", field="contentType")
        name = file_name.strip()
        if not name or len(name) > MAX_FILE_NAME or any(ord(ch) < 32 for ch in name):
            raise BadUserInput("fileName must be 1 to 255 printable characters", field="fileName")
        policy = self.photo_policy
        now = self.clock()
        upload_id = uuid.uuid4()
        upload = PendingUpload(
            id=upload_id,
            listing_id=listing_id,
            key=f"listings/{listing_id}/{upload_id}.{IMAGE_TYPES[declared]}",
            content_type=declared,
            file_name=name,
            expires_at=now + timedelta(seconds=policy.upload_expires_seconds),
        )
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._managed(uow, actor, listing_id, field="listingId")
            listing.ensure_room_for_photo(policy.max_photos)
            await store.add_upload(uow, upload, now=now)
            post = self.storage.presign_post(
                key=upload.key,
                content_type=declared,
                max_bytes=policy.max_bytes,
                expires_in=policy.upload_expires_seconds,
            )
            await uow.commit()
        return PhotoUploadTicket(id=upload_id, post=post, expires_at=upload.expires_at)

    async def confirm_photo_upload(
        self, actor: Principal, listing_id: uuid.UUID, upload_id: uuid.UUID
    ) -> Photo:
        """Record an uploaded photo once its object exists, fits, and really is that image."""
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._managed(uow, actor, listing_id, field="listingId")
            upload = await store.take_upload(uow, listing_id, upload_id)
            if upload is None:
                raise NotFound("no such photo upload for this listing", field="uploadId")
            stored = await self.storage.head(upload.key)
            if stored is None:
                raise BadUserInput("the photo has not been uploaded yet", field="uploadId")
            problem = await self._problem(upload.key, stored.size, upload.content_type)
            await store.forget_upload(uow, upload_id)
            if problem is not None:
                # The upload is spent either way: forget it and remove the bad object.
                await uow.commit()
                await self.storage.delete(upload.key)
                raise BadUserInput(problem, field="uploadId")
            now = self.clock()
            photo = listing.add_photo(
                Photo(
                    id=upload_id,
                    key=upload.key,
                    content_type=upload.content_type,
                    size=stored.size,
                    position=0,
                    is_cover=False,
                ),
                now=now,
                limit=self.photo_policy.max_photos,
            )
            await self._save_with_photos(uow, listing, now)
            await uow.commit()
        return photo

    async def purge_abandoned_uploads(self) -> int:
        """Forget uploads never confirmed long after their POST expired, and their objects."""
        async with self.db.uow() as uow:
            keys = await store.purge_uploads(uow, expired_before=self.clock() - UPLOAD_GRACE)
            await uow.commit()
        await self.storage.delete(*keys)
        return len(keys)

    async def remove_photo(
        self, actor: Principal, listing_id: uuid.UUID, photo_id: uuid.UUID
    ) -> bool:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._managed(uow, actor, listing_id, field="listingId")
            now = self.clock()
            removed = listing.remove_photo(photo_id, now=now)
            await self._save_with_photos(uow, listing, now)
            await uow.commit()
        await self.storage.delete(removed.key)
        return True

    async def reorder_photos(
        self, actor: Principal, listing_id: uuid.UUID, order: list[uuid.UUID]
    ) -> list[Photo]:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._managed(uow, actor, listing_id, field="listingId")
            now = self.clock()
            listing.reorder_photos(order, now=now)
            await self._save_with_photos(uow, listing, now)
            await uow.commit()
        return listing.photos

    async def set_cover_photo(
        self, actor: Principal, listing_id: uuid.UUID, photo_id: uuid.UUID
    ) -> Photo:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._managed(uow, actor, listing_id, field="listingId")
            now = self.clock()
            cover = listing.set_cover(photo_id, now=now)
            await self._save_with_photos(uow, listing, now)
            await uow.commit()
        return cover

    # -- helpers ----------------------------------------------------------------------------
    async def _managed(
        self, uow: UnitOfWork, actor: Principal, listing_id: uuid.UUID, *, field: str = "id"
    ) -> Listing:
        """The listing, locked and tracked, if `actor` may manage it (the domain's rule);
        `field` names the input that carried its id."""
        listing = await store.load(uow, listing_id)
        if listing is None:
            raise NotFound("listing not found", field=field)
        listing.ensure_manageable_by(actor)
        return listing

    @staticmethod
    async def _save_with_photos(uow: UnitOfWork, listing: Listing, now: datetime) -> None:
        await store.save(uow, listing)
        await store.save_photos(uow, listing, now=now)

    async def _problem(self, key: str, size: int, declared: str) -> str | None:
        """Why an uploaded object is not an acceptable photo, or None when it is."""
        if size <= 0 or size > self.photo_policy.max_bytes:
            limit = self.photo_policy.max_bytes // (1024 * 1024)
            return f"the photo must be between 1 byte and {limit} MB"
        found = sniff(await self.storage.read_head(key, SNIFF_BYTES))
        if found != declared:
            return f"the uploaded file is not a {declared} image"
        return None
