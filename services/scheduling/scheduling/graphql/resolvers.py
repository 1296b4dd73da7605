# mypy: disable-error-code="untyped-decorator"
"""The subgraph's operations: parse the arguments, call a use case, map the result out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from servicekit.graphql import Context
from servicekit.vocabulary import parse_id
from strawberry.types import Info

from scheduling.graphql.context import context, inside, services
from scheduling.graphql.types import (
    DEFAULT_BUFFER,
    DEFAULT_DURATION,
    DEFAULT_HORIZON,
    DEFAULT_NOTICE,
    AvailabilityInput,
    AvailabilityType,
    RequestTourInput,
    TimeSlot,
    Tour,
)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


@strawberry.type
class Query:
    @strawberry.field(description="A tour (its participants only).")
    async def tour(self, info: Info[Context, None], id: strawberry.ID) -> Tour | None:
        who = await context(info).user()
        return Tour.of(await services(info).scheduling.tour_for(who, parse_id(id, "id")))

    @strawberry.field(description="Free slots of the listing's realtor between `from` and `to`.")
    async def available_slots(
        self,
        info: Info[Context, None],
        listing_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Earliest start.")],
        to: Annotated[datetime, strawberry.argument(description="Latest start (exclusive).")],
        duration_minutes: int | None = None,
    ) -> list[TimeSlot]:
        slots = await services(info).scheduling.available_slots(
            parse_id(listing_id, "listingId"), from_, to, duration_minutes or DEFAULT_DURATION
        )
        return [TimeSlot(starts_at=s, ends_at=e) for s, e in slots]

    @strawberry.field(description="The caller's availability (REALTOR); null until set.")
    async def my_availability(self, info: Info[Context, None]) -> AvailabilityType | None:
        who = await context(info).user()
        value = await services(info).scheduling.my_availability(who)
        return AvailabilityType.of(value) if value else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Publish the caller's working hours and booking rules.")
    async def set_availability(
        self, info: Info[Context, None], input: AvailabilityInput
    ) -> AvailabilityType:
        who = await context(info).user()
        with inside("input"):
            value = await services(info).scheduling.set_availability(
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
        who = await context(info).user()
        with inside("input"):
            tour = await services(info).scheduling.request_tour(
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
        who = await context(info).user()
        return Tour.of(await services(info).scheduling.confirm(who, parse_id(id, "id")))

    @strawberry.mutation(description="Decline a requested tour with a reason (its realtor).")
    async def decline_tour(self, info: Info[Context, None], id: strawberry.ID, reason: str) -> Tour:
        who = await context(info).user()
        return Tour.of(await services(info).scheduling.decline(who, parse_id(id, "id"), reason))

    @strawberry.mutation(
        description="Move a tour (a participant); a buyer's move needs confirming."
    )
    async def reschedule_tour(
        self, info: Info[Context, None], id: strawberry.ID, starts_at: datetime
    ) -> Tour:
        who = await context(info).user()
        return Tour.of(
            await services(info).scheduling.reschedule(who, parse_id(id, "id"), starts_at)
        )

    @strawberry.mutation(description="Cancel a requested or scheduled tour (a participant).")
    async def cancel_tour(self, info: Info[Context, None], id: strawberry.ID, reason: str) -> Tour:
        who = await context(info).user()
        return Tour.of(await services(info).scheduling.cancel(who, parse_id(id, "id"), reason))

    @strawberry.mutation(description="Start a scheduled tour (its realtor).")
    async def start_tour(self, info: Info[Context, None], id: strawberry.ID) -> Tour:
        who = await context(info).user()
        return Tour.of(await services(info).scheduling.start(who, parse_id(id, "id")))

    @strawberry.mutation(description="Complete a tour in progress (its realtor).")
    async def complete_tour(self, info: Info[Context, None], id: strawberry.ID) -> Tour:
        who = await context(info).user()
        return Tour.of(await services(info).scheduling.complete(who, parse_id(id, "id")))

    @strawberry.mutation(
        description="Replace the caller's calendar feed URL (revokes the old one)."
    )
    async def reset_calendar_feed(self, info: Info[Context, None]) -> str:
        who = await context(info).user()
        return await services(info).scheduling.reset_calendar_feed(who)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every change of one tour (its participants only).")
    async def tour_status_changed(
        self, info: Info[Context, None], tour_id: strawberry.ID
    ) -> AsyncGenerator[Tour, None]:
        who = await context(info).user()
        found = services(info)
        tour_uuid = parse_id(tour_id, "tourId")
        with found.live.listen(tour_id=tour_uuid) as listener:
            await found.scheduling.tour_for(who, tour_uuid)
            async for tour in listener:
                yield Tour.of(tour)

    @strawberry.subscription(description="Every change to any of the caller's tours.")
    async def my_tour_updates(self, info: Info[Context, None]) -> AsyncGenerator[Tour, None]:
        who = await context(info).user()
        with services(info).live.listen(user_id=who.user_id) as listener:
            async for tour in listener:
                yield Tour.of(tour)
