"""Listings' rules: what a listing is, who may see and change it, how its status may move.

Plain Python on purpose (the stdlib and `servicekit.vocabulary` only): the aggregate
validates its own data, decides who may create, see and manage it, enforces the status
machine, and records what happened as domain events; the unit of work that tracked it
writes them to the outbox at commit. Field names follow the RESO Data Dictionary where one
exists (ListPrice, StandardStatus, PropertyType, BedroomsTotal, BathroomsTotalDecimal,
LivingArea, UnparsedAddress parts).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from servicekit.vocabulary import BadUserInput, Forbidden, Principal, Role

from listings.timezones import is_valid_zone, zone_for_address
from listings.values import (
    CURRENCIES,
    MAX_DESCRIPTION,
    MAX_LIVING_AREA,
    MAX_PRICE_MINOR,
    MAX_ROOMS,
    MAX_TITLE,
    Address,
    GeoPoint,
    ListingDetails,
    Money,
    PropertyType,
)

__all__ = [
    "CURRENCIES",
    "INITIAL_STATUSES",
    "MAX_DESCRIPTION",
    "MAX_LIVING_AREA",
    "MAX_PHOTOS",
    "MAX_PRICE_MINOR",
    "MAX_ROOMS",
    "MAX_TITLE",
    "PUBLIC_STATUSES",
    "TRANSITIONS",
    "Address",
    "DomainEvent",
    "GeoPoint",
    "Listing",
    "ListingChanges",
    "ListingCreated",
    "ListingDeleted",
    "ListingDetails",
    "ListingStatus",
    "ListingStatusChanged",
    "ListingUpdated",
    "Money",
    "PendingUpload",
    "Photo",
    "PropertyType",
    "make_slug",
    "resolve_time_zone",
    "sees_private_listings_of",
    "slugify",
]


class ListingStatus(StrEnum):
    """RESO StandardStatus, reduced to what the platform uses."""

    DRAFT = "DRAFT"
    COMING_SOON = "COMING_SOON"
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    CLOSED = "CLOSED"
    WITHDRAWN = "WITHDRAWN"


PUBLIC_STATUSES = frozenset(
    {ListingStatus.COMING_SOON, ListingStatus.ACTIVE, ListingStatus.PENDING, ListingStatus.CLOSED}
)
INITIAL_STATUSES = frozenset({ListingStatus.DRAFT, ListingStatus.COMING_SOON, ListingStatus.ACTIVE})

S = ListingStatus
TRANSITIONS: dict[ListingStatus, frozenset[ListingStatus]] = {
    S.DRAFT: frozenset({S.COMING_SOON, S.ACTIVE, S.WITHDRAWN}),
    S.COMING_SOON: frozenset({S.ACTIVE, S.DRAFT, S.WITHDRAWN}),
    S.ACTIVE: frozenset({S.PENDING, S.COMING_SOON, S.WITHDRAWN}),
    S.PENDING: frozenset({S.ACTIVE, S.CLOSED, S.WITHDRAWN}),
    S.CLOSED: frozenset({S.WITHDRAWN}),
    S.WITHDRAWN: frozenset({S.DRAFT, S.COMING_SOON, S.ACTIVE}),
}

MAX_PHOTOS = 50


@dataclass(frozen=True, slots=True)
class Photo:
    id: uuid.UUID
    key: str
    content_type: str
    size: int
    position: int
    is_cover: bool


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """A photo upload authorised but not confirmed yet: the object key it must land at."""

    id: uuid.UUID
    listing_id: uuid.UUID
    key: str
    content_type: str
    file_name: str
    expires_at: datetime


# -- domain events --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ListingCreated:
    listing_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ListingUpdated:
    listing_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ListingStatusChanged:
    listing_id: uuid.UUID
    realtor_id: uuid.UUID
    from_status: ListingStatus
    to_status: ListingStatus


@dataclass(frozen=True, slots=True)
class ListingDeleted:
    listing_id: uuid.UUID
    realtor_id: uuid.UUID


DomainEvent = ListingCreated | ListingUpdated | ListingStatusChanged | ListingDeleted


@dataclass(frozen=True, slots=True)
class ListingChanges:
    """A partial update: `details` holds only the `ListingDetails` attributes that change."""

    details: dict[str, object] = field(default_factory=dict)
    status: ListingStatus | None = None
    time_zone: str | None = None


def resolve_time_zone(explicit: str | None, address: Address) -> str:
    """The property's IANA zone: the explicit one when valid, else derived from the address."""
    if explicit is not None:
        name = explicit.strip()
        if not is_valid_zone(name):
            raise BadUserInput(f"unknown IANA time zone {explicit!r}", field="timeZone")
        return name
    zone = zone_for_address(address.country, address.state)
    if zone is None:
        raise BadUserInput(
            f"cannot derive a time zone for country {address.country}; give timeZone",
            field="timeZone",
        )
    return zone


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def make_slug(listing_id: uuid.UUID, details: ListingDetails) -> str:
    """A readable, unique and stable slug: set once at creation, never changed by edits."""
    words = slugify(details.title)[:60].rstrip("-")
    place = slugify(f"{details.address.city} {details.address.state}")[:40].rstrip("-")
    parts = [p for p in (words, place, listing_id.hex[:10]) if p]
    return "-".join(parts)


