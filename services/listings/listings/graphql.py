# mypy: disable-error-code="untyped-decorator"
# (strawberry's field decorators are untyped; the resolvers themselves are fully annotated.)
"""The listings subgraph: the `Listing` entity, `User.listings`, search and the mutations.

Resolvers only translate: arguments become domain values, the call goes to
`ListingService`, results become GraphQL types. Entity references and photos are batched
per request through DataLoaders, so an `_entities` call or a page of listings with their
photos costs one query each.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import strawberry
from servicekit.auth import Role
from servicekit.errors import BadUserInput, parse_id
from servicekit.graphql import SubgraphSchema
from servicekit.pagination import Connection, Edge, PageInfo, page_size
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from listings import domain
from listings.gql_types import (
    Address,
    CreateListingInput,
    GeoPoint,
    ListingFilter,
    ListingSeo,
    ListingSort,
    ListingStatus,
    Money,
    Photo,
    PhotoUpload,
    PropertyType,
    UpdateListingInput,
    services,
)
from listings.search import Viewer
from listings.service import Page, viewer_of


async def _viewer(info: Info) -> Viewer:
    return viewer_of(await info.context.principal())


def _listing_loader(
    info: Info, *, references: bool = False
) -> DataLoader[uuid.UUID, domain.Listing | None]:
    async def load(keys: list[uuid.UUID]) -> list[domain.Listing | None]:
        found = await services(info).get_many(keys, await _viewer(info), references=references)
        return [found.get(k) for k in keys]

    name = "listing-references" if references else "listings"
    loader: DataLoader[uuid.UUID, domain.Listing | None] = info.context.loader(
        name, lambda: DataLoader(load_fn=load)
    )
    return loader


def _photo_loader(info: Info) -> DataLoader[uuid.UUID, list[domain.Photo]]:
    async def load(keys: list[uuid.UUID]) -> list[list[domain.Photo]]:
        found = await services(info).photos_of(keys)
        return [found.get(k, []) for k in keys]

    loader: DataLoader[uuid.UUID, list[domain.Photo]] = info.context.loader(
        "photos", lambda: DataLoader(load_fn=load)
    )
    return loader


def _wants_total(info: Info) -> bool:
    return any(
        getattr(selection, "name", None) == "totalCount"
        for field in info.selected_fields
        for selection in field.selections
    )


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
        d = listing.details
        a = d.address
        return cls(
            id=strawberry.ID(str(listing.id)),
            slug=listing.slug,
            title=d.title,
            description=d.description,
            price=Money(amount=d.price.amount, currency=d.price.currency),
            status=listing.status,
            property_type=d.property_type,
            bedrooms=d.bedrooms,
            bathrooms=d.bathrooms,
            living_area_sqft=d.living_area_sqft,
            address=Address(
                street=a.street,
                unit=a.unit,
                city=a.city,
                state=a.state,
                postal_code=a.postal_code,
                country=a.country,
            ),
            location=GeoPoint(lat=d.location.lat, lng=d.location.lng) if d.location else None,
            time_zone=listing.time_zone,
            created_at=listing.created_at,
            updated_at=listing.updated_at,
            data=listing,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Listing | None:
        try:
            key = uuid.UUID(str(id))
        except ValueError:
            return None
        found = await _listing_loader(info, references=True).load(key)
        return cls.of(found) if found else None

    @strawberry.field(description="Photos in gallery order.")
    async def photos(self, info: Info) -> list[Photo]:
        svc = services(info)
        return [Photo.of(p, svc) for p in await _photo_loader(info).load(self.data.id)]

    @strawberry.field(description="The realtor who owns the listing.")
    def realtor(self) -> User:
        return User(id=strawberry.ID(str(self.data.realtor_id)))

    @strawberry.field(
        description="Title, description, canonical URL and JSON-LD for the public page."
    )
    async def seo(self, info: Info) -> ListingSeo:
        photo_list = await _photo_loader(info).load(self.data.id)
        seo = services(info).seo(self.data, photo_list)
        return ListingSeo(
            title=seo.title,
            description=seo.description,
            canonical_url=seo.canonical_url,
            json_ld=cast(JSON, seo.json_ld),
        )


def _connection(page: Page) -> Connection[Listing]:
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
        info: Info,
        status: ListingStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Listing]:
        try:
            realtor_id = uuid.UUID(str(self.id))
        except ValueError:
            return _connection(Page(items=[], has_next=False, total=0))
        page = await services(info).realtor_listings(
            await _viewer(info),
            realtor_id,
            domain.ListingStatus(status) if status is not None else None,
            limit=page_size(first),
            after=after,
            with_total=_wants_total(info),
        )
        return _connection(page)


@strawberry.type(description="Listings queries.")
class Query:
    @strawberry.field(
        description="One listing by id or slug; null when it does not exist or is not visible."
    )
    async def listing(
        self, info: Info, id: strawberry.ID | None = None, slug: str | None = None
    ) -> Listing | None:
        if (id is None) == (slug is None):
            raise BadUserInput("give exactly one of id and slug", argument="id")
        if id is not None:
            found = await _listing_loader(info).load(parse_id(id))
        else:
            found = await services(info).get(await _viewer(info), slug=slug)
        return Listing.of(found) if found else None

    @strawberry.field(
        description="Search listings (ACTIVE ones unless `filter.statuses` says otherwise)."
    )
    async def listings(
        self,
        info: Info,
        filter: ListingFilter | None = None,
        sort: ListingSort | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Listing]:
        query = (filter or ListingFilter()).to_domain()
        page = await services(info).search(
            await _viewer(info),
            query,
            sort or ListingSort.RELEVANCE,
            limit=page_size(first),
            after=after,
            with_total=_wants_total(info),
        )
        return _connection(page)


@strawberry.type(description="Listings mutations.")
class Mutation:
    @strawberry.mutation(description="Create a listing (REALTOR); it starts as DRAFT unless told.")
    async def create_listing(self, info: Info, input: CreateListingInput) -> Listing:
        actor = await info.context.user(Role.REALTOR)
        listing = await services(info).create(
            actor,
            input.to_domain(),
            status=domain.ListingStatus(input.status or domain.ListingStatus.DRAFT),
            time_zone=input.time_zone,
        )
        return Listing.of(listing)

    @strawberry.mutation(description="Change a listing (owner or admin), including its status.")
    async def update_listing(
        self, info: Info, id: strawberry.ID, input: UpdateListingInput
    ) -> Listing:
        actor = await info.context.user()
        listing = await services(info).update(actor, parse_id(id), input.to_domain())
        return Listing.of(listing)

    @strawberry.mutation(description="Delete a listing and its photos (owner or admin).")
    async def delete_listing(self, info: Info, id: strawberry.ID) -> bool:
        actor = await info.context.user()
        return await services(info).delete(actor, parse_id(id))

    @strawberry.mutation(description="Authorise a direct photo upload to storage (owner).")
    async def request_photo_upload(
        self, info: Info, listing_id: strawberry.ID, content_type: str, file_name: str
    ) -> PhotoUpload:
        actor = await info.context.user()
        ticket = await services(info).request_photo_upload(
            actor, parse_id(listing_id, "listingId"), content_type, file_name
        )
        return PhotoUpload(
            id=strawberry.ID(str(ticket.id)),
            url=ticket.post.url,
            fields=cast(JSON, ticket.post.fields),
            expires_at=ticket.expires_at,
        )

    @strawberry.mutation(description="Record an uploaded photo after checking it (owner).")
    async def confirm_photo_upload(
        self, info: Info, listing_id: strawberry.ID, upload_id: strawberry.ID
    ) -> Photo:
        actor = await info.context.user()
        svc = services(info)
        photo = await svc.confirm_photo_upload(
            actor, parse_id(listing_id, "listingId"), parse_id(upload_id, "uploadId")
        )
        return Photo.of(photo, svc)

    @strawberry.mutation(description="Remove a photo and delete its file (owner).")
    async def remove_photo(
        self, info: Info, listing_id: strawberry.ID, photo_id: strawberry.ID
    ) -> bool:
        actor = await info.context.user()
        return await services(info).remove_photo(
            actor, parse_id(listing_id, "listingId"), parse_id(photo_id, "photoId")
        )

    @strawberry.mutation(description="Put the photos in this order; every photo once (owner).")
    async def reorder_photos(
        self, info: Info, listing_id: strawberry.ID, photo_ids: list[strawberry.ID]
    ) -> list[Photo]:
        actor = await info.context.user()
        svc = services(info)
        ordered = await svc.reorder_photos(
            actor, parse_id(listing_id, "listingId"), [parse_id(p, "photoIds") for p in photo_ids]
        )
        return [Photo.of(p, svc) for p in ordered]

    @strawberry.mutation(description="Make this photo the cover (owner).")
    async def set_cover_photo(
        self, info: Info, listing_id: strawberry.ID, photo_id: strawberry.ID
    ) -> Photo:
        actor = await info.context.user()
        svc = services(info)
        cover = await svc.set_cover_photo(
            actor, parse_id(listing_id, "listingId"), parse_id(photo_id, "photoId")
        )
        return Photo.of(cover, svc)


def build_schema() -> strawberry.federation.Schema:
    return SubgraphSchema(query=Query, mutation=Mutation, types=[Listing, User])
