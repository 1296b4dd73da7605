"""The reading use cases: what a caller may see is decided (by the domain's rules) before
the queries read it. Reads never write."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from servicekit.vocabulary import NotFound, Principal, Role

from scheduling.availability import Availability, Range
from scheduling.domain import (
    Tour,
    TourStatus,
    accepts_tours,
    check_aware,
    check_duration,
    may_see_calendar_feed,
    require_listing_realtor,
    require_own_clients,
    require_self,
)
from scheduling.feeds import MAX_TOKEN_LENGTH, fingerprint
from scheduling.queries import Client
from scheduling.service.base import UseCases

# How far back a calendar feed reaches.
FEED_HISTORY = timedelta(days=180)


class Reads(UseCases):
    # -- availability ----------------------------------------------------------------------
    async def my_availability(self, who: Principal) -> Availability | None:
        who.require_role(Role.REALTOR)
        return await self.queries.availability_of(who.user_id)

    async def available_slots(
        self, listing_id: uuid.UUID, start: datetime, end: datetime, duration_minutes: int
    ) -> list[Range]:
        """The free slots of the listing's realtor in [start, end)."""
        length = check_duration(duration_minutes)
        check_aware(start, "from")
        check_aware(end, "to")
        listing = await self.directory.listings.get(listing_id)
        if not accepts_tours(listing.status):
            return []
        rules = await self.queries.availability_of(listing.realtor_id)
        if rules is None:
            return []
        busy = await self.queries.busy_ranges(
            listing.realtor_id, start - timedelta(days=1), end + timedelta(days=1)
        )
        return rules.free_slots(
            start=start,
            end=end,
            duration=length,
            now=self.clock(),
            busy=busy,
            step=self.policy.slot_step,
        )

    # -- reading ---------------------------------------------------------------------------
    async def tour_for(self, who: Principal, tour_id: uuid.UUID) -> Tour:
        """The tour, for one of its participants (or an admin)."""
        tour = await self.queries.by_id(tour_id)
        if tour is None:
            raise NotFound("tour not found", field="id")
        tour.require_visible_to(who)
        return tour

    async def visible_tours(
        self, who: Principal | None, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Tour]:
        """Those of the tours the caller may see (entity references: the others are null)."""
        if who is None:
            return {}
        found = await self.queries.by_ids(ids)
        return {tour_id: tour for tour_id, tour in found.items() if tour.visible_to(who)}

    async def upcoming_tours(
        self, who: Principal, user_id: uuid.UUID, limit: int, after: list[object] | None
    ) -> list[Tour]:
        require_self(who, user_id)
        return await self.queries.upcoming(user_id, self.clock(), limit, after)

    async def past_tours(
        self, who: Principal, user_id: uuid.UUID, limit: int, after: list[object] | None
    ) -> list[Tour]:
        require_self(who, user_id)
        return await self.queries.past(user_id, self.clock(), limit, after)

    async def clients(
        self, who: Principal, realtor_id: uuid.UUID, limit: int, after: list[object] | None
    ) -> list[Client]:
        require_own_clients(who, realtor_id)
        return await self.queries.clients(realtor_id, limit, after)

    async def tours_of_listing(
        self,
        who: Principal,
        listing_id: uuid.UUID,
        status: TourStatus | None,
        limit: int,
        after: list[object] | None,
    ) -> list[Tour]:
        if not who.is_admin:
            listing = await self.directory.listings.get(listing_id)
            require_listing_realtor(who, listing.realtor_id)
        return await self.queries.of_listing(listing_id, status, limit, after)

    # -- calendar feeds ----------------------------------------------------------------------
    async def calendar_feed_url(self, who: Principal | None, user_id: uuid.UUID) -> str | None:
        """The user's secret feed URL, for the user only; reading it writes nothing."""
        if not may_see_calendar_feed(who, user_id):
            return None
        return self.feeds.url(user_id, await self.queries.feed_nonce(user_id))

    async def calendar_of(self, token: str) -> list[Tour] | None:
        """The tours of the feed's owner (declined requests never happened); None: no such feed."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        owner = self.feeds.claimed_owner(token)
        if owner is not None:
            if not self.feeds.matches(token, owner, await self.queries.feed_nonce(owner)):
                return None
        else:
            owner = await self.queries.feed_owner_by_hash(fingerprint(token))
            if owner is None:
                return None
        return await self.queries.for_calendar(owner, self.clock() - FEED_HISTORY)