def sees_private_listings_of(who: Principal | None, realtor_id: uuid.UUID) -> bool:
    """Whether `who` sees the DRAFT and WITHDRAWN listings of `realtor_id`: that realtor
    and admins. Read models filter with this same rule."""
    return who is not None and (who.is_admin or who.user_id == realtor_id)


@dataclass
class Listing:
    """The aggregate: a home offered by one realtor."""

    id: uuid.UUID
    slug: str
    realtor_id: uuid.UUID
    details: ListingDetails
    status: ListingStatus
    time_zone: str
    created_at: datetime
    updated_at: datetime
    photos: list[Photo] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        by: Principal,
        details: ListingDetails,
        status: ListingStatus,
        time_zone: str | None,
        now: datetime,
        listing_id: uuid.UUID | None = None,
    ) -> Listing:
        """A new listing whose realtor is `by`.

        Creating a listing makes the caller its realtor, so it takes exactly the REALTOR
        role: an admin manages any listing but never becomes a party to one.
        """
        by.require_exact_role(Role.REALTOR)
        if status not in INITIAL_STATUSES:
            raise BadUserInput(
                "a new listing starts as DRAFT, COMING_SOON or ACTIVE", field="status"
            )
        new_id = listing_id or uuid.uuid4()
        listing = cls(
            id=new_id,
            slug=make_slug(new_id, details),
            realtor_id=by.user_id,
            details=details,
            status=status,
            time_zone=resolve_time_zone(time_zone, details.address),
            created_at=now,
            updated_at=now,
        )
        listing.events.append(ListingCreated(new_id))
        return listing

    # -- rules ------------------------------------------------------------------------------
    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    def visible_to(self, who: Principal | None) -> bool:
        """DRAFT and WITHDRAWN listings are seen by their realtor (and admins) only."""
        return self.is_public or sees_private_listings_of(who, self.realtor_id)

    def referable_by(self, who: Principal | None) -> bool:
        """Whether another entity (a tour) may show this listing: all but others' drafts.

        A withdrawn listing still appears inside the tours booked on it; a draft was never
        public, so nothing but its owner can legitimately point at it.
        """
        return self.status is not ListingStatus.DRAFT or self.visible_to(who)

    def ensure_manageable_by(self, who: Principal) -> None:
        """FORBIDDEN unless `who` is the listing's realtor or an admin (every change)."""
        if not (who.is_admin or who.user_id == self.realtor_id):
            raise Forbidden("only the listing's realtor may change it")

    # -- commands ---------------------------------------------------------------------------
    def update(self, changes: ListingChanges, *, now: datetime) -> None:
        """Apply a partial update (details, time zone, status) as one change."""
        details_changed = False
        if changes.details:
            new_details = replace(self.details, **changes.details)  # type: ignore[arg-type]
            details_changed = new_details != self.details
            old_address = self.details.address
            self.details = new_details
            moved = (old_address.country, old_address.state) != (
                new_details.address.country,
                new_details.address.state,
            )
            if moved and changes.time_zone is None:
                self.time_zone = resolve_time_zone(None, new_details.address)
        if changes.time_zone is not None:
            zone = resolve_time_zone(changes.time_zone, self.details.address)
            details_changed = details_changed or zone != self.time_zone
            self.time_zone = zone
        if changes.status is not None and changes.status != self.status:
            self.change_status(changes.status, now=now)
        if details_changed:
            self.updated_at = now
            self.events.append(ListingUpdated(self.id))

    def change_status(self, to: ListingStatus, *, now: datetime) -> None:
        if to not in TRANSITIONS[self.status]:
            raise BadUserInput(
                f"a {self.status.value} listing cannot become {to.value}", field="status"
            )
        before, self.status = self.status, to
        self.updated_at = now
        self.events.append(ListingStatusChanged(self.id, self.realtor_id, before, to))

    def withdraw(self, *, now: datetime) -> bool:
        """Take the listing off the market (any status may be withdrawn); False if already."""
        if self.status is ListingStatus.WITHDRAWN:
            return False
        self.change_status(ListingStatus.WITHDRAWN, now=now)
        return True

    def delete(self) -> None:
        self.events.append(ListingDeleted(self.id, self.realtor_id))

    # -- photos -----------------------------------------------------------------------------
    def ensure_room_for_photo(self, limit: int = MAX_PHOTOS) -> None:
        if len(self.photos) >= limit:
            raise BadUserInput(f"a listing has at most {limit} photos", field="listingId")

    def add_photo(self, photo: Photo, *, now: datetime, limit: int = MAX_PHOTOS) -> Photo:
        """Append a photo (the first one becomes the cover)."""
        self.ensure_room_for_photo(limit)
        added = replace(photo, position=len(self.photos), is_cover=not self.photos)
        self.photos.append(added)
        self._touched(now)
        return added

    def remove_photo(self, photo_id: uuid.UUID, *, now: datetime) -> Photo:
        removed = self._photo(photo_id)
        rest = [p for p in self.photos if p.id != photo_id]
        cover = next((p.id for p in rest if p.is_cover), rest[0].id if rest else None)
        self.photos = [replace(p, position=i, is_cover=p.id == cover) for i, p in enumerate(rest)]
        self._touched(now)
        return removed

    def reorder_photos(self, order: list[uuid.UUID], *, now: datetime) -> None:
        """Put the photos in `order`, which must name every photo exactly once."""
        if sorted(order) != sorted(p.id for p in self.photos) or len(set(order)) != len(order):
            raise BadUserInput(
                "photoIds must list every photo of the listing once", field="photoIds"
            )
        by_id = {p.id: p for p in self.photos}
        self.photos = [replace(by_id[pid], position=i) for i, pid in enumerate(order)]
        self._touched(now)

    def set_cover(self, photo_id: uuid.UUID, *, now: datetime) -> Photo:
        self._photo(photo_id)
        self.photos = [replace(p, is_cover=p.id == photo_id) for p in self.photos]
        self._touched(now)
        return self._photo(photo_id)

    def _photo(self, photo_id: uuid.UUID) -> Photo:
        for photo in self.photos:
            if photo.id == photo_id:
                return photo
        raise BadUserInput("no such photo on this listing", field="photoId")

    def _touched(self, now: datetime) -> None:
        self.updated_at = now
        if not any(isinstance(e, ListingUpdated) for e in self.events):
            self.events.append(ListingUpdated(self.id))
