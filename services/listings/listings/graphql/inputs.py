"""The subgraph's inputs and their conversion to domain values.

Each `to_domain` raises BAD_USER_INPUT naming the field inside the input (`price.amount`);
the resolver places it in the operation (`input.price.amount`) with `inputs_at`.
"""

from __future__ import annotations

from typing import Any

import strawberry
from servicekit.vocabulary import BadUserInput, parse_id

from listings import criteria, domain
from listings.graphql.types import ListingStatus, PropertyType


@strawberry.input(description="An amount of money in minor units.")
class MoneyInput:
    amount: int = strawberry.field(description="Amount in minor units (cents); positive.")
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. USD.")

    def to_domain(self) -> domain.Money:
        return domain.Money.of(self.amount, self.currency)


@strawberry.input(description="Postal address of a property.")
class AddressInput:
    street: str = strawberry.field(description="Street number and name.")
    unit: str | None = strawberry.field(default=None, description="Apartment, suite or unit.")
    city: str = strawberry.field(description="City or locality.")
    state: str = strawberry.field(description="State or province code.")
    postal_code: str = strawberry.field(description="ZIP or postal code.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")

    def to_domain(self) -> domain.Address:
        return domain.Address.of(
            street=self.street,
            unit=self.unit,
            city=self.city,
            state=self.state,
            postal_code=self.postal_code,
            country=self.country,
        )


@strawberry.input(description="A point on Earth (WGS 84).")
class GeoPointInput:
    lat: float = strawberry.field(description="Latitude in degrees.")
    lng: float = strawberry.field(description="Longitude in degrees.")

    def to_domain(self) -> domain.GeoPoint:
        return domain.GeoPoint.of(self.lat, self.lng)


@strawberry.input(description="A circle around a point.")
class NearInput:
    lat: float = strawberry.field(description="Latitude of the centre.")
    lng: float = strawberry.field(description="Longitude of the centre.")
    radius_km: float = strawberry.field(description="Radius in kilometres (at most 500).")


@strawberry.input(description="A new listing.")
class CreateListingInput:
    title: str = strawberry.field(description="Headline, at most 120 characters.")
    description: str = strawberry.field(description="Remarks, at most 10,000 characters.")
    price: MoneyInput = strawberry.field(description="List price.")
    property_type: PropertyType = strawberry.field(description="Kind of property.")
    bedrooms: int = strawberry.field(description="Number of bedrooms.")
    bathrooms: float = strawberry.field(description="Bathrooms, in steps of 0.25.")
    living_area_sqft: int | None = strawberry.field(default=None, description="Living area.")
    address: AddressInput = strawberry.field(description="Where the property is.")
    location: GeoPointInput | None = strawberry.field(default=None, description="Coordinates.")
    status: ListingStatus | None = strawberry.field(
        default=domain.ListingStatus.DRAFT,
        description="DRAFT, COMING_SOON or ACTIVE (null: DRAFT).",
    )
    time_zone: str | None = strawberry.field(
        default=None, description="IANA zone of the property; derived from the address if absent."
    )

    def to_domain(self) -> domain.ListingDetails:
        return domain.ListingDetails(
            title=self.title,
            description=self.description,
            price=self.price.to_domain(),
            property_type=domain.PropertyType(self.property_type),
            bedrooms=self.bedrooms,
            bathrooms=self.bathrooms,
            living_area_sqft=self.living_area_sqft,
            address=self.address.to_domain(),
            location=self.location.to_domain() if self.location else None,
        )


