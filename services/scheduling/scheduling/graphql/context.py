"""What every resolver reaches: servicekit's `Context`, with `context.services` set to
scheduling's `Services`, and the one way input errors are placed in the operation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from servicekit.graphql import Context
from servicekit.vocabulary import ServiceError
from strawberry.types import Info

from scheduling.live import LiveTours
from scheduling.queries import TourQueries
from scheduling.service import Scheduling


@dataclass
class Services:
    """What resolvers reach through `info.context.services` (built by app.py)."""

    scheduling: Scheduling
    queries: TourQueries
    live: LiveTours


def context(info: Info[Context, None]) -> Context:
    return info.context


def services(info: Info[Context, None]) -> Services:
    found: Services = info.context.services
    return found


@contextmanager
def inside(argument: str) -> Iterator[None]:
    """Errors naming a field of an input object leave with its path from the argument.

    The use cases name their inputs (`startsAt`); in `requestTour(input: ...)` the client
    sent it as `input.startsAt`, and `extensions.field` says so.
    """
    try:
        yield
    except ServiceError as exc:
        if exc.field is not None and not exc.field.startswith(f"{argument}."):
            exc.field = f"{argument}.{exc.field}"
        raise
