# mypy: disable-error-code="untyped-decorator"
"""The subgraph's types: the `Tour` entity, the `User` and `Listing` entities it extends,
availability, and the inputs. Fields under an entity call the use cases (which apply the
domain's rules) and batch through per-request DataLoaders (the lists: `lists.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum

import strawberry
from servicekit.graphql import Context
from servicekit.pagination import Connection, build_connection
from servicekit.vocabulary import Principal, parse_id
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from scheduling import domain
from scheduling.availability import WEEKDAYS, Availability, format_clock
from scheduling.graphql import lists
from scheduling.graphql.context import context, services
from scheduling.queries import Client, TourQueries, client_key, tour_key
from scheduling.service import Scheduling

DEFAULT_DURATION = 30
# The contract's defaults for availability; an explicit null means the same.
DEFAULT_BUFFER = 15
DEFAULT_NOTICE = 120
DEFAULT_HORIZON = 60


TourStatus = strawberry.enum(domain.TourStatus, description="Where a tour is in its lifecycle.")


@strawberry.enum(description="A day of the week.")
class Weekday(Enum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


# -- entities owned elsewhere, extended here ---------------------------------------------------
# Entities of other subgraphs repeat their owners' descriptions, so the supergraph keeps them.
@strawberry.federation.type(keys=["id"], description="A person with an account.")
class User:
    id: strawberry.ID = strawberry.field(description="Stable identifier of the account.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)

    @strawberry.field(description="The user's live tours that are not over yet, soonest first.")
    async def upcoming_tours(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Tour]:
        rows, limit = await lists.upcoming(info, self.id, first, after)
        return build_connection(rows, limit=limit, key=tour_key, node=Tour.of, after=after)

    @strawberry.field(description="The user's past and ended tours, most recent first.")
    async def tour_history(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Tour]:
        rows, limit = await lists.history(info, self.id, first, after)
        return build_connection(rows, limit=limit, key=tour_key, node=Tour.of, after=after)

    @strawberry.field(description="Buyers who requested tours with this realtor, latest first.")
    async def clients(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        rows, limit = await lists.clients(info, self.id, first, after)

        def node(client: Client) -> User:
            return User(id=strawberry.ID(str(client.buyer_id)))

        return build_connection(rows, limit=limit, key=client_key, node=node, after=after)

    @strawberry.field(
        description="Secret URL of the user's tours as an ICS calendar feed (self only)."
    )
    async def calendar_feed_url(self, info: Info[Context, None]) -> str | None:
        who = await context(info).principal()
        if who is None:
            return None
        return await services(info).scheduling.calendar_feed_url(who, parse_id(self.id, "id"))


@strawberry.federation.type(keys=["id"], description="A home offered for sale or rent.")
class Listing:
    id: strawberry.ID = strawberry.field(description="Listing id.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Listing:
        return cls(id=id)

    @strawberry.field(description="Tours of this listing, by start time (its realtor only).")
    async def tours(
        self,
        info: Info[Context, None],
        status: TourStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Tour]:
        wanted = domain.TourStatus(status.value) if status is not None else None
        rows, limit = await lists.of_listing(info, self.id, wanted, first, after)
        return build_connection(rows, limit=limit, key=tour_key, node=Tour.of, after=after)


# -- tours ---------------------------------------------------------------------------------------
@strawberry.type(description="One step of a tour's history.")
class TourStatusChange:
    from_: TourStatus | None = strawberry.field(  # type: ignore[valid-type]
        name="from", description="Status before the change; null when the tour was created."
    )
    to: TourStatus = strawberry.field(description="Status after the change.")  # type: ignore[valid-type]
    at: datetime = strawberry.field(description="When it happened.")
    by: User | None = strawberry.field(description="Who did it; null for the system.")
    reason: str | None = strawberry.field(description="Why, when a reason was given.")


def _history_loader(queries: TourQueries) -> DataLoader[uuid.UUID, list[domain.Transition]]:
    async def load(ids: Sequence[uuid.UUID]) -> list[list[domain.Transition]]:
        found = await queries.history(list(ids))
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def _tour_loader(
    scheduling: Scheduling, who: Principal | None
) -> DataLoader[uuid.UUID, domain.Tour | None]:
    """The tours the caller may see, one query per batch; the others resolve to null."""

    async def load(ids: Sequence[uuid.UUID]) -> list[domain.Tour | None]:
        found = await scheduling.visible_tours(who, list(ids))
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


@strawberry.federation.type(keys=["id"], description="A live video tour of a listing.")
class Tour:
    id: strawberry.ID = strawberry.field(description="The tour's id (stable across changes).")
    status: TourStatus = strawberry.field(description="Current status.")  # type: ignore[valid-type]
    starts_at: datetime = strawberry.field(description="Start time.")
    ends_at: datetime = strawberry.field(description="End time.")
    time_zone: str = strawberry.field(description="IANA zone the tour is shown in.")
    note: str | None = strawberry.field(description="The buyer's note to the realtor.")
    status_reason: str | None = strawberry.field(
        description="Why it was declined, cancelled or marked no-show."
    )
    created_at: datetime = strawberry.field(description="When it was requested.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    listing_id: strawberry.Private[uuid.UUID]
    buyer_id: strawberry.Private[uuid.UUID]
    realtor_id: strawberry.Private[uuid.UUID]
    # Plain values, not resolvers: read as attributes, the references a list of tours
    # always carries cost no resolver call per tour.
    listing: Listing = strawberry.field(description="The listing toured.")
    buyer: User = strawberry.field(description="The buyer who requested the tour.")
    realtor: User = strawberry.field(description="The realtor who hosts the tour.")

    @classmethod
    def of(cls, tour: domain.Tour) -> Tour:
        return cls(
            id=strawberry.ID(str(tour.id)),
            status=tour.status,  # the GraphQL enum is the domain's own class
            starts_at=tour.starts_at,
            ends_at=tour.ends_at,
            time_zone=tour.time_zone,
            note=tour.note,
            status_reason=tour.status_reason,
            created_at=tour.created_at,
            updated_at=tour.updated_at,
            listing_id=tour.listing_id,
            buyer_id=tour.buyer_id,
            realtor_id=tour.realtor_id,
            listing=Listing(id=strawberry.ID(str(tour.listing_id))),
            buyer=User(id=strawberry.ID(str(tour.buyer_id))),
            realtor=User(id=strawberry.ID(str(tour.realtor_id))),
        )

    @classmethod
    async def resolve_reference(cls, info: Info[Context, None], id: strawberry.ID) -> Tour | None:
        scheduling = services(info).scheduling
        who = await context(info).principal()
        loader = context(info).loader("tour", lambda: _tour_loader(scheduling, who))
        tour = await loader.load(parse_id(id, "id"))
        return None if tour is None else cls.of(tour)

    @strawberry.field(description="Every status change, oldest first.")
    async def history(self, info: Info[Context, None]) -> list[TourStatusChange]:
        queries = services(info).queries
        loader = context(info).loader("history", lambda: _history_loader(queries))
        steps = await loader.load(parse_id(self.id, "id"))
        return [
            TourStatusChange(
                from_=TourStatus(s.from_status.value) if s.from_status else None,
                to=TourStatus(s.to_status.value),
                at=s.at,
                by=User(id=strawberry.ID(str(s.by))) if s.by else None,
                reason=s.reason,
            )
            for s in steps
        ]


# -- availability --------------------------------------------------------------------------------
@strawberry.type(description="A bookable slot.")
class TimeSlot:
    starts_at: datetime = strawberry.field(description="Start of the slot.")
    ends_at: datetime = strawberry.field(description="End of the slot.")


@strawberry.input(description="Working hours on one weekday, local time of the realtor's zone.")
class WeeklyHoursInput:
    weekday: Weekday = strawberry.field(description="The day.")
    start: str = strawberry.field(description='Start, "HH:MM" (24 h).')
    end: str = strawberry.field(description='End, "HH:MM" (24 h; "24:00" for midnight).')


@strawberry.type(description="Working hours on one weekday, local time of the realtor's zone.")
class WeeklyHours:
    weekday: Weekday = strawberry.field(description="The day.")
    start: str = strawberry.field(description='Start, "HH:MM".')
    end: str = strawberry.field(description='End, "HH:MM".')


@strawberry.input(description="When a realtor takes tours.")
class AvailabilityInput:
    time_zone: str = strawberry.field(description="IANA zone of the working hours.")
    weekly_hours: list[WeeklyHoursInput] = strawberry.field(description="Working hours.")
    buffer_minutes: int | None = strawberry.field(
        default=DEFAULT_BUFFER, description="Free minutes after a tour (null: the default)."
    )
    minimum_notice_minutes: int | None = strawberry.field(
        default=DEFAULT_NOTICE,
        description="How long before its start a tour can be booked at the latest (null: the default).",
    )
    max_days_ahead: int | None = strawberry.field(
        default=DEFAULT_HORIZON,
        description="How many days ahead tours can be booked (null: the default).",
    )
    blocked_dates: list[date] | None = strawberry.field(
        default_factory=list, description="Local dates without tours."
    )


@strawberry.type(name="Availability", description="When a realtor takes tours.")
class AvailabilityType:
    time_zone: str = strawberry.field(description="IANA zone of the working hours.")
    weekly_hours: list[WeeklyHours] = strawberry.field(description="Working hours.")
    buffer_minutes: int = strawberry.field(description="Free minutes after each tour.")
    minimum_notice_minutes: int = strawberry.field(description="Minimum booking notice.")
    max_days_ahead: int = strawberry.field(description="Booking horizon in days.")
    blocked_dates: list[date] = strawberry.field(description="Local dates without tours.")

    @classmethod
    def of(cls, value: Availability) -> AvailabilityType:
        return cls(
            time_zone=value.time_zone,
            weekly_hours=[
                WeeklyHours(
                    weekday=Weekday(WEEKDAYS[h.weekday]),
                    start=format_clock(h.start),
                    end=format_clock(h.end),
                )
                for h in value.weekly_hours
            ],
            buffer_minutes=value.buffer_minutes,
            minimum_notice_minutes=value.minimum_notice_minutes,
            max_days_ahead=value.max_days_ahead,
            blocked_dates=sorted(value.blocked_dates),
        )


@strawberry.input(description="A buyer's request for a tour.")
class RequestTourInput:
    listing_id: strawberry.ID = strawberry.field(description="The listing to tour.")
    starts_at: datetime = strawberry.field(description="Requested start.")
    duration_minutes: int | None = strawberry.field(
        default=DEFAULT_DURATION, description="Length in minutes (null: the default)."
    )
    note: str | None = strawberry.field(default=None, description="A note for the realtor.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeat a request safely: the same key returns the same tour."
    )