@strawberry.input(description="Changes to a listing; absent fields stay as they are.")
class UpdateListingInput:
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Headline.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Remarks.")
    price: MoneyInput | None = strawberry.field(default=strawberry.UNSET, description="Price.")
    property_type: PropertyType | None = strawberry.field(
        default=strawberry.UNSET, description="Kind of property."
    )
    bedrooms: int | None = strawberry.field(default=strawberry.UNSET, description="Bedrooms.")
    bathrooms: float | None = strawberry.field(default=strawberry.UNSET, description="Bathrooms.")
    living_area_sqft: int | None = strawberry.field(
        default=strawberry.UNSET, description="Living area; null clears it."
    )
    address: AddressInput | None = strawberry.field(
        default=strawberry.UNSET, description="Address (replaced as a whole)."
    )
    location: GeoPointInput | None = strawberry.field(
        default=strawberry.UNSET, description="Coordinates; null clears them."
    )
    status: ListingStatus | None = strawberry.field(
        default=strawberry.UNSET, description="New status (allowed transitions only)."
    )
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET, description="IANA zone of the property."
    )

    def to_domain(self) -> domain.ListingChanges:
        details: dict[str, Any] = {}
        simple = ("title", "description", "bedrooms", "bathrooms")
        for name in simple:
            value = getattr(self, name)
            if value is not strawberry.UNSET:
                if value is None:
                    raise BadUserInput(f"{name} cannot be null", field=name)
                details[name] = value
        if self.price is not strawberry.UNSET:
            if self.price is None:
                raise BadUserInput("price cannot be null", field="price")
            details["price"] = self.price.to_domain()
        if self.property_type is not strawberry.UNSET:
            if self.property_type is None:
                raise BadUserInput("propertyType cannot be null", field="propertyType")
            details["property_type"] = domain.PropertyType(self.property_type)
        if self.address is not strawberry.UNSET:
            if self.address is None:
                raise BadUserInput("address cannot be null", field="address")
            details["address"] = self.address.to_domain()
        if self.living_area_sqft is not strawberry.UNSET:
            details["living_area_sqft"] = self.living_area_sqft
        if self.location is not strawberry.UNSET:
            details["location"] = self.location.to_domain() if self.location else None
        status = self.status if self.status is not strawberry.UNSET else None
        zone = self.time_zone if self.time_zone is not strawberry.UNSET else None
        return domain.ListingChanges(
            details=details,
            status=domain.ListingStatus(status) if status is not None else None,
            time_zone=zone,
        )


@strawberry.input(description="What to search for; absent fields do not filter.")
class ListingFilter:
    text: str | None = strawberry.field(default=None, description="Words (full-text search).")
    city: str | None = strawberry.field(default=None, description="City (case-insensitive).")
    state: str | None = strawberry.field(default=None, description="State or province code.")
    postal_code: str | None = strawberry.field(default=None, description="ZIP or postal code.")
    property_types: list[PropertyType] | None = strawberry.field(
        default=None, description="Any of these property types."
    )
    min_price: int | None = strawberry.field(
        default=None, description="Minimum price (minor units)."
    )
    max_price: int | None = strawberry.field(
        default=None, description="Maximum price (minor units)."
    )
    min_bedrooms: int | None = strawberry.field(default=None, description="Minimum bedrooms.")
    min_bathrooms: float | None = strawberry.field(default=None, description="Minimum bathrooms.")
    min_sqft: int | None = strawberry.field(default=None, description="Minimum living area.")
    near: NearInput | None = strawberry.field(default=None, description="Within a radius.")
    statuses: list[ListingStatus] | None = strawberry.field(
        default=None, description="Statuses to include (default ACTIVE)."
    )
    realtor_id: strawberry.ID | None = strawberry.field(default=None, description="Realtor.")

    def to_domain(self) -> criteria.ListingQuery:
        return criteria.ListingQuery(
            text=self.text,
            city=self.city,
            state=self.state,
            postal_code=self.postal_code,
            property_types=tuple(domain.PropertyType(t) for t in self.property_types or ()),
            min_price=self.min_price,
            max_price=self.max_price,
            min_bedrooms=self.min_bedrooms,
            min_bathrooms=self.min_bathrooms,
            min_sqft=self.min_sqft,
            near=(
                criteria.Near.of(self.near.lat, self.near.lng, self.near.radius_km)
                if self.near
                else None
            ),
            statuses=(
                tuple(domain.ListingStatus(s) for s in self.statuses)
                if self.statuses is not None
                else (domain.ListingStatus.ACTIVE,)
            ),
            realtor_id=parse_id(self.realtor_id, "realtorId") if self.realtor_id else None,
        )
