# mypy: disable-error-code="untyped-decorator"
# (strawberry's field decorators are untyped; the resolvers themselves are fully annotated.)
"""The subgraph's queries and mutations: parse input, call the use case or the read model,
map the result. Who may do what is decided in the domain, not here."""

from __future__ import annotations

from typing import cast

import strawberry
from servicekit.pagination import Connection, page_size
from servicekit.vocabulary import BadUserInput, parse_id
from strawberry.scalars import JSON

from listings import domain
from listings.graphql.context import (
    ListingInfo,
    actor,
    inputs_at,
    listing_loader,
    services,
    viewer,
    wants_total,
)
from listings.graphql.entities import Listing, connection
from listings.graphql.inputs import CreateListingInput, ListingFilter, UpdateListingInput
from listings.graphql.types import ListingSort, Photo, PhotoUpload


@strawberry.type(description="Listings queries.")
class Query:
    @strawberry.field(
        description="One listing by id or slug; null when it does not exist or is not visible."
    )
    async def listing(
        self, info: ListingInfo, id: strawberry.ID | None = None, slug: str | None = None
    ) -> Listing | None:
        if (id is None) == (slug is None):
            raise BadUserInput("give exactly one of id and slug", field="id")
        if id is not None:
            found = await listing_loader(info).load(parse_id(id))
        else:
            found = await services(info).queries.get(await viewer(info), slug=slug)
        return Listing.of(found) if found else None

    @strawberry.field(
        description="Search listings (ACTIVE ones unless `filter.statuses` says otherwise)."
    )
    async def listings(
        self,
        info: ListingInfo,
        filter: ListingFilter | None = None,
        sort: ListingSort | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Listing]:
        with inputs_at("filter"):
            query = (filter or ListingFilter()).to_domain()
        page = await services(info).queries.search(
            await viewer(info),
            query,
            sort or ListingSort.RELEVANCE,
            limit=page_size(first),
            after=after,
            with_total=wants_total(info),
        )
        return connection(page)


@strawberry.type(description="Listings mutations.")
class Mutation:
    @strawberry.mutation(
        description="Create a listing (REALTOR: the caller becomes its realtor); DRAFT unless told."
    )
    async def create_listing(self, info: ListingInfo, input: CreateListingInput) -> Listing:
        who = await actor(info)
        with inputs_at("input"):
            listing = await services(info).listings.create(
                who,
                input.to_domain(),
                status=domain.ListingStatus(input.status or domain.ListingStatus.DRAFT),
                time_zone=input.time_zone,
            )
        return Listing.of(listing)

    @strawberry.mutation(description="Change a listing (owner or admin), including its status.")
    async def update_listing(
        self, info: ListingInfo, id: strawberry.ID, input: UpdateListingInput
    ) -> Listing:
        who = await actor(info)
        listing_id = parse_id(id)
        with inputs_at("input"):
            listing = await services(info).listings.update(who, listing_id, input.to_domain())
        return Listing.of(listing)

    @strawberry.mutation(description="Delete a listing and its photos (owner or admin).")
    async def delete_listing(self, info: ListingInfo, id: strawberry.ID) -> bool:
        return await services(info).listings.delete(await actor(info), parse_id(id))

    @strawberry.mutation(description="Authorise a direct photo upload to storage (owner).")
    async def request_photo_upload(
        self, info: ListingInfo, listing_id: strawberry.ID, content_type: str, file_name: str
    ) -> PhotoUpload:
        ticket = await services(info).listings.request_photo_upload(
            await actor(info), parse_id(listing_id, "listingId"), content_type, file_name
        )
        return PhotoUpload(
            id=strawberry.ID(str(ticket.id)),
            url=ticket.post.url,
            fields=cast(JSON, ticket.post.fields),
            expires_at=ticket.expires_at,
        )

    @strawberry.mutation(description="Record an uploaded photo after checking it (owner).")
    async def confirm_photo_upload(
        self, info: ListingInfo, listing_id: strawberry.ID, upload_id: strawberry.ID
    ) -> Photo:
        svc = services(info)
        photo = await svc.listings.confirm_photo_upload(
            await actor(info), parse_id(listing_id, "listingId"), parse_id(upload_id, "uploadId")
        )
        return Photo.of(photo, svc.photo_url(photo))

    @strawberry.mutation(description="Remove a photo and delete its file (owner).")
    async def remove_photo(
        self, info: ListingInfo, listing_id: strawberry.ID, photo_id: strawberry.ID
    ) -> bool:
        return await services(info).listings.remove_photo(
            await actor(info), parse_id(listing_id, "listingId"), parse_id(photo_id, "photoId")
        )

    @strawberry.mutation(description="Put the photos in this order; every photo once (owner).")
    async def reorder_photos(
        self, info: ListingInfo, listing_id: strawberry.ID, photo_ids: list[strawberry.ID]
    ) -> list[Photo]:
        svc = services(info)
        ordered = await svc.listings.reorder_photos(
            await actor(info),
            parse_id(listing_id, "listingId"),
            [parse_id(p, "photoIds") for p in photo_ids],
        )
        return [Photo.of(p, svc.photo_url(p)) for p in ordered]

    @strawberry.mutation(description="Make this photo the cover (owner).")
    async def set_cover_photo(
        self, info: ListingInfo, listing_id: strawberry.ID, photo_id: strawberry.ID
    ) -> Photo:
        svc = services(info)
        cover = await svc.listings.set_cover_photo(
            await actor(info), parse_id(listing_id, "listingId"), parse_id(photo_id, "photoId")
        )
        return Photo.of(cover, svc.photo_url(cover))
