# mypy: disable-error-code="untyped-decorator"
"""Analytics' federation subgraph: `trackEvent` (the frontends' way in), `User.dashboard`,
`Listing.stats` and `platformStats`.

Thin by design: resolvers parse arguments, call the use cases and map the read models to the
types below; the tracking plan's checks and who may see which figures are the domain's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from servicekit.graphql import Context, SubgraphSchema
from servicekit.vocabulary import parse_id
from strawberry.scalars import JSON
from strawberry.types import Info

from analytics.domain import TrackEvent
from analytics.graphql.context import Services, services
from analytics.graphql.stats import Listing, PlatformStats, User


def _address(info: Info[Context, None]) -> str | None:
    request = info.context.request
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",", 1)[0].strip() or None
    return request.client.host if request.client else None


@strawberry.input(description="One event of the tracking plan, sent by a web or app client.")
class TrackEventInput:
    name: str = strawberry.field(
        description="The event's name in the tracking plan (Property View, Tour Booking, "
        "Tour Completion, Feedback, User Registration)."
    )
    properties: JSON | None = strawberry.field(
        default=None,
        description="The event's properties, each of the type the plan gives it.",
    )
    listing_id: strawberry.ID | None = strawberry.field(
        default=None, description="The listing the event is about (required for listing events)."
    )
    anonymous_id: str | None = strawberry.field(
        default=None,
        description="The visitor's id before sign-in; sent while signed in, it joins the "
        "visitor's earlier events to the user.",
    )
    occurred_at: datetime | None = strawberry.field(
        default=None, description="When it happened on the client (at most 7 days ago)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="The client's own id for this event: a retry with the same key records "
        "nothing new.",
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The funnel across the platform, active realtors and buyers, tours per "
        "day and video minutes, for [from, to) (ADMIN)."
    )
    async def platform_stats(
        self,
        info: Info[Context, None],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> PlatformStats:
        who = await info.context.user()
        return PlatformStats.of(await services(info).reports.platform(who, from_, to))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Record an event of the tracking plan, signed in or anonymous (with "
        "anonymousId). True when recorded; false when it repeats one already recorded (same "
        "idempotencyKey) or is a Property View of the same listing by the same visitor within 30 minutes."
    )
    async def track_event(self, info: Info[Context, None], input: TrackEventInput) -> bool:
        who = await info.context.principal()
        command = TrackEvent(
            name=input.name,
            properties=input.properties,
            listing_id=None
            if input.listing_id is None
            else parse_id(input.listing_id, "input.listingId"),
            anonymous_id=input.anonymous_id,
            occurred_at=input.occurred_at,
            idempotency_key=input.idempotency_key,
        )
        return await services(info).analytics.track(who, command, address=_address(info))


__all__ = ["Services", "build_schema"]


def build_schema() -> SubgraphSchema:
    return SubgraphSchema(query=Query, mutation=Mutation, types=[User, Listing])
