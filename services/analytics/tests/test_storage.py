"""Storage that stays fast: the rollups the dashboards read (per listing, per realtor and
day, the platform's days and active users) equal a recount from the raw events whatever the
order, repetition, batching and timing of the stream (property-based); raw events live in
monthly partitions made ahead of time, and months past the retention are dropped while the
rollups keep counting them."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from analytics.domain import (
    BUYING,
    NOBODY,
    TOUR_STEPS,
    VIDEO_SECONDS,
    Incoming,
    ListingFacts,
    PersonFacts,
    Recorded,
)
from analytics.store import link_identity
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from realty.scheduling.v1 import scheduling_pb2
from servicekit.auth import Role

BASE = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)
ZONES = ("America/New_York", "Asia/Tokyo", "UTC", "Pacific/Chatham")
STEPS = ("Tour Requested", "Tour Scheduled", "Tour Started", "Tour Completed", "Tour Cancelled",
         "Tour Declined", "Tour No Show")  # fmt: skip

DASHBOARD = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  _entities(representations: [{__typename: "User", id: $id}]) {
    ... on User { dashboard(from: $from, to: $to) { current { funnel { name count conversion } } } }
  } }"""


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


# One thing the stream tells: (kind, which realtor/listing/tour, minute, variant).
happening = st.tuples(
    st.sampled_from(
        ("view", "step", "step", "earlier", "replay", "zone", "listing", "signin", "call")
    ),
    st.integers(0, 2),
    st.integers(0, 6 * 24 * 60),
    st.integers(0, 6),
)


async def _receive(stack: Any, batch: list[Incoming]) -> None:
    """One fetched batch, as the consumers hand it over: in one transaction."""
    if not batch:
        return
    async with stack.db.uow() as uow:
        await stack.parts.analytics.receive_all(uow, batch)
        await uow.commit()


