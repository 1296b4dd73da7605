"""The reading use cases: what a caller may see is decided (by the domain's rules) before
the queries read it. Reads never write."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from servicekit.vocabulary import NotFound, Principal, Role, ServiceError

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
from scheduling.queries import Client, PageOf, position
from scheduling.service.base import UseCases

# How far back a calendar feed reaches.
FEED_HISTORY = timedelta(days=180)

R = TypeVar("R")
# One request's answer among several: its page (`limit + 1` rows at most), or the error that
# request alone gets (FORBIDDEN, NOT_FOUND, a bad cursor), so one refusal fails no other.
Answer = list[R] | ServiceError


@dataclass(frozen=True, slots=True)
class ListPage:
    """What a caller asks of one list under an entity: whose (a user, a realtor, a listing),
    how many rows, after which decoded cursor, of which status (a listing's tours)."""

    owner: uuid.UUID
    limit: int
    after: Sequence[object] | None = None
    status: TourStatus | None = None


async def _answer_each(
    wanted: Sequence[ListPage],
    check: Callable[[ListPage], None],
    read: Callable[[list[PageOf]], Awaitable[list[list[R]]]],
) -> list[Answer[R]]:
    """Every request answered in order, by one `read` of those that pass: the domain's rule
    first (`check`), then the cursor, each failing its own request only."""
    answers: list[Answer[R] | None] = []
    allowed: list[PageOf] = []
    for w in wanted:
        try:
            check(w)
            allowed.append(PageOf(w.owner, w.limit, position(w.after), w.status))
            answers.append(None)
        except ServiceError as refused:
            answers.append(refused)
    pages = iter(await read(allowed) if allowed else [])
    return [next(pages) if answer is None else answer for answer in answers]


class Reads(UseCases):
    # -- availability ----------------------------------------------------------------------
    async def my_availability(self, who: Principal) -> Availability | None:
        who.require_role(Role.REALTOR)
        return await self.queries.availability_of(who.user_id)

    async def available_slots(
        self, listing_id: uuid.UUID, start: datetime, end: datetime, duration_minutes: int
    ) -> list[Range]:
        """The free slots of the listing's realtor in [start, end).

        A listing known from listings' events is read here with its realtor's rules in one
        statement; only one no event told of yet is asked of listings."""
        length = check_duration(duration_minutes)
        check_aware(start, "from")
        check_aware(end, "to")
        around = (start - timedelta(days=1), end + timedelta(days=1))
        known = await self.queries.slot_rules(listing_id, *around)
        if known is not None:
            if known.status is None:
                raise NotFound("listing not found", field="listingId")
            if not accepts_tours(known.status):
                return []
            rules, busy = known.availability, known.busy
        else:
            listing = await self.directory.listings.get(listing_id)
            if not accepts_tours(listing.status):
                return []
            rules, busy = await self.queries.booking_rules(listing.realtor_id, *around)
        if rules is None:
            return []
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

    # -- the lists under an entity: many owners' pages in one read -------------------------
    async def upcoming_tours(
        self, who: Principal, wanted: Sequence[ListPage]
    ) -> list[Answer[Tour]]:
        """Users' live tours not over yet, soonest first: each user's for the user or an admin."""
        now = self.clock()
        return await _answer_each(
            wanted, lambda w: require_self(who, w.owner), lambda ok: self.queries.upcoming(ok, now)
        )

    async def past_tours(self, who: Principal, wanted: Sequence[ListPage]) -> list[Answer[Tour]]:
        """Users' past and ended tours, most recent first: each user's for the user or an admin."""
        now = self.clock()
        return await _answer_each(
            wanted, lambda w: require_self(who, w.owner), lambda ok: self.queries.past(ok, now)
        )

    async def clients(self, who: Principal, wanted: Sequence[ListPage]) -> list[Answer[Client]]:
        """Realtors' clients, latest first: each realtor's for that realtor or an admin."""
        return await _answer_each(
            wanted, lambda w: require_own_clients(who, w.owner), self.queries.clients
        )

    async def tours_of_listings(
        self, who: Principal, wanted: Sequence[ListPage]
    ) -> list[Answer[Tour]]:
        """Listings' tours by start time: each listing's for its realtor or an admin. Who the
        realtors are is one question to listings for all of them (none for an admin)."""
        realtors: dict[uuid.UUID, uuid.UUID] = {}
        if not who.is_admin:
            found = await self.directory.listings.many(w.owner for w in wanted)
            realtors = {listing_id: info.realtor_id for listing_id, info in found.items()}

        def check(w: ListPage) -> None:
            if who.is_admin:
                return
            if w.owner not in realtors:
                raise NotFound("listing not found", field="listingId")
            require_listing_realtor(who, realtors[w.owner])

        return await _answer_each(wanted, check, self.queries.of_listings)

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
