# mypy: disable-error-code="untyped-decorator"
# (strawberry's field decorators are untyped; the resolvers themselves are fully annotated.)
"""The federation entities: `Listing` (owned here) and `User` (identity's, plus `listings`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import cast

import strawberry
from servicekit.graphql import references_by_id
from servicekit.pagination import Connection, Edge, PageInfo, page_size
from strawberry.scalars import JSON

from listings import domain
from listings.graphql.context import (
    ListingInfo,
    listing_loader,
    photo_loader,
    realtor_listings_loader,
    services,
    viewer,
    wants_total,
)
from listings.graphql.types import (
    Address,
    GeoPoint,
    ListingSeo,
    ListingStatus,
    Money,
    Photo,
    PropertyType,
)
from listings.queries import Page, RealtorListings
from listings.seo import build_seo


@strawberry.federation.type(keys=["id"], description="A home offered for sale or rent.")
class Listing:
    id: strawberry.ID = strawberry.field(description="Listing id.")
    slug: str = strawberry.field(description="Unique, stable, readable name for public URLs.")
    title: str = strawberry.field(description="Headline.")
    description: str = strawberry.field(description="Remarks describing the property.")
    price: Money = strawberry.field(description="List price.")
    status: ListingStatus = strawberry.field(description="Current status.")
    property_type: PropertyType = strawberry.field(description="Kind of property.")
    bedrooms: int = strawberry.field(description="Number of bedrooms.")
    bathrooms: float = strawberry.field(
        description="Number of bathrooms (RESO BathroomsTotalDecimal)."
    )
    living_area_sqft: int | None = strawberry.field(description="Living area in square feet.")
    address: Address = strawberry.field(description="Postal address.")
    location: GeoPoint | None = strawberry.field(description="Coordinates, when known.")
    time_zone: str = strawberry.field(description="IANA time zone of the property.")
    created_at: datetime = strawberry.field(description="When the listing was created.")
    updated_at: datetime = strawberry.field(description="When the listing last changed.")
    data: strawberry.Private[domain.Listing]

    @classmethod
    def of(cls, listing: domain.Listing) -> Listing:
        # The domain's value objects are the `Money`, `Address` and `GeoPoint` objects
        # themselves: their attributes are the types' fields (read as attributes, no type
        # check on an object type without interfaces), so no copy is built per listing.
        d = listing.details
        return cls(
            id=strawberry.ID(str(listing.id)),
            slug=listing.slug,
            title=d.title,
            description=d.description,
            price=cast(Money, d.price),
            status=listing.status,
            property_type=d.property_type,
            bedrooms=d.bedrooms,
            bathrooms=d.bathrooms,
            living_area_sqft=d.living_area_sqft,
            address=cast(Address, d.address),
            location=cast(GeoPoint | None, d.location),
            time_zone=listing.time_zone,
            created_at=listing.created_at,
            updated_at=listing.updated_at,
            realtor=User(id=strawberry.ID(str(listing.realtor_id))),
            data=listing,
        )

    @classmethod
    async def resolve_reference(cls, info: ListingInfo, id: strawberry.ID) -> Listing | None:
        try:
            key = uuid.UUID(str(id))
        except ValueError:
            return None
        found = await listing_loader(info, references=True).load(key)
        return cls.of(found) if found else None

    @classmethod
    async def resolve_references(
        cls, info: ListingInfo, references: list[dict[str, strawberry.ID]]
    ) -> list[Listing | Exception | None]:
        """Every reference of one `_entities` call resolved at once (servicekit calls this
        instead of `resolve_reference` per item): the statement the references' loader
        runs, with no coroutine, loader future or task per item."""

        async def read(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, domain.Listing]:
            return await services(info).queries.visible_by_ids(
                ids, await viewer(info), references=True
            )

        return await references_by_id(references, read, cls.of)

    @strawberry.field(description="Photos in gallery order.")
    async def photos(self, info: ListingInfo) -> list[Photo]:
        svc = services(info)
        return [Photo.of(p, svc.photo_url(p)) for p in await photo_loader(info).load(self.data.id)]

    # A plain value, not a resolver: read as an attribute, it costs a search of 20 results
    # no resolver call per listing (the gateway asks for it on every listing).
    realtor: User = strawberry.field(description="The realtor who owns the listing.")

    @strawberry.field(
        description="Title, description, canonical URL and JSON-LD for the public page."
    )
    async def seo(self, info: ListingInfo) -> ListingSeo:
        svc = services(info)
        photo_list = await photo_loader(info).load(self.data.id)
        seo = build_seo(
            self.data,
            public_url=svc.public_url,
            photo_urls=[svc.photo_url(p) for p in photo_list],
        )
        return ListingSeo(
            title=seo.title,
            description=seo.description,
            canonical_url=seo.canonical_url,
            json_ld=cast(JSON, seo.json_ld),
        )


def connection(page: Page) -> Connection[Listing]:
    edges = [Edge(cursor=cursor, node=Listing.of(item)) for cursor, item in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
        ),
        total_count=page.total,
    )


@strawberry.federation.type(keys=["id"], description="A person with an account.")
class User:
    id: strawberry.ID = strawberry.field(description="Stable identifier of the account.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)

    @strawberry.field(
        description="The user's listings, newest first: all of them for the user, public ones to others."
    )
    async def listings(
        self,
        info: ListingInfo,
        status: ListingStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Listing]:
        try:
            realtor_id = uuid.UUID(str(self.id))
        except ValueError:
            return connection(Page(items=[], has_next=False, total=0))
        wanted = RealtorListings(
            realtor_id=realtor_id,
            status=domain.ListingStatus(status) if status is not None else None,
            limit=page_size(first),
            after=after,
            with_total=wants_total(info),
        )
        return connection(await realtor_listings_loader(info).load(wanted))
