"""What every resolver of the subgraph shares: `Services`, the caller, per-request loaders.

Resolvers reach the service through servicekit's `Context`: `info.context.services` is the
`Services` below, built once by `app.py`. Entity references and photos are batched per
request through DataLoaders, so an `_entities` call or a page of listings with their
photos costs one query each, and `User.listings` under any number of users one (plus one
for their `totalCount`s).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from servicekit.graphql import Context
from servicekit.vocabulary import BadUserInput, Principal
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from listings import domain
from listings.queries import ListingQueries, Page, RealtorListings
from listings.service import ListingService
from listings.storage import PhotoStorage

ListingInfo = Info[Context, None]


@dataclass(frozen=True, slots=True)
class Services:
    """What resolvers reach through `info.context.services` (built by app.py)."""

    listings: ListingService
    queries: ListingQueries
    storage: PhotoStorage
    public_url: str

    def photo_url(self, photo: domain.Photo) -> str:
        return self.storage.url_for(photo.key)


def services(info: ListingInfo) -> Services:
    found: Services = info.context.services
    return found


async def viewer(info: ListingInfo) -> Principal | None:
    """The caller, or None when anonymous (reads decide what an anonymous caller sees)."""
    return await info.context.principal()


async def actor(info: ListingInfo) -> Principal:
    """The authenticated caller; which of them may act is the domain's rule."""
    return await info.context.user()


@contextmanager
def inputs_at(path: str) -> Iterator[None]:
    """Name bad input by its place in the operation: the domain says `price.amount`, the
    caller sent it as `input.price.amount`."""
    try:
        yield
    except BadUserInput as exc:
        field = f"{path}.{exc.field}" if exc.field else path
        raise BadUserInput(exc.message, field=field, **exc.details) from exc


def listing_loader(
    info: ListingInfo, *, references: bool = False
) -> DataLoader[uuid.UUID, domain.Listing | None]:
    async def load(keys: list[uuid.UUID]) -> list[domain.Listing | None]:
        found = await services(info).queries.visible_by_ids(
            keys, await viewer(info), references=references
        )
        return [found.get(k) for k in keys]

    name = "listing-references" if references else "listings"
    loader: DataLoader[uuid.UUID, domain.Listing | None] = info.context.loader(
        name, lambda: DataLoader(load_fn=load)
    )
    return loader


def photo_loader(info: ListingInfo) -> DataLoader[uuid.UUID, list[domain.Photo]]:
    async def load(keys: list[uuid.UUID]) -> list[list[domain.Photo]]:
        found = await services(info).queries.photos_of(keys)
        return [found.get(k, []) for k in keys]

    loader: DataLoader[uuid.UUID, list[domain.Photo]] = info.context.loader(
        "photos", lambda: DataLoader(load_fn=load)
    )
    return loader


def realtor_listings_loader(info: ListingInfo) -> DataLoader[RealtorListings, Page]:
    """`User.listings` of every user in the request, read together: the pages of all of
    them cost one statement (and one more for their `totalCount`s)."""

    async def load(keys: list[RealtorListings]) -> list[Page]:
        return await services(info).queries.realtor_listings(await viewer(info), keys)

    loader: DataLoader[RealtorListings, Page] = info.context.loader(
        "realtor-listings", lambda: DataLoader(load_fn=load)
    )
    return loader


def wants_total(info: ListingInfo) -> bool:
    """Whether the connection's `totalCount` was selected (it costs a second query), read
    off graphql-core's nodes of this field alone, fragments included: strawberry's
    `selected_fields` converts the field's whole subtree on every call (7% of a search)."""
    raw = info._raw_info
    return any(_selects_total(node.selection_set, raw.fragments) for node in raw.field_nodes)


def _selects_total(selections: Any, fragments: dict[str, Any]) -> bool:
    """Whether a selection set (graphql-core's node, read by its `kind`) holds `totalCount`."""
    for selection in selections.selections if selections is not None else ():
        kind = selection.kind
        if kind == "field":
            if selection.name.value == "totalCount":
                return True
        elif kind == "inline_fragment":
            if _selects_total(selection.selection_set, fragments):
                return True
        elif kind == "fragment_spread":
            fragment = fragments.get(selection.name.value)
            if fragment is not None and _selects_total(fragment.selection_set, fragments):
                return True
    return False
