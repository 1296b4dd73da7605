"""The lists under an entity (`User.upcomingTours`, `User.tourHistory`, `User.clients`,
`Listing.tours`), each read through a per-request DataLoader: every parent's page in an
operation comes from one use-case call, so one query however many users or listings an
`_entities` call holds.

A key is what one field asks of one parent (owner, page size, the cursor as sent, status);
the batch decodes the cursors and hands the use case every request at once. A request the
domain refuses (FORBIDDEN, NOT_FOUND) or whose cursor is not a list's fails its own field
only: the use case answers it with its error, which the loader raises to that field.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, TypeVar

from servicekit.graphql import Context
from servicekit.pagination import decode_cursor, page_size
from servicekit.vocabulary import Principal, parse_id
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from scheduling import domain
from scheduling.graphql.context import context, services
from scheduling.queries import Client
from scheduling.service import Answer, ListPage, Scheduling

R = TypeVar("R")
Read = Callable[[Scheduling, Principal, Sequence[ListPage]], Awaitable[list[Answer[R]]]]


class ListKey(NamedTuple):
    """One field's request of one parent, hashable for the loader's cache."""

    owner: uuid.UUID
    limit: int
    after: str | None
    status: domain.TourStatus | None


async def load_page(
    info: Info[Context, None],
    name: str,
    read: Read[R],
    owner: str,
    first: int | None,
    after: str | None,
    status: domain.TourStatus | None = None,
) -> tuple[list[R], int]:
    """The page of `owner`'s list (`limit + 1` rows at most) and its size, read with every
    other parent's page of the loader `name` in the request. Arguments are checked in the
    order a single list checks them: the caller, `first`, the id, the cursor."""
    who = await context(info).user()
    limit = page_size(first)
    key = ListKey(parse_id(owner, "id"), limit, after, status)
    decode_cursor(after)
    scheduling = services(info).scheduling

    async def load(keys: list[ListKey]) -> list[list[R] | BaseException]:
        wanted = [ListPage(k.owner, k.limit, decode_cursor(k.after), k.status) for k in keys]
        return list(await read(scheduling, who, wanted))

    loader: DataLoader[ListKey, list[R]] = context(info).loader(
        name, lambda: DataLoader(load_fn=load)
    )
    return await loader.load(key), limit


async def upcoming(
    info: Info[Context, None], owner: str, first: int | None, after: str | None
) -> tuple[list[domain.Tour], int]:
    return await load_page(info, "upcoming-tours", Scheduling.upcoming_tours, owner, first, after)


async def history(
    info: Info[Context, None], owner: str, first: int | None, after: str | None
) -> tuple[list[domain.Tour], int]:
    return await load_page(info, "tour-history", Scheduling.past_tours, owner, first, after)


async def clients(
    info: Info[Context, None], owner: str, first: int | None, after: str | None
) -> tuple[list[Client], int]:
    return await load_page(info, "clients", Scheduling.clients, owner, first, after)


async def of_listing(
    info: Info[Context, None],
    owner: str,
    status: domain.TourStatus | None,
    first: int | None,
    after: str | None,
) -> tuple[list[domain.Tour], int]:
    return await load_page(
        info, "listing-tours", Scheduling.tours_of_listings, owner, first, after, status
    )
