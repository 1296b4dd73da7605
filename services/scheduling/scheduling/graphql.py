# mypy: disable-error-code="untyped-decorator"
"""Scheduling's federation subgraph: the `Tour` entity, availability, and live updates.

Thin by design: resolvers parse arguments, call the use cases, and map domain objects to
the types below. Errors are servicekit errors, which leave with `extensions.code`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry
from servicekit.auth import Principal, Role
from servicekit.errors import Forbidden, parse_id
from servicekit.graphql import Context, SubgraphSchema
from servicekit.pagination import Connection, build_connection, decode_cursor, page_size
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from scheduling import domain
from scheduling.availability import WEEKDAYS, Availability, format_clock
from scheduling.feeds import CalendarFeeds
from scheduling.live import LiveTours
from scheduling.queries import Client, TourQueries, client_key, tour_key
from scheduling.service import Scheduling

DEFAULT_DURATION = 30
# The contract's defaults for availability; an explicit null means the same.
DEFAULT_BUFFER = 15
DEFAULT_NOTICE = 120
DEFAULT_HORIZON = 60


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


@dataclass
class Services:
    """What resolvers reach through `info.context.services` (built by app.py)."""

    scheduling: Scheduling
    queries: TourQueries
    feeds: CalendarFeeds
    live: LiveTours


def _ctx(info: Info[Context, None]) -> Context:
    return info.context


def _services(info: Info[Context, None]) -> Services:
    services: Services = info.context.services
    return services


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

    async def _self(self, info: Info[Context, None], *roles: Role) -> Principal:
        who = await _ctx(info).user(*roles)
        if str(who.user_id) != str(self.id) and not who.is_admin:
            raise Forbidden("only the user themself may see this")
        return who

    @strawberry.field(description="The user's live tours that are not over yet, soonest first.")
    async def upcoming_tours(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Tour]:
        await self._self(info)
        services = _services(info)
        limit = page_size(first)
        rows = await services.queries.upcoming(
            parse_id(self.id, "id"), services.scheduling.clock(), limit, decode_cursor(after)
        )
        return build_connection(rows, limit=limit, key=tour_key, node=Tour.of, after=after)

    @strawberry.field(description="The user's past and ended tours, most recent first.")
    async def tour_history(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[Tour]:
        await self._self(info)
        services = _services(info)
        limit = page_size(first)
        rows = await services.queries.past(
            parse_id(self.id, "id"), services.scheduling.clock(), limit, decode_cursor(after)
        )
        return build_connection(rows, limit=limit, key=tour_key, node=Tour.of, after=after)

    @strawberry.field(description="Buyers who requested tours with this realtor, latest first.")
    async def clients(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        await self._self(info, Role.REALTOR)
        limit = page_size(first)
        rows = await _services(info).queries.clients(
            parse_id(self.id, "id"), limit, decode_cursor(after)
        )

        def node(client: Client) -> User:
            return User(id=strawberry.ID(str(client.buyer_id)))

        return build_connection(rows, limit=limit, key=client_key, node=node, after=after)

    @strawberry.field(
        description="Secret URL of the user's tours as an ICS calendar feed (self only)."
    )
    async def calendar_feed_url(self, info: Info[Context, None]) -> str | None:
        who = await _ctx(info).principal()
        if who is None or str(who.user_id) != str(self.id):
            return None
        return await _services(info).feeds.url_for(who.user_id)


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
        who = await _ctx(info).user()
        services = _services(info)
        listing_id = parse_id(self.id, "id")
        await services.scheduling.require_listing_owner(who, listing_id)
        limit = page_size(first)
        rows = await services.queries.of_listing(
            listing_id,
            domain.TourStatus(status.value) if status is not None else None,
            limit,
            decode_cursor(after),
        )
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


def _tour_loader(queries: TourQueries) -> DataLoader[uuid.UUID, domain.Tour | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[domain.Tour | None]:
        found = await queries.by_ids(list(ids))
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

    @classmethod
    def of(cls, tour: domain.Tour) -> Tour:
        return cls(
            id=strawberry.ID(str(tour.id)),
            status=TourStatus(tour.status.value),
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
        )

    @classmethod
    async def resolve_reference(cls, info: Info[Context, None], id: strawberry.ID) -> Tour | None:
        services = _services(info)
        loader = _ctx(info).loader("tour", lambda: _tour_loader(services.queries))
        tour = await loader.load(parse_id(id, "id"))
        who = await _ctx(info).principal()
        if tour is None or who is None:
            return None
        if not (who.is_admin or tour.is_participant(who.user_id)):
            return None
        return cls.of(tour)

    @strawberry.field(description="The listing toured.")
    def listing(self) -> Listing:
        return Listing(id=strawberry.ID(str(self.listing_id)))

    @strawberry.field(description="The buyer who requested the tour.")
    def buyer(self) -> User:
        return User(id=strawberry.ID(str(self.buyer_id)))

    @strawberry.field(description="The realtor who hosts the tour.")
    def realtor(self) -> User:
        return User(id=strawberry.ID(str(self.realtor_id)))

    @strawberry.field(description="Every status change, oldest first.")
    async def history(self, info: Info[Context, None]) -> list[TourStatusChange]:
        services = _services(info)
        loader = _ctx(info).loader("history", lambda: _history_loader(services.queries))
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


# -- operations ----------------------------------------------------------------------------------
@strawberry.type
class Query:
    @strawberry.field(description="A tour (its participants only).")
    async def tour(self, info: Info[Context, None], id: strawberry.ID) -> Tour | None:
        who = await _ctx(info).user()
        return Tour.of(await _services(info).scheduling.tour_for(who, parse_id(id, "id")))

    @strawberry.field(description="Free slots of the listing's realtor between `from` and `to`.")
    async def available_slots(
        self,
        info: Info[Context, None],
        listing_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Earliest start.")],
        to: Annotated[datetime, strawberry.argument(description="Latest start (exclusive).")],
        duration_minutes: int | None = None,
    ) -> list[TimeSlot]:
        slots = await _services(info).scheduling.available_slots(
            parse_id(listing_id, "listingId"), from_, to, duration_minutes or DEFAULT_DURATION
        )
        return [TimeSlot(starts_at=s, ends_at=e) for s, e in slots]

    @strawberry.field(description="The caller's availability (REALTOR); null until set.")
    async def my_availability(self, info: Info[Context, None]) -> AvailabilityType | None:
        who = await _ctx(info).user(Role.REALTOR)
        value = await _services(info).scheduling.availability_of(who.user_id)
        return AvailabilityType.of(value) if value else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Publish the caller's working hours and booking rules.")
    async def set_availability(
        self, info: Info[Context, None], input: AvailabilityInput
    ) -> AvailabilityType:
        who = await _ctx(info).user(Role.REALTOR)
        value = await _services(info).scheduling.set_availability(
            who,
            time_zone=input.time_zone,
            weekly_hours=[(h.weekday.value, h.start, h.end) for h in input.weekly_hours],
            buffer_minutes=_or(input.buffer_minutes, DEFAULT_BUFFER),
            minimum_notice_minutes=_or(input.minimum_notice_minutes, DEFAULT_NOTICE),
            max_days_ahead=_or(input.max_days_ahead, DEFAULT_HORIZON),
            blocked_dates=input.blocked_dates or [],
        )
        return AvailabilityType.of(value)

    @strawberry.mutation(description="Ask for a tour of a listing (BUYER).")
    async def request_tour(self, info: Info[Context, None], input: RequestTourInput) -> Tour:
        who = await _ctx(info).user(Role.BUYER)
        tour = await _services(info).scheduling.request_tour(
            who,
            listing_id=parse_id(input.listing_id, "listingId"),
            starts_at=input.starts_at,
            duration_minutes=_or(input.duration_minutes, DEFAULT_DURATION),
            note=input.note,
            idempotency_key=input.idempotency_key,
        )
        return Tour.of(tour)

    @strawberry.mutation(description="Confirm a requested tour (its realtor).")
    async def confirm_tour(self, info: Info[Context, None], id: strawberry.ID) -> Tour:
        who = await _ctx(info).user()
        return Tour.of(await _services(info).scheduling.confirm(who, parse_id(id, "id")))

    @strawberry.mutation(description="Decline a requested tour with a reason (its realtor).")
    async def decline_tour(self, info: Info[Context, None], id: strawberry.ID, reason: str) -> Tour:
        who = await _ctx(info).user()
        return Tour.of(await _services(info).scheduling.decline(who, parse_id(id, "id"), reason))

    @strawberry.mutation(
        description="Move a tour (a participant); a buyer's move needs confirming."
    )
    async def reschedule_tour(
        self, info: Info[Context, None], id: strawberry.ID, starts_at: datetime
    ) -> Tour:
        who = await _ctx(info).user()
        return Tour.of(
            await _services(info).scheduling.reschedule(who, parse_id(id, "id"), starts_at)
        )

    @strawberry.mutation(description="Cancel a requested or scheduled tour (a participant).")
    async def cancel_tour(self, info: Info[Context, None], id: strawberry.ID, reason: str) -> Tour:
        who = await _ctx(info).user()
        return Tour.of(await _services(info).scheduling.cancel(who, parse_id(id, "id"), reason))

    @strawberry.mutation(description="Start a scheduled tour (its realtor).")
    async def start_tour(self, info: Info[Context, None], id: strawberry.ID) -> Tour:
        who = await _ctx(info).user()
        return Tour.of(await _services(info).scheduling.start(who, parse_id(id, "id")))

    @strawberry.mutation(description="Complete a tour in progress (its realtor).")
    async def complete_tour(self, info: Info[Context, None], id: strawberry.ID) -> Tour:
        who = await _ctx(info).user()
        return Tour.of(await _services(info).scheduling.complete(who, parse_id(id, "id")))

    @strawberry.mutation(
        description="Replace the caller's calendar feed URL (revokes the old one)."
    )
    async def reset_calendar_feed(self, info: Info[Context, None]) -> str:
        who = await _ctx(info).user()
        return await _services(info).feeds.url_for(who.user_id, reset=True)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every change of one tour (its participants only).")
    async def tour_status_changed(
        self, info: Info[Context, None], tour_id: strawberry.ID
    ) -> AsyncGenerator[Tour, None]:
        who = await _ctx(info).user()
        services = _services(info)
        tour_uuid = parse_id(tour_id, "tourId")
        with services.live.listen(tour_id=tour_uuid) as listener:
            await services.scheduling.tour_for(who, tour_uuid)
            async for tour in listener:
                yield Tour.of(tour)

    @strawberry.subscription(description="Every change to any of the caller's tours.")
    async def my_tour_updates(self, info: Info[Context, None]) -> AsyncGenerator[Tour, None]:
        who = await _ctx(info).user()
        with _services(info).live.listen(user_id=who.user_id) as listener:
            async for tour in listener:
                yield Tour.of(tour)


def build_schema() -> strawberry.federation.Schema:
    return SubgraphSchema(
        query=Query, mutation=Mutation, subscription=Subscription, types=[User, Listing, Tour]
    )
