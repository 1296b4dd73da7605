"""Listings' use cases: the only place that changes listings, photos and the outbox.

Each command opens a unit of work, loads the aggregate under a row lock, lets the domain
decide, writes rows and the aggregate's events together, and commits. Queries read through
plain sessions. Transport layers (GraphQL, gRPC, NATS) call these methods and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.auth import Principal
from servicekit.db import Database, UnitOfWork
from servicekit.errors import BadUserInput, NotFound
from servicekit.pagination import encode_cursor
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from listings import store
from listings.domain import (
    PUBLIC_STATUSES,
    Listing,
    ListingChanges,
    ListingDetails,
    ListingStatus,
    Photo,
)
from listings.events import outgoing
from listings.images import IMAGE_TYPES, SNIFF_BYTES, normalise_content_type, sniff
from listings.search import (
    ListingQuery,
    ListingSort,
    Viewer,
    count_statement,
    cursor_for,
    search_statement,
)
from listings.seo import Seo, build_seo
from listings.storage import PhotoStorage, PresignedPost
from listings.tables import listings, photo_uploads

MAX_FILE_NAME = 255


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of listings with the cursor of each row."""

    items: list[tuple[str, Listing]]
    has_next: bool
    total: int | None = None
    has_previous: bool = False


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


def viewer_of(principal: Principal | None) -> Viewer:
    if principal is None:
        return Viewer()
    return Viewer(user_id=principal.user_id, is_admin=principal.is_admin)


