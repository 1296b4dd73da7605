"""`make load`: an open-loop load of the frontends' real mix through the gateway.

Requests are sent at a constant arrival rate whatever the answers do (open loop), so a
slow stack shows up as latency and errors instead of quietly lowering the rate, as a
closed loop of N clients would. Against a running stack (`make dev`, or LOAD_URL):

  setup   a realtor with an open calendar and a listing, buyers, one confirmed tour
  mix     browse/search, listing pages (realtor joined from identity), the realtor's
          dashboard, upcoming tours, available slots, booking (requestTour), joining
          the confirmed tour's video call (joinTour)

For each offered rate (LOAD_RATES, requests/s; LOAD_SECONDS each) it prints per operation
the p50/p95/p99 latency and the errors, and at the end the highest rate that held the SLO:
p95 < 200 ms and < 1% errors over the whole mix. A CONFLICT (the slot was taken) is a
correct answer of booking, counted apart, not as an error. Figures depend on the machine.

Anonymous visitors (search, listing pages) come from LOAD_VISITORS distinct addresses,
sent as `X-Forwarded-For` as the load balancer in front of the gateway sends them (the
gateway trusts it from 127.0.0.1), so the per-client rate limit applies per visitor, as
in production, and not to the whole load as if one visitor sent it; signed-in callers are
limited per user. The generator is aiohttp on uvloop, the bodies encoded with orjson: it
runs on the same cores as the stack, so the cheaper it is, the truer the capacity.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import uvloop

URL = os.environ.get("LOAD_URL", "http://127.0.0.1:4000/graphql")
RATES = [float(r) for r in os.environ.get("LOAD_RATES", "25,50,100,200,400").split(",")]
SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
BUYERS = int(os.environ.get("LOAD_BUYERS", "20"))
MAX_IN_FLIGHT = int(os.environ.get("LOAD_MAX_IN_FLIGHT", "2000"))
VISITORS = int(os.environ.get("LOAD_VISITORS", "1000"))
TIMEOUT = float(os.environ.get("LOAD_TIMEOUT_SECONDS", "10"))
SLO_P95_MS, SLO_ERRORS = 200.0, 0.01
TIME_ZONE = "America/New_York"
WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

SEARCH = """query($f: ListingFilter, $first: Int) { listings(filter: $f, first: $first) {
  edges { cursor node { id slug title price { amount currency } bedrooms bathrooms
  address { city state } realtor { id displayName } } } pageInfo { hasNextPage endCursor } } }"""
LISTING = """query($id: ID!) { listing(id: $id) { id slug title description status propertyType
  bedrooms bathrooms livingAreaSqft timeZone price { amount currency }
  address { street city state postalCode } location { lat lng }
  realtor { id displayName avatarUrl } } }"""
DASHBOARD = """query($from: DateTime!, $to: DateTime!) { me { id dashboard(from: $from, to: $to) {
  timeZone current { funnel { name count } } previous { funnel { name count } } } } }"""
UPCOMING = """{ me { id upcomingTours(first: 10) { edges { node { id status startsAt endsAt
  listing { id title } realtor { id displayName } } } } } }"""
SLOTS = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  availableSlots(listingId: $id, from: $from, to: $to, durationMinutes: 30) { startsAt } }"""
BOOK = """mutation($input: RequestTourInput!) { requestTour(input: $input) { id status } }"""
JOIN = """mutation($t: ID!) { joinTour(tourId: $t) { meeting attendee } }"""


@dataclass
class World:
    """What the mix needs, made by `setup` through the public API."""

    realtor: str
    buyers: list[str]
    own_listing: str
    listing_ids: list[str]
    cities: list[str]
    slots: list[str]
    tour_id: str
    buyer_of_tour: str


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_JSON = {"Content-Type": "application/json"}


async def call(
    client: aiohttp.ClientSession,
    query: str,
    token: str | None = None,
    *,
    visitor: str | None = None,
    **variables: Any,
) -> dict[str, Any]:
    """One operation as a signed-in caller (`token`) or an anonymous `visitor` address."""
    headers = dict(_JSON)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if visitor:
        headers["X-Forwarded-For"] = visitor
    payload = orjson.dumps({"query": query, "variables": variables})
    async with client.post(URL, data=payload, headers=headers) as response:
        if response.status != 200:
            raise Refused(f"HTTP {response.status}")
        body: dict[str, Any] = orjson.loads(await response.read())
    if body.get("errors"):
        raise Refused(str(body["errors"][0].get("extensions", {}).get("code", "ERROR")))
    data: dict[str, Any] = body["data"]
    return data


