"""What a listing's public page needs for search engines: title, description, canonical URL
and schema.org `RealEstateListing` JSON-LD, all derived from the listing alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from listings.domain import Listing, ListingStatus, PropertyType

MAX_META_DESCRIPTION = 160

# The schema.org type of the home itself (the listing's `about`).
ACCOMMODATION: dict[PropertyType, str] = {
    PropertyType.RESIDENTIAL: "SingleFamilyResidence",
    PropertyType.CONDO: "Apartment",
    PropertyType.TOWNHOUSE: "House",
    PropertyType.MULTI_FAMILY: "ApartmentComplex",
    PropertyType.LAND: "Landform",
    PropertyType.COMMERCIAL: "Place",
    PropertyType.RENTAL: "Accommodation",
}

AVAILABILITY: dict[ListingStatus, str] = {
    ListingStatus.COMING_SOON: "https://schema.org/PreOrder",
    ListingStatus.ACTIVE: "https://schema.org/InStock",
    ListingStatus.PENDING: "https://schema.org/LimitedAvailability",
    ListingStatus.CLOSED: "https://schema.org/SoldOut",
    ListingStatus.DRAFT: "https://schema.org/Discontinued",
    ListingStatus.WITHDRAWN: "https://schema.org/Discontinued",
}

PROPERTY_WORDS: dict[PropertyType, str] = {
    PropertyType.RESIDENTIAL: "home",
    PropertyType.CONDO: "condo",
    PropertyType.TOWNHOUSE: "townhouse",
    PropertyType.MULTI_FAMILY: "multi-family property",
    PropertyType.LAND: "lot",
    PropertyType.COMMERCIAL: "commercial property",
    PropertyType.RENTAL: "rental",
}


@dataclass(frozen=True, slots=True)
class Seo:
    title: str
    description: str
    canonical_url: str
    json_ld: dict[str, Any]


def canonical_url(public_url: str, slug: str) -> str:
    return f"{public_url.rstrip('/')}/homes/{slug}"


def _baths(value: float) -> str:
    return f"{value:g}"


def _price_text(listing: Listing) -> str:
    price = listing.details.price
    major = price.amount // 10**price.exponent
    symbol = "$" if price.currency in ("USD", "CAD", "AUD", "NZD") else ""
    text = f"{symbol}{major:,}"
    return text if symbol and price.currency == "USD" else f"{text} {price.currency}".strip()


def _truncate(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:")
    return cut + "…"


def build_seo(listing: Listing, *, public_url: str, photo_urls: list[str]) -> Seo:
    d = listing.details
    address = d.address
    place = f"{address.city}, {address.state}"
    kind = PROPERTY_WORDS[d.property_type]
    title = _truncate(f"{d.title} | {address.one_line()}", 70)
    facts = [f"{d.bedrooms} bd", f"{_baths(d.bathrooms)} ba"]
    if d.living_area_sqft:
        facts.append(f"{d.living_area_sqft:,} sqft")
    lead = f"{', '.join(facts)} {kind} in {place} for {_price_text(listing)}."
    description = _truncate(f"{lead} {d.description}", MAX_META_DESCRIPTION)
    url = canonical_url(public_url, listing.slug)
    return Seo(
        title=title,
        description=description,
        canonical_url=url,
        json_ld=json_ld(listing, url=url, description=description, photo_urls=photo_urls),
    )


def json_ld(
    listing: Listing, *, url: str, description: str, photo_urls: list[str]
) -> dict[str, Any]:
    """A schema.org `RealEstateListing` whose `about` is the home and `offers` its price."""
    d = listing.details
    address = d.address
    home: dict[str, Any] = {
        "@type": ACCOMMODATION[d.property_type],
        "name": d.title,
        "address": {
            "@type": "PostalAddress",
            "streetAddress": f"{address.street} {address.unit}" if address.unit else address.street,
            "addressLocality": address.city,
            "addressRegion": address.state,
            "postalCode": address.postal_code,
            "addressCountry": address.country,
        },
        "numberOfBedrooms": d.bedrooms,
        "numberOfBathroomsTotal": d.bathrooms,
    }
    if d.living_area_sqft:
        home["floorSize"] = {
            "@type": "QuantitativeValue",
            "value": d.living_area_sqft,
            "unitCode": "FTK",
            "unitText": "sq ft",
        }
    if d.location is not None:
        home["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": d.location.lat,
            "longitude": d.location.lng,
        }
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "RealEstateListing",
        "@id": url,
        "url": url,
        "name": d.title,
        "description": description,
        "datePosted": listing.created_at.date().isoformat(),
        "dateModified": listing.updated_at.isoformat(),
        "about": home,
        "offers": {
            "@type": "Offer",
            "price": d.price.decimal_string(),
            "priceCurrency": d.price.currency,
            "availability": AVAILABILITY[listing.status],
            "url": url,
        },
    }
    if photo_urls:
        document["image"] = photo_urls
    return document