def _platform(raw: list[Any]) -> tuple[Counter[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The platform's days and active users, counted from the raw events alone: views and
    each tour's first event of a step on their UTC day, the meetings' seconds; realtors
    credited and signed-in buyers (not on their own listing) on the days of their events."""
    counts: Counter[tuple[Any, ...]] = Counter()
    first: dict[tuple[uuid.UUID, str], Any] = {}
    actives: set[tuple[Any, ...]] = set()
    for e in raw:
        day = e.occurred_at.astimezone(UTC).date()
        if e.realtor_id is not None:
            actives.add((day, "realtor", e.realtor_id))
        if e.user_id is not None and e.name in BUYING and e.user_id != e.realtor_id:
            actives.add((day, "buyer", e.user_id))
        if e.name == "Property View":
            counts[(day, e.name, "")] += 1
        elif e.name == "Video Call End":
            counts[(day, VIDEO_SECONDS, "")] += e.properties["durationSeconds"]
        elif e.name in TOUR_STEPS:
            key = (e.tour_id, e.name)
            if key not in first or e.occurred_at < first[key].occurred_at:
                first[key] = e
    for e in first.values():
        day = e.occurred_at.astimezone(UTC).date()
        counts[(day, e.name, (e.properties or {}).get("reason") or "")] += 1
    return counts, actives


def _recount(raw: list[Any], zones: dict[uuid.UUID, str]) -> Counter[tuple[Any, ...]]:
    """The rollups, counted from the raw events alone: views one each, a tour's step once on
    the local day of its earliest event, in the realtor's zone."""
    counts: Counter[tuple[Any, ...]] = Counter()
    first: dict[tuple[uuid.UUID, str], Any] = {}
    for e in raw:
        if e.name == "Property View":
            realtor = e.realtor_id or NOBODY
            day = e.occurred_at.astimezone(ZoneInfo(zones.get(realtor, "UTC"))).date()
            counts[(realtor, day, e.listing_id, e.name, "")] += 1
        elif e.name in TOUR_STEPS:
            key = (e.tour_id, e.name)
            if key not in first or e.occurred_at < first[key].occurred_at:
                first[key] = e
    for e in first.values():
        day = e.occurred_at.astimezone(ZoneInfo(zones.get(e.realtor_id, "UTC"))).date()
        reason = (e.properties or {}).get("reason") or ""
        counts[(e.realtor_id, day, e.listing_id, e.name, reason)] += 1
    return counts


def _timings(raw: list[Any]) -> dict[tuple[uuid.UUID, str], float | None]:
    """Each tour's timings, from the raw events alone: a request's seconds to its first
    answer, a completion's seconds from the start (none when it is earlier than the start)."""
    first: dict[tuple[uuid.UUID, str], datetime] = {}
    for e in raw:
        if e.tour_id is None:
            continue
        key = (e.tour_id, e.name)
        first[key] = min(first.get(key, e.occurred_at), e.occurred_at)
    timings: dict[tuple[uuid.UUID, str], float | None] = {}
    for (tour, name), at in first.items():
        if name == "Tour Requested":
            answers = [first[(tour, n)] for n in ("Tour Scheduled", "Tour Declined")
                       if (tour, n) in first]  # fmt: skip
            timings[(tour, name)] = (min(answers) - at).total_seconds() if answers else None
        elif name == "Tour Completed":
            began = first.get((tour, "Tour Started"))
            held = began is not None and at >= began
            timings[(tour, name)] = (at - began).total_seconds() if held and began else None
    return timings


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stream=st.lists(happening, min_size=1, max_size=40))
async def test_rollups_equal_a_recount_from_the_raw_events(
    stack: Any, stream: list[tuple[str, int, int, int]]
) -> None:
    # Fresh ids per example: the database is shared, each example only looks at its own.
    realtors = [uuid.uuid4() for _ in range(3)]
    listings = [uuid.uuid4() for _ in range(3)]  # listing i belongs to realtor i
    tours = [uuid.uuid4() for _ in range(4)]
    buyers = [uuid.uuid4() for _ in range(2)]
    visitor = f"{uuid.uuid4()}-v"
    seen: list[Recorded] = []
    # Events come in batches (the variant of an event ends its batch or not), with a batch
    # ended by every fact (a zone, a listing, a sign-in), as the stream's order holds them.
    batch: list[Incoming] = []
    for kind, which, minute, variant in stream:
        at = BASE + timedelta(minutes=minute)
        if kind == "view":
            known = variant % 2 == 0  # the listing's realtor known to the sender, or not
            event = Recorded(uuid.uuid4(), "Property View", at, "test",
                             anonymous_id=f"{visitor}{variant % 3}", listing_id=listings[which],
                             realtor_id=realtors[which] if known else None)  # fmt: skip
        elif kind == "step" or (kind == "replay" and not seen):
            tour = tours[(which + variant) % len(tours)]
            owner = tours.index(tour) % 3
            name = STEPS[variant]
            reason = (
                {"reason": f"r{minute % 2}"} if name in ("Tour Cancelled", "Tour Declined") else {}
            )
            event = Recorded(uuid.uuid4(), name, at, "test", listing_id=listings[owner],
                             realtor_id=realtors[owner], tour_id=tour, properties=reason,
                             user_id=buyers[variant % 2] if variant < 2 else None)  # fmt: skip
        elif kind == "replay":
            event = seen[minute % len(seen)]
        elif kind == "earlier":  # the same step of a tour again, earlier: it arrived late
            steps = [e for e in seen if e.tour_id is not None and e.name != "Video Call End"]
            if not steps:
                continue
            was = steps[minute % len(steps)]
            event = Recorded(uuid.uuid4(), was.name, was.occurred_at - timedelta(minutes=1 + variant),
                             "test", listing_id=was.listing_id, realtor_id=was.realtor_id,
                             tour_id=was.tour_id, properties={"reason": "late"} if was.properties else {})  # fmt: skip
        elif kind == "call":
            event = Recorded(uuid.uuid4(), "Video Call End", at, "test", tour_id=tours[which],
                             properties={"durationSeconds": 60 * variant + which})  # fmt: skip
        elif kind == "zone":
            batch.append(Incoming(person=PersonFacts(realtors[which], ZONES[variant % 4])))
            continue
        elif kind == "signin":  # the visitor signs in: their views become a buyer's
            await _receive(stack, batch)
            batch = []
            async with stack.db.uow() as uow:
                await link_identity(uow, f"{visitor}{variant % 3}", buyers[which % 2], at)
                await uow.commit()
            continue
        else:
            batch.append(Incoming(listing=ListingFacts(listings[which], realtors[which], "UTC")))
            continue
        seen.append(event)
        batch.append(Incoming(recorded=event))
        if variant % 3 == 0:
            await _receive(stack, batch)
            batch = []
    await _receive(stack, batch)

    raw = await stack.rows("SELECT * FROM events WHERE listing_id = ANY(:ids)", ids=listings)
    people = await stack.rows("SELECT id, time_zone FROM people WHERE id = ANY(:ids)", ids=realtors)
    rolled = await stack.rows(
        "SELECT realtor_id, day, listing_id, name, reason, n FROM rollups "
        "WHERE listing_id = ANY(:ids) AND n <> 0",
        ids=listings,
    )
    expected = _recount(raw, {p.id: p.time_zone for p in people})
    assert {tuple(r[:5]): r.n for r in rolled} == dict(expected)
    kept = await stack.rows(
        "SELECT tour_id, name, took_seconds FROM tour_steps WHERE tour_id = ANY(:ids) "
        "AND name IN ('Tour Requested', 'Tour Completed')",
        ids=tours,
    )
    assert {(r.tour_id, r.name): r.took_seconds for r in kept} == _timings(raw)
    # Per realtor and day: the rollups summed over listings (the example's realtors; the
    # views waiting for their realtor under the nil id are checked across examples below).
    summed: Counter[tuple[Any, ...]] = Counter()
    for (realtor, day, _, name, reason), n in expected.items():
        summed[(realtor, day, name, reason)] += n
    days = await stack.rows(
        "SELECT realtor_id, day, name, reason, n FROM realtor_days "
        "WHERE realtor_id = ANY(:ids) AND n <> 0",
        ids=realtors,
    )
    assert {tuple(r[:4]): r.n for r in days} == {
        k: n for k, n in summed.items() if n and k[0] != NOBODY
    }
    # Across every example so far (the platform's tables name no realtor or listing): the
    # nil realtor's days, the platform's days and its active users.
    every = await stack.rows("SELECT * FROM events")
    zones = {p.id: p.time_zone for p in await stack.rows("SELECT id, time_zone FROM people")}
    waiting: Counter[tuple[Any, ...]] = Counter()
    for (realtor, day, _, name, reason), n in _recount(every, zones).items():
        if realtor == NOBODY:
            waiting[(realtor, day, name, reason)] += n
    nobody = await stack.rows(
        "SELECT realtor_id, day, name, reason, n FROM realtor_days "
        "WHERE realtor_id = :nil AND n <> 0",
        nil=NOBODY,
    )
    assert {tuple(r[:4]): r.n for r in nobody} == {k: n for k, n in waiting.items() if n}
    platform, actives = _platform(every)
    counted = await stack.rows("SELECT day, name, reason, n FROM platform_days WHERE n <> 0")
    assert {tuple(r[:3]): r.n for r in counted} == {k: n for k, n in platform.items() if n}
    active = await stack.rows("SELECT day, role, user_id FROM platform_actives")
    assert {tuple(r) for r in active} == actives


async def test_raw_months_are_made_ahead_and_dropped_after_the_retention(stack: Any) -> None:
    stack.start_consumers()
    realtor, listing, tour = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    keeper = stack.parts.keeper
    made, _ = await keeper.run_once()  # 2027-03 and the three months after it already exist
    months = {r.relname for r in await stack.rows(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'events'::regclass")}  # fmt: skip
    assert {"events_p202703", "events_p202706", "events_default"} <= months
    # An event of a month nobody made yet lands in the default partition, then in its month.
    late = datetime(2031, 1, 10, 12, 0, tzinfo=UTC)
    record = scheduling_pb2.Tour(id=str(tour), listing_id=str(listing), realtor_id=str(realtor),
                                 buyer_id=str(uuid.uuid4()), starts_at=stamp(late))  # fmt: skip
    await stack.publish("scheduling.tour.requested", scheduling_pb2.TourChanged(tour=record),
                        at=late)  # fmt: skip
    early = await stack.publish(
        "scheduling.tour.requested",
        scheduling_pb2.TourChanged(tour=scheduling_pb2.Tour(
            id=str(uuid.uuid4()), listing_id=str(listing), realtor_id=str(realtor),
            buyer_id=str(uuid.uuid4()))),
        at=datetime(2027, 3, 2, 12, 0, tzinfo=UTC),
    )  # fmt: skip
    await stack.consumed()
    [(where,)] = await stack.rows(
        "SELECT tableoid::regclass::text FROM events WHERE tour_id = :t", t=tour
    )
    assert where == "events_default"
    stack.clock.now = datetime(2030, 12, 15, tzinfo=UTC)
    made, dropped = await keeper.run_once()
    assert "events_p203101" in made
    assert "events_p202703" in dropped  # ended more than 13 months before December 2030
    [(where,)] = await stack.rows(
        "SELECT tableoid::regclass::text FROM events WHERE tour_id = :t", t=tour
    )
    assert where == "events_p203101"
    assert await stack.rows("SELECT 1 FROM events WHERE id = :id", id=early) == []
    assert await stack.rows("SELECT 1 FROM event_keys WHERE id = :id", id=early) == []
    # The dashboards read the rollups: the dropped month still counts.
    period = {"from": "2027-03-01T00:00:00+00:00", "to": "2027-03-08T00:00:00+00:00"}
    body = await stack.gql(DASHBOARD, {"id": str(realtor), **period}, user=realtor,
                           role=Role.REALTOR)  # fmt: skip
    assert not body.get("errors"), body
    funnel = body["data"]["_entities"][0]["dashboard"]["current"]["funnel"]
    assert funnel[1] == {"name": "Tour Requested", "count": 1, "conversion": None}


async def test_an_id_twice_in_one_batch_and_again_in_the_next_is_counted_once(
    stack: Any,
) -> None:
    realtor, listing, tour = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def step(ident: uuid.UUID, name: str, at: datetime) -> Incoming:
        return Incoming(recorded=Recorded(ident, name, at, "test", listing_id=listing,
                                          realtor_id=realtor, tour_id=tour))  # fmt: skip

    asked, answered = uuid.uuid4(), uuid.uuid4()
    await _receive(stack, [step(asked, "Tour Requested", BASE), step(asked, "Tour Requested", BASE),
                           step(answered, "Tour Scheduled", BASE + timedelta(hours=1))])  # fmt: skip
    await _receive(stack, [step(answered, "Tour Scheduled", BASE + timedelta(hours=1)),
                           step(asked, "Tour Requested", BASE)])  # fmt: skip
    stored = await stack.rows("SELECT id FROM events WHERE tour_id = :t", t=tour)
    assert sorted(r.id for r in stored) == sorted([asked, answered])
    rows = await stack.rows(
        "SELECT name, n FROM rollups WHERE realtor_id = :r AND n <> 0 ORDER BY name", r=realtor
    )
    assert [tuple(r) for r in rows] == [("Tour Requested", 1), ("Tour Scheduled", 1)]
    days = await stack.rows(
        "SELECT name, n FROM realtor_days WHERE realtor_id = :r AND n <> 0 ORDER BY name",
        r=realtor,
    )
    assert [tuple(r) for r in days] == [("Tour Requested", 1), ("Tour Scheduled", 1)]