async def register(client: aiohttp.ClientSession, role: str, name: str) -> str:
    data = await call(
        client,
        "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
        i={
            "email": f"load.{name.lower()}.{uuid.uuid4().hex[:8]}@example.com",
            "password": f"Load-{uuid.uuid4().hex[:12]}-Harbor!",
            "displayName": name,
            "role": role,
            "timeZone": "America/New_York",
        },
    )
    token: str = data["register"]["accessToken"]
    return token


def _open_all_day(now: datetime) -> list[dict[str, str]]:
    """The realtor's week, open all day, each day's slots stepping from a couple of
    minutes from now (slots step from a range's start): the soonest tour's call is inside
    its join window (from 10 minutes before its start) at any time of day, as it would not
    be with slots on the half hour. One range from then to midnight, one from midnight."""
    local = (now + timedelta(minutes=2)).astimezone(ZoneInfo(TIME_ZONE))
    start = f"{local.hour:02d}:{local.minute:02d}"
    ranges = [(start, "23:59")] if start == "00:00" else [("00:00", start), (start, "23:59")]
    return [{"weekday": d, "start": a, "end": b} for d in WEEK for a, b in ranges]


async def setup(client: aiohttp.ClientSession) -> World:
    realtor = await register(client, "REALTOR", "Rita")
    buyers = [await register(client, "BUYER", f"Buyer{i}") for i in range(BUYERS)]
    await call(
        client,
        "mutation($i: AvailabilityInput!) { setAvailability(input: $i) { timeZone } }",
        realtor,
        i={
            "timeZone": TIME_ZONE,
            "weeklyHours": _open_all_day(datetime.now(UTC)),
            "minimumNoticeMinutes": 0,  # the first slot is soon: its call can be joined
            "bufferMinutes": 0,
            "maxDaysAhead": 60,
        },
    )
    created = await call(
        client,
        "mutation($i: CreateListingInput!) { createListing(input: $i) { id } }",
        realtor,
        i={
            "title": "Load test cottage by the harbor",
            "description": "Shingled cottage above the harbor, wood stove, deep garden.",
            "price": {"amount": 64_500_000, "currency": "USD"},
            "propertyType": "RESIDENTIAL",
            "bedrooms": 3,
            "bathrooms": 2.0,
            "livingAreaSqft": 1650,
            "address": {
                "street": "12 Harbor View Rd",
                "city": "Portland",
                "state": "ME",
                "postalCode": "04101",
                "country": "US",
            },
            "status": "ACTIVE",
        },
    )
    own = created["createListing"]["id"]
    found = await call(client, SEARCH, f={}, first=50)
    edges = found["listings"]["edges"]
    ids = [e["node"]["id"] for e in edges] or [own]
    cities = sorted({e["node"]["address"]["city"] for e in edges}) or ["Portland"]
    now = datetime.now(UTC)
    slots = await call(
        client,
        SLOTS,
        buyers[0],
        id=own,
        **{"from": now.isoformat(), "to": (now + timedelta(days=59)).isoformat()},
    )
    starts = [s["startsAt"] for s in slots["availableSlots"]]
    tour_id = await _book_soonest(client, buyers[0], own, starts)
    await call(client, "mutation($id: ID!) { confirmTour(id: $id) { id } }", realtor, id=tour_id)
    await _until_joinable(client, buyers[0], tour_id)
    return World(realtor, buyers, own, ids, cities, starts, tour_id, buyers[0])


async def _until_joinable(client: aiohttp.ClientSession, buyer: str, tour_id: str) -> None:
    """Media hears of the confirmed tour through events; the mix starts once it has."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await call(client, JOIN, buyer, t=tour_id)
            return
        except Refused:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _book_soonest(
    client: aiohttp.ClientSession, buyer: str, listing_id: str, starts: list[str]
) -> str:
    """A tour in the soonest slot that can still be booked (the first may be passing)."""
    for _ in range(10):
        try:
            booked = await call(client, BOOK, buyer, input=_booking(listing_id, starts.pop(0)))
        except Refused as refused:
            if refused.code != "CONFLICT" and refused.code != "BAD_USER_INPUT":
                raise
            continue
        tour_id: str = booked["requestTour"]["id"]
        return tour_id
    raise Refused("NO_SLOT")


def _booking(listing_id: str, starts_at: str) -> dict[str, Any]:
    return {
        "listingId": listing_id,
        "startsAt": starts_at,
        "durationMinutes": 30,
        "idempotencyKey": uuid.uuid4().hex,
    }


Operation = Callable[[aiohttp.ClientSession, World, random.Random], Awaitable[Any]]


def _visitor(rng: random.Random) -> str:
    """One of the anonymous visitors' addresses (10.0.0.0/8)."""
    n = rng.randrange(VISITORS)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(days=30)).isoformat(), "to": now.isoformat()}


