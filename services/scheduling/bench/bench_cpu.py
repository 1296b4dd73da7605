"""CPU per request of scheduling's hot paths, in-process: a buyer's `upcomingTours`
(as the gateway asks for it, under the User entity) and a listing's `availableSlots` over
a working week, for a listing no event told scheduling of (asked of listings over gRPC)
and for one known from listings' events (read with the realtor's rules in one statement);
and a booking (`requestTour` with an idempotency key, each one a new half hour of another
realtor's calendar: the listing asked of listings, the transaction, the outbox row).

The app is the subgraph the production process serves (probes, middleware, real
PostgreSQL, the cyclic collector tuned as the process tunes it; listings and identity are
the tests' stand-ins over mutual TLS), driven one
request at a time over ASGI, so the figure is CPU per request, not a throughput that
depends on what else runs on the machine. Also prints where that CPU goes by package
(cProfile own time). Run with `make bench`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduling.domain import ListingStatus
from scheduling.graphql import build_schema
from servicekit.auth import Role
from servicekit.db import UnitOfWork
from servicekit.graphql import SubgraphApp
from servicekit.http import service_app
from servicekit.testing.cpu import (
    collected_as_served,
    cpu_per_request,
    profile_line,
    where_cpu_goes,
)
from sqlalchemy import text
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp

TUESDAY_10AM = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # 10:00 in New York
TOURS = 12
UPCOMING = """query($reps: [_Any!]!, $first: Int) { _entities(representations: $reps) {
  ... on User { id upcomingTours(first: $first) { edges { cursor node { id status startsAt
  endsAt listing { id } realtor { id } buyer { id } } }
  pageInfo { hasNextPage endCursor } } } } }"""
REQUEST = """mutation($i: RequestTourInput!) { requestTour(input: $i) { id status } }"""
# The booking realtor's first bookable half hour, a week after the stack's clock (Monday
# 2027-01-04 12:00 UTC): 09:00 in New York on Monday 2027-01-11.
FIRST_FREE = datetime(2027, 1, 11, 14, 0, tzinfo=UTC)
SLOTS = """query($l: ID!, $f: DateTime!, $t: DateTime!) {
  availableSlots(listingId: $l, from: $f, to: $t, durationMinutes: 30) { startsAt endsAt } }"""


def free_half_hours() -> Iterator[datetime]:
    """Weekday half hours from 09:00 to 17:00 in New York (14:00–22:00 UTC in winter), from
    `FIRST_FREE` on: within the realtor's hours and 60-day horizon for ~590 bookings."""
    for day in itertools.count():
        date = FIRST_FREE + timedelta(days=day)
        if date.weekday() < 5:
            for half in range(16):
                yield date + timedelta(minutes=30 * half)


def bookings(listing: uuid.UUID) -> Callable[[int], dict[str, Any]]:
    """A new booking per call, whatever `i` (the warm-ups and the profile take their own)."""
    starts = free_half_hours()
    return lambda i: {
        "query": REQUEST,
        "variables": {
            "i": {
                "listingId": str(listing),
                "startsAt": next(starts).isoformat(),
                "durationMinutes": 30,
                "idempotencyKey": uuid.uuid4().hex,
            }
        },
    }


def app_of(stack: Any) -> ASGIApp:
    """Scheduling's HTTP app as `runtime()` assembles it (subgraph, WebSocket route, probes)."""
    parts = stack.parts
    graphql = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    return service_app(graphql=graphql, checks={}, routes=[WebSocketRoute("/graphql", graphql)])


async def bench_cpu_per_request(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours(buffer=0)
    buyer = stack.peers.person(Role.BUYER)
    for n in range(TOURS):  # Tuesday to Friday, at 10:00, 11:00 and 12:00
        starts = TUESDAY_10AM + timedelta(days=n // 3, hours=n % 3)
        answer = await stack.request(buyer, listing, starts)
        assert not answer.get("errors"), answer
    known = stack.peers.listing(realtor)  # the same realtor's, as listings announced it
    await stack.parts.scheduling.listing_written(
        UnitOfWork(stack.db),
        known,
        realtor_id=realtor.id,
        status=ListingStatus.ACTIVE,
        time_zone="America/New_York",
        at=datetime.now(UTC),
    )
    asked = stack.peers.listings.calls
    app = app_of(stack)
    headers = stack.issuer.headers(buyer.id, Role.BUYER)

    def slots_of(listing_id: Any) -> Any:
        return lambda i: {
            "query": SLOTS,
            "variables": {
                "l": str(listing_id),
                "f": TUESDAY_10AM.isoformat(),
                "t": (TUESDAY_10AM + timedelta(days=5)).isoformat(),
            },
        }

    cases = {
        "upcomingTours first 10": lambda i: {
            "query": UPCOMING,
            "variables": {"reps": [{"__typename": "User", "id": str(buyer.id)}], "first": 10},
        },
        "availableSlots 5 days": slots_of(listing),
        "availableSlots, known listing": slots_of(known),
    }
    print("\nscheduling, CPU per request (shared machine: compare CPU ms, not wall time)")
    with collected_as_served(stack.parts.infra.settings.gc_young_threshold):
        for name, body in cases.items():
            figures = await cpu_per_request(app, body, headers=headers)
            print(figures.line(name))
            print("    where: " + profile_line(await where_cpu_goes(app, body, headers=headers)))
            if name == "availableSlots 5 days":
                asked = stack.peers.listings.calls
        assert stack.peers.listings.calls == asked, "the known listing was asked of listings"
        _, booked = await stack.open_for_tours(buffer=0)
        book = bookings(booked)
        figures = await cpu_per_request(app, book, count=200, warmup=20, headers=headers)
        print(figures.line("requestTour"))
        where = await where_cpu_goes(app, book, count=100, headers=headers)
        print("    where: " + profile_line(where))
    async with stack.db.session() as session:
        made = await session.scalar(
            text("SELECT count(*) FROM tours WHERE listing_id = :l"), {"l": booked}
        )
    assert made == 20 + 200 + 20 + 100, f"{made} bookings accepted of 340"