class ListingService:
    def __init__(
        self,
        db: Database,
        storage: PhotoStorage,
        *,
        public_url: str,
        photo_policy: PhotoPolicy | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.public_url = public_url
        self.photo_policy = photo_policy or PhotoPolicy()

    # -- commands ---------------------------------------------------------------------------
    async def create(
        self,
        actor: Principal,
        details: ListingDetails,
        *,
        status: ListingStatus = ListingStatus.DRAFT,
        time_zone: str | None = None,
    ) -> Listing:
        listing = Listing.create(
            realtor_id=actor.user_id,
            details=details,
            status=status,
            time_zone=time_zone,
            now=now_utc(),
        )
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            await store.insert_listing(uow.session, listing)
            self._emit(uow, listing)
            await uow.commit()
        return listing

    async def update(
        self, actor: Principal, listing_id: uuid.UUID, changes: ListingChanges
    ) -> Listing:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._owned(uow, actor, listing_id)
            listing.update(changes, now=now_utc())
            await store.save_listing(uow.session, listing)
            self._emit(uow, listing)
            await uow.commit()
        return listing

    async def delete(self, actor: Principal, listing_id: uuid.UUID) -> bool:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._owned(uow, actor, listing_id)
            pending = await uow.session.execute(
                select(photo_uploads.c.key).where(photo_uploads.c.listing_id == listing_id)
            )
            keys = [p.key for p in listing.photos] + [row.key for row in pending]
            listing.delete()
            await uow.session.execute(delete(listings).where(listings.c.id == listing_id))
            self._emit(uow, listing)
            await uow.commit()
        await self.storage.delete(*keys)
        return True

    async def withdraw_all_of(self, realtor_id: uuid.UUID, uow: UnitOfWork) -> int:
        """Take every listing of a realtor off the market (their account is gone)."""
        async with uow:
            ids = (
                await uow.session.execute(
                    select(listings.c.id)
                    .where(
                        listings.c.realtor_id == realtor_id,
                        listings.c.status != ListingStatus.WITHDRAWN.value,
                    )
                    .order_by(listings.c.id)
                )
            ).scalars()
            withdrawn = 0
            now = now_utc()
            for listing_id in list(ids):
                listing = await store.load(uow.session, listing_id)
                if listing is not None and listing.withdraw(now=now):
                    await store.save_listing(uow.session, listing)
                    self._emit(uow, listing)
                    withdrawn += 1
            await uow.commit()
        return withdrawn

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
        now = now_utc()
        upload_id = uuid.uuid4()
        key = f"listings/{listing_id}/{upload_id}.{IMAGE_TYPES[declared]}"
        expires_at = now + timedelta(seconds=policy.upload_expires_seconds)
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._owned(uow, actor, listing_id)
            listing.ensure_room_for_photo(policy.max_photos)
            await uow.session.execute(
                photo_uploads.insert().values(
                    id=upload_id,
                    listing_id=listing_id,
                    key=key,
                    content_type=declared,
                    file_name=name,
                    expires_at=expires_at,
                    created_at=now,
                )
            )
            post = self.storage.presign_post(
                key=key,
                content_type=declared,
                max_bytes=policy.max_bytes,
                expires_in=policy.upload_expires_seconds,
            )
            await uow.commit()
        return PhotoUploadTicket(id=upload_id, post=post, expires_at=expires_at)

    async def confirm_photo_upload(
        self, actor: Principal, listing_id: uuid.UUID, upload_id: uuid.UUID
    ) -> Photo:
        """Record an uploaded photo once its object exists, fits, and really is that image."""
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._owned(uow, actor, listing_id)
            upload = (
                await uow.session.execute(
                    select(photo_uploads)
                    .where(
                        photo_uploads.c.id == upload_id, photo_uploads.c.listing_id == listing_id
                    )
                    .with_for_update()
                )
            ).first()
            if upload is None:
                raise NotFound("no such photo upload for this listing", field="uploadId")
            stored = await self.storage.head(upload.key)
            if stored is None:
                raise BadUserInput("the photo has not been uploaded yet", field="uploadId")
            problem = await self._problem(upload.key, stored.size, upload.content_type)
            await uow.session.execute(delete(photo_uploads).where(photo_uploads.c.id == upload_id))
            if problem is not None:
                # The upload is spent either way: forget it and remove the bad object.
                await uow.commit()
                await self.storage.delete(upload.key)
                raise BadUserInput(problem, field="uploadId")
            photo = listing.add_photo(
                Photo(
                    id=upload_id,
                    key=upload.key,
                    content_type=upload.content_type,
                    size=stored.size,
                    position=0,
                    is_cover=False,
                ),
                now=now_utc(),
                limit=self.photo_policy.max_photos,
            )
            await store.save_listing(uow.session, listing)
            await store.save_photos(uow.session, listing, now=now_utc())
            self._emit(uow, listing)
            await uow.commit()
        return photo

    async def purge_abandoned_uploads(self, *, grace: timedelta = timedelta(hours=24)) -> int:
        """Forget uploads never confirmed long after their POST expired, and their objects."""
        async with self.db.uow() as uow:
            rows = (
                await uow.session.execute(
                    delete(photo_uploads)
                    .where(photo_uploads.c.expires_at < now_utc() - grace)
                    .returning(photo_uploads.c.key)
                )
            ).all()
            await uow.commit()
        await self.storage.delete(*(row.key for row in rows))
        return len(rows)

    async def _problem(self, key: str, size: int, declared: str) -> str | None:
        """Why an uploaded object is not an acceptable photo, or None when it is."""
        if size <= 0 or size > self.photo_policy.max_bytes:
            limit = self.photo_policy.max_bytes // (1024 * 1024)
            return f"the photo must be between 1 byte and {limit} MB"
        found = sniff(await self.storage.read_head(key, SNIFF_BYTES))
        if found != declared:
            return f"the uploaded file is not a {declared} image"
        return None

    async def remove_photo(
        self, actor: Principal, listing_id: uuid.UUID, photo_id: uuid.UUID
    ) -> bool:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._owned(uow, actor, listing_id)
            removed = listing.remove_photo(photo_id, now=now_utc())
            await store.save_listing(uow.session, listing)
            await store.save_photos(uow.session, listing, now=now_utc())
            self._emit(uow, listing)
            await uow.commit()
        await self.storage.delete(removed.key)
        return True

    async def reorder_photos(
        self, actor: Principal, listing_id: uuid.UUID, order: list[uuid.UUID]
    ) -> list[Photo]:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._owned(uow, actor, listing_id)
            listing.reorder_photos(order, now=now_utc())
            await store.save_listing(uow.session, listing)
            await store.save_photos(uow.session, listing, now=now_utc())
            self._emit(uow, listing)
            await uow.commit()
        return listing.photos

    async def set_cover_photo(
        self, actor: Principal, listing_id: uuid.UUID, photo_id: uuid.UUID
    ) -> Photo:
        async with self.db.uow(actor=str(actor.user_id)) as uow:
            listing = await self._owned(uow, actor, listing_id)
            cover = listing.set_cover(photo_id, now=now_utc())
            await store.save_listing(uow.session, listing)
            await store.save_photos(uow.session, listing, now=now_utc())
            self._emit(uow, listing)
            await uow.commit()
        return cover

    # -- queries ----------------------------------------------------------------------------
    async def get(
        self, viewer: Viewer, *, listing_id: uuid.UUID | None = None, slug: str | None = None
    ) -> Listing | None:
        """One listing if the viewer may see it (None otherwise, as if it did not exist)."""
        column = listings.c.id if listing_id is not None else listings.c.slug
        value: Any = listing_id if listing_id is not None else slug
        async with self._read() as session:
            row = (
                await session.execute(select(*store.LISTING_COLUMNS).where(column == value))
            ).first()
        if row is None:
            return None
        listing = store.listing_from_row(row)
        return listing if listing.visible_to(viewer.user_id, is_admin=viewer.is_admin) else None

    async def get_many(
        self,
        ids: Sequence[uuid.UUID],
        viewer: Viewer | None = None,
        *,
        references: bool = False,
    ) -> dict[uuid.UUID, Listing]:
        """Listings by id in one query; with a viewer, only those the viewer may see
        (or, for entity `references`, may be shown inside another entity)."""
        if not ids:
            return {}
        async with self._read() as session:
            rows = await session.execute(
                select(*store.LISTING_COLUMNS).where(listings.c.id.in_(list(set(ids))))
            )
            found = {row.id: store.listing_from_row(row) for row in rows}
        if viewer is None:
            return found
        who, admin = viewer.user_id, viewer.is_admin
        if references:
            return {k: v for k, v in found.items() if v.referable_by(who, is_admin=admin)}
        return {k: v for k, v in found.items() if v.visible_to(who, is_admin=admin)}

    async def photos_of(self, listing_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Photo]]:
        async with self._read() as session:
            return await store.photos_of(session, listing_ids)

    async def search(
        self,
        viewer: Viewer,
        query: ListingQuery,
        sort: ListingSort,
        *,
        limit: int,
        after: str | None = None,
        with_total: bool = False,
    ) -> Page:
        statement = search_statement(query, sort, viewer, limit=limit, after=after)
        async with self._read() as session:
            rows = (await session.execute(statement)).all()
            total = None
            if with_total:
                total = (await session.execute(count_statement(query, viewer))).scalar_one()
        items = [
            (encode_cursor(cursor_for(sort, query, row)), store.listing_from_row(row))
            for row in rows[:limit]
        ]
        return Page(
            items=items, has_next=len(rows) > limit, total=total, has_previous=after is not None
        )

    async def realtor_listings(
        self,
        viewer: Viewer,
        realtor_id: uuid.UUID,
        status: ListingStatus | None,
        *,
        limit: int,
        after: str | None = None,
        with_total: bool = False,
    ) -> Page:
        """A realtor's listings, newest first: all statuses for the realtor, public ones to others."""
        mine = viewer.is_admin or viewer.user_id == realtor_id
        statuses = (
            (status,)
            if status is not None
            else tuple(ListingStatus)
            if mine
            else tuple(sorted(PUBLIC_STATUSES))
        )
        query = ListingQuery(statuses=statuses, realtor_id=realtor_id)
        return await self.search(
            viewer, query, ListingSort.NEWEST, limit=limit, after=after, with_total=with_total
        )

    async def public_listings_count(self) -> int:
        async with self._read() as session:
            result = await session.execute(
                select(func.count())
                .select_from(listings)
                .where(listings.c.status.in_([s.value for s in PUBLIC_STATUSES]))
            )
            return int(result.scalar_one())

    async def public_slugs(self, *, offset: int, limit: int) -> list[tuple[str, datetime]]:
        """(slug, updated_at) of public listings, most recently updated first (for sitemaps)."""
        async with self._read() as session:
            rows = await session.execute(
                select(listings.c.slug, listings.c.updated_at)
                .where(listings.c.status.in_([s.value for s in PUBLIC_STATUSES]))
                .order_by(listings.c.updated_at.desc(), listings.c.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return [(row.slug, row.updated_at) for row in rows]

    def seo(self, listing: Listing, photos: Sequence[Photo]) -> Seo:
        return build_seo(
            listing, public_url=self.public_url, photo_urls=[self.photo_url(p) for p in photos]
        )

    def photo_url(self, photo: Photo) -> str:
        return self.storage.url_for(photo.key)

    # -- helpers ----------------------------------------------------------------------------
    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A plain connection for queries: Core statements need no ORM session around them."""
        return self.db.engine.connect()

    async def _owned(self, uow: UnitOfWork, actor: Principal, listing_id: uuid.UUID) -> Listing:
        listing = await store.load(uow.session, listing_id)
        if listing is None:
            raise NotFound("listing not found", field="id")
        listing.ensure_owner(actor.user_id, is_admin=actor.is_admin)
        return listing

    @staticmethod
    def _emit(uow: UnitOfWork, listing: Listing) -> None:
        for event in listing.events:
            subject, payload = outgoing(listing, event)
            uow.emit(subject, payload, subject_id=listing.id)
        listing.events.clear()