MIX: list[tuple[str, float, Operation]] = [
    (
        "search",
        30,
        lambda c, w, r: call(
            c, SEARCH, visitor=_visitor(r), f={"city": r.choice(w.cities)}, first=20
        ),
    ),
    (
        "listing page",
        30,
        lambda c, w, r: call(c, LISTING, visitor=_visitor(r), id=r.choice(w.listing_ids)),
    ),
    ("dashboard", 8, lambda c, w, r: call(c, DASHBOARD, w.realtor, **_window())),
    ("upcoming tours", 14, lambda c, w, r: call(c, UPCOMING, r.choice(w.buyers))),
    (
        "available slots",
        10,
        lambda c, w, r: call(
            c,
            SLOTS,
            r.choice(w.buyers),
            id=w.own_listing,
            **{
                "from": datetime.now(UTC).isoformat(),
                "to": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            },
        ),
    ),
    (
        "booking",
        5,
        lambda c, w, r: call(
            c, BOOK, r.choice(w.buyers), input=_booking(w.own_listing, r.choice(w.slots))
        ),
    ),
    ("joining", 3, lambda c, w, r: call(c, JOIN, w.buyer_of_tour, t=w.tour_id)),
]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    conflicts: int = 0
    codes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def offer(client: aiohttp.ClientSession, world: World, rate: float) -> dict[str, Tally]:
    """Send `rate` requests/s for SECONDS at constant intervals; wait for the stragglers."""
    rng = random.Random(int(rate))
    names = [name for name, _, _ in MIX]
    weights = [weight for _, weight, _ in MIX]
    ops = {name: op for name, _, op in MIX}
    tallies: dict[str, Tally] = {name: Tally() for name in names}
    in_flight: set[asyncio.Task[None]] = set()

    async def one(name: str) -> None:
        tally = tallies[name]
        started = time.perf_counter()
        try:
            await ops[name](client, world, rng)
        except Refused as refused:
            if refused.code == "CONFLICT":
                tally.conflicts += 1
            else:
                tally.errors += 1
                tally.codes[refused.code] += 1
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            tally.errors += 1
            tally.codes[type(exc).__name__] += 1
        tally.latencies.append(time.perf_counter() - started)

    loop = asyncio.get_running_loop()
    began = loop.time()
    total = int(rate * SECONDS)
    for i in range(total):
        delay = began + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        name = rng.choices(names, weights)[0]
        if len(in_flight) >= MAX_IN_FLIGHT:  # the generator's own bound: counted as failed
            tallies[name].errors += 1
            tallies[name].codes["NOT_SENT"] += 1
            continue
        task = asyncio.create_task(one(name))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    return tallies


def report(rate: float, tallies: dict[str, Tally]) -> tuple[float, float]:
    print(f"\noffered {rate:.0f} requests/s for {SECONDS:.0f} s")
    print(f"  {'operation':<16} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    everything: list[float] = []
    errors = sent = 0
    for name, tally in tallies.items():
        n = len(tally.latencies) + tally.codes.get("NOT_SENT", 0)
        everything += tally.latencies
        errors += tally.errors
        sent += n
        ms = [x * 1000 for x in tally.latencies]
        extra = f"  conflicts {tally.conflicts}" if tally.conflicts else ""
        codes = f"  {dict(tally.codes)}" if tally.codes else ""
        print(
            f"  {name:<16} {n:>6} {percentile(ms, 0.5):8.1f} {percentile(ms, 0.95):8.1f}"
            f" {percentile(ms, 0.99):8.1f} {tally.errors:>7}{extra}{codes}"
        )
    p95 = percentile([x * 1000 for x in everything], 0.95)
    share = errors / sent if sent else 1.0
    print(f"  {'all':<16} {sent:>6} {'':>8} {p95:8.1f} {'':>8} {share:7.1%}")
    return p95, share


async def main() -> int:
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        try:
            world = await setup(client)
        except (aiohttp.ClientError, TimeoutError) as exc:
            print(f"cannot reach {URL} ({exc!r}): is `make dev` running?")
            return 1
        except Refused as refused:
            print(f"cannot prepare the load against {URL}: answered {refused.code}")
            return 1
        print(f"load through {URL}: {len(world.listing_ids)} listings, {len(world.buyers)} buyers")
        held: float | None = None
        for rate in RATES:
            p95, share = report(rate, await offer(client, world, rate))
            if p95 < SLO_P95_MS and share < SLO_ERRORS:
                held = rate
            else:
                print(f"  SLO broken at {rate:.0f}/s (p95 < {SLO_P95_MS:.0f} ms, < 1% errors)")
                break
    if held is None:
        print("\ncapacity: the SLO did not hold at the lowest rate offered")
    else:
        print(
            f"\ncapacity: {held:.0f} requests/s of this mix held the SLO (highest rate offered that did)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
