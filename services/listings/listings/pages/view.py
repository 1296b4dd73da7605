"""What a page shows, derived from a listing alone (pure): the photo gallery in display
order, the price and facts as a person reads them, the JSON-LD as a `<script>` body, and
the version (`ETag`) a CDN and browsers cache the page under."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from listings.domain import Listing, ListingStatus, Photo, PropertyType
from listings.seo import PROPERTY_WORDS, Seo
from listings.values import Money

SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "EUR": "€", "GBP": "£"}

STATUS_LABELS: dict[ListingStatus, str] = {
    ListingStatus.COMING_SOON: "Coming soon",
    ListingStatus.ACTIVE: "For sale",
    ListingStatus.PENDING: "Sale pending",
    ListingStatus.CLOSED: "Sold",
    ListingStatus.DRAFT: "Draft",
    ListingStatus.WITHDRAWN: "Off the market",
}


@dataclass(frozen=True, slots=True)
class Picture:
    url: str
    alt: str
    eager: bool  # the cover is above the fold: loaded at once; the rest lazily


@dataclass(frozen=True, slots=True)
class RealtorProfile:
    """What a page shows of its realtor: identity's public name, photo and realtor profile
    (brokerage, licence and whether an admin checked it) — never contact details."""

    name: str
    photo_url: str | None
    brokerage: str | None = None
    license_number: str | None = None
    verified: bool = False

    @property
    def version(self) -> str:
        """A digest of what the page shows of the profile (part of the page's ETag)."""
        shown = (self.name, self.photo_url, self.brokerage, self.license_number, self.verified)
        text = "\n".join("" if v is None else str(v) for v in shown).encode()
        return hashlib.sha256(text).hexdigest()[:6]


@dataclass(frozen=True, slots=True)
class PageView:
    """Everything the listing template renders; built by `page_view`."""

    listing: Listing
    seo: Seo
    price: str
    status: str
    facts: list[str]
    address: str
    pictures: list[Picture]
    json_ld: Markup
    tour_url: str
    realtor_url: str
    realtor: RealtorProfile | None = None  # the public profile, when identity answered

    @property
    def cover(self) -> Picture | None:
        return self.pictures[0] if self.pictures else None


def gallery(photos: Sequence[Photo]) -> list[Photo]:
    """The cover first, then the others in the realtor's order."""
    return sorted(photos, key=lambda p: (not p.is_cover, p.position))


def price_label(price: Money, kind: PropertyType) -> str:
    """ "$450,000", "€1,250.50", and "/month" for a rental (its price is a monthly rent)."""
    major, minor = divmod(price.amount, 10**price.exponent) if price.exponent else (price.amount, 0)
    symbol = SYMBOLS.get(price.currency)
    digits = f"{major:,}" + (f".{minor:0{price.exponent}d}" if minor else "")
    text = f"{symbol}{digits}" if symbol else f"{digits} {price.currency}"
    return f"{text}/month" if kind is PropertyType.RENTAL else text


def facts(listing: Listing) -> list[str]:
    d = listing.details
    found = [
        f"{d.bedrooms} bedroom{'s' if d.bedrooms != 1 else ''}",
        f"{d.bathrooms:g} bathroom{'s' if d.bathrooms != 1 else ''}",
    ]
    if d.living_area_sqft:
        found.append(f"{d.living_area_sqft:,} sq ft")
    found.append(PROPERTY_WORDS[d.property_type].capitalize())
    return found


def script_json(document: object) -> Markup:
    """JSON safe inside `<script>`: `<`, `>` and `&` escaped, so no value can close the tag."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for the script context


def page_view(
    listing: Listing,
    photos: Sequence[Photo],
    *,
    seo: Seo,
    urls: Mapping[uuid.UUID, str],
    app_url: str,
    realtor: RealtorProfile | None = None,
) -> PageView:
    title = listing.details.title
    ordered = gallery(photos)
    pictures = [
        Picture(
            url=urls[photo.id],
            alt=f"{title}, photo {n} of {len(ordered)}",
            eager=n == 1,
        )
        for n, photo in enumerate(ordered, start=1)
    ]
    app = app_url.rstrip("/")
    return PageView(
        listing=listing,
        seo=seo,
        price=price_label(listing.details.price, listing.details.property_type),
        status=STATUS_LABELS[listing.status],
        facts=facts(listing),
        address=listing.details.address.one_line(),
        pictures=pictures,
        json_ld=script_json(seo.json_ld),
        tour_url=f"{app}/tours/new?listing={listing.id}",
        realtor_url=f"{app}/realtors/{listing.realtor_id}",
        realtor=realtor,
    )


def entity_tag(listing: Listing, build: str, window: int | None = None) -> str:
    """The page's version: the listing's last change, the templates' build and, while photo
    URLs are short-lived signed GETs, the window they were signed in (so a revalidated copy
    never outlives its photo links). Weak: equal tags mean the same page for a person."""
    stamp = f"{int(listing.updated_at.timestamp() * 1_000_000):x}"
    tail = f"-{window}" if window is not None else ""
    return f'W/"{listing.id.hex[:10]}-{stamp}-{build}{tail}"'
