"""The subgraph's value types and enums (entities are in `entities.py`, inputs in `inputs.py`)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from listings import criteria, domain

# The domain enums are the GraphQL enums (registering them does not change their behaviour).
strawberry.enum(
    domain.ListingStatus,
    description="Where a listing is in its life; DRAFT and WITHDRAWN are seen by the owner only.",
)
strawberry.enum(domain.PropertyType, description="Kind of property (RESO PropertyType).")
strawberry.enum(criteria.ListingSort, description="Order of search results.")
ListingStatus = domain.ListingStatus
PropertyType = domain.PropertyType
ListingSort = criteria.ListingSort


@strawberry.type(description="An amount of money in minor units (cents) of a currency.")
class Money:
    amount: int = strawberry.field(description="Amount in minor units, e.g. 45000000 for $450,000.")
    currency: str = strawberry.field(description="ISO 4217 currency code.")


@strawberry.type(description="Postal address of a property.")
class Address:
    street: str = strawberry.field(description="Street number and name.")
    unit: str | None = strawberry.field(description="Apartment, suite or unit.")
    city: str = strawberry.field(description="City or locality.")
    state: str = strawberry.field(description="State or province (USPS code in the US).")
    postal_code: str = strawberry.field(description="ZIP or postal code.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")


@strawberry.type(description="A point on Earth (WGS 84).")
class GeoPoint:
    lat: float = strawberry.field(description="Latitude in degrees, -90 to 90.")
    lng: float = strawberry.field(description="Longitude in degrees, -180 to 180.")


@strawberry.type(description="A photo of a listing.")
class Photo:
    id: strawberry.ID = strawberry.field(description="Photo id.")
    url: str = strawberry.field(description="Where to load the image (CDN or short-lived link).")
    order: int = strawberry.field(description="Position in the gallery, from 0.")
    is_cover: bool = strawberry.field(description="True for the photo shown first everywhere.")

    @classmethod
    def of(cls, photo: domain.Photo, url: str) -> Photo:
        return cls(
            id=strawberry.ID(str(photo.id)),
            url=url,
            order=photo.position,
            is_cover=photo.is_cover,
        )


@strawberry.type(description="An authorised direct upload of one photo to storage (S3 POST).")
class PhotoUpload:
    id: strawberry.ID = strawberry.field(description="Upload id, for confirmPhotoUpload.")
    url: str = strawberry.field(description="URL to POST the form to (multipart/form-data).")
    fields: JSON = strawberry.field(
        description="Form fields to send before the `file` field, unchanged."
    )
    expires_at: datetime = strawberry.field(description="The upload must happen before this.")


@strawberry.type(description="What a listing's public page tells search engines.")
class ListingSeo:
    title: str = strawberry.field(description="Page title.")
    description: str = strawberry.field(description="Meta description (at most 160 characters).")
    canonical_url: str = strawberry.field(description="Canonical URL of the public page.")
    json_ld: JSON = strawberry.field(description="schema.org RealEstateListing JSON-LD.")
