"""The tour lifecycle and its rules, driven through the subgraph like a frontend would."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY
from scheduling import store
from scheduling.clients import Directory
from scheduling.domain import Tour
from servicekit.auth import Role
from servicekit.embedded import free_port
from sqlalchemy import text

# Tuesday 2027-01-05, 10:00 in New York (15:00 UTC): inside weekday working hours.
TUESDAY_10AM = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)


def mutation(name: str, args: str, fields: str) -> str:
    return f"mutation($id: ID!, $reason: String, $startsAt: DateTime) {{ {name}({args}) {{ {fields} }} }}"


async def change(stack: Any, name: str, tour_id: str, who: Any, **extra: Any) -> dict[str, Any]:
    args = ["id: $id"]
    variables: dict[str, Any] = {"id": tour_id}
    query_vars = ["$id: ID!"]
    if "reason" in extra:
        args.append("reason: $reason")
        query_vars.append("$reason: String!")
        variables["reason"] = extra["reason"]
    if "starts_at" in extra:
        args.append("startsAt: $startsAt")
        query_vars.append("$startsAt: DateTime!")
        variables["startsAt"] = extra["starts_at"].isoformat()
    query = (
        f"mutation({', '.join(query_vars)}) {{ {name}({', '.join(args)}) "
        f"{{ {stack.tour_fields} }} }}"
    )
    return await stack.gql(query, variables, as_=who)


def data(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert not body.get("errors"), body.get("errors")
    result: dict[str, Any] = body["data"][field]
    return result


def code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    found: str = body["errors"][0]["extensions"]["code"]
    return found


async def test_full_lifecycle_with_history_and_emails(stack: Any) -> None:
    stack.start_relay()
    stack.start_consumers()
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)

    requested = data(
        await stack.request(buyer, listing, TUESDAY_10AM, note="Is the basement finished?"),
        "requestTour",
    )
    tour_id = requested["id"]
    assert requested["status"] == "REQUESTED"
    assert requested["buyer"]["id"] == str(buyer.id)
    assert requested["realtor"]["id"] == str(realtor.id)
    assert requested["listing"]["id"] == str(listing)
    assert requested["timeZone"] == "America/New_York"
    assert requested["note"] == "Is the basement finished?"
    assert datetime.fromisoformat(requested["endsAt"]) - datetime.fromisoformat(
        requested["startsAt"]
    ) == timedelta(minutes=30)

    confirmed = data(await change(stack, "confirmTour", tour_id, realtor), "confirmTour")
    assert confirmed["status"] == "SCHEDULED"

    stack.clock.now = TUESDAY_10AM - timedelta(minutes=5)
    started = data(await change(stack, "startTour", tour_id, realtor), "startTour")
    assert started["status"] == "IN_PROGRESS"
    stack.clock.now = TUESDAY_10AM + timedelta(minutes=31)
    completed = data(await change(stack, "completeTour", tour_id, realtor), "completeTour")
    assert completed["status"] == "COMPLETED"

    history = completed["history"]
    assert [(h["from"], h["to"]) for h in history] == [
        (None, "REQUESTED"),
        ("REQUESTED", "SCHEDULED"),
        ("SCHEDULED", "IN_PROGRESS"),
        ("IN_PROGRESS", "COMPLETED"),
    ]
    assert [h["by"]["id"] for h in history] == [str(buyer.id)] + [str(realtor.id)] * 3

    # Both participants were told about the request and the confirmation, invitation attached.
    for person in (buyer, realtor):
        requested_mail = await stack.mail.wait_for(to=person.email, subject_contains="requested")
        confirmed_mail = await stack.mail.wait_for(to=person.email, subject_contains="confirmed")
        assert requested_mail and confirmed_mail
        attachment = next(confirmed_mail[0].iter_attachments())
        assert attachment.get_content_type() == "text/calendar"
        assert "METHOD:REQUEST" in attachment.get_content()

    seen = await stack.ok(
        "query($id: ID!) { tour(id: $id) { status history { to } } }", {"id": tour_id}, as_=buyer
    )
    assert seen["tour"]["status"] == "COMPLETED"


async def test_decline_cancel_and_reschedule(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)

    first = data(await stack.request(buyer, listing, TUESDAY_10AM), "requestTour")
    declined = data(
        await change(stack, "declineTour", first["id"], realtor, reason="Showing sold out"),
        "declineTour",
    )
    assert (declined["status"], declined["statusReason"]) == ("DECLINED", "Showing sold out")

    # The declined tour no longer holds the slot.
    second = data(await stack.request(buyer, listing, TUESDAY_10AM), "requestTour")
    await change(stack, "confirmTour", second["id"], realtor)

    # The realtor moves it: it stays scheduled, with the same id.
    later = TUESDAY_10AM + timedelta(hours=2)
    moved = data(
        await change(stack, "rescheduleTour", second["id"], realtor, starts_at=later),
        "rescheduleTour",
    )
    assert (moved["id"], moved["status"]) == (second["id"], "SCHEDULED")
    assert datetime.fromisoformat(moved["startsAt"]) == later

    # The buyer moves it: it needs the realtor's confirmation again.
    again = later + timedelta(days=1)
    moved = data(
        await change(stack, "rescheduleTour", second["id"], buyer, starts_at=again),
        "rescheduleTour",
    )
    assert (moved["id"], moved["status"]) == (second["id"], "REQUESTED")

    cancelled = data(
        await change(stack, "cancelTour", second["id"], buyer, reason="Bought another home"),
        "cancelTour",
    )
    assert cancelled["status"] == "CANCELLED"
    assert [h["to"] for h in cancelled["history"]] == [
        "REQUESTED",
        "SCHEDULED",
        "SCHEDULED",
        "REQUESTED",
        "CANCELLED",
    ]
    assert cancelled["history"][-1]["reason"] == "Bought another home"


async def test_invalid_transitions_and_strangers(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    stranger = stack.peers.person(Role.BUYER)
    other_realtor = stack.peers.person(Role.REALTOR)
    tour = data(await stack.request(buyer, listing, TUESDAY_10AM), "requestTour")

    # Not yet scheduled: cannot start or complete.
    assert code(await change(stack, "startTour", tour["id"], realtor)) == "BAD_USER_INPUT"
    assert code(await change(stack, "completeTour", tour["id"], realtor)) == "BAD_USER_INPUT"
    # The buyer cannot confirm; strangers can neither see nor touch it.
    assert code(await change(stack, "confirmTour", tour["id"], buyer)) == "FORBIDDEN"
    assert code(await change(stack, "confirmTour", tour["id"], other_realtor)) == "FORBIDDEN"
    assert code(await change(stack, "cancelTour", tour["id"], stranger, reason="x")) == "FORBIDDEN"
    query = "query($id: ID!) { tour(id: $id) { id } }"
    assert await stack.error_code(query, {"id": tour["id"]}, as_=stranger) == "FORBIDDEN"
    assert await stack.error_code(query, {"id": tour["id"]}) == "UNAUTHENTICATED"
    assert await stack.error_code(query, {"id": str(uuid.uuid4())}, as_=buyer) == "NOT_FOUND"

    await change(stack, "cancelTour", tour["id"], buyer, reason="Changed my mind")
    # Ended tours stay ended.
    for name, extra in [
        ("confirmTour", {}),
        ("declineTour", {"reason": "no"}),
        ("cancelTour", {"reason": "again"}),
        ("rescheduleTour", {"starts_at": TUESDAY_10AM + timedelta(hours=1)}),
    ]:
        assert code(await change(stack, name, tour["id"], realtor, **extra)) == "BAD_USER_INPUT"
    # A reason is required.
    other = data(await stack.request(buyer, listing, TUESDAY_10AM), "requestTour")
    assert code(await change(stack, "declineTour", other["id"], realtor, reason="  ")) == (
        "BAD_USER_INPUT"
    )


async def test_requests_are_validated(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)

    # Only buyers request tours.
    assert code(await stack.request(realtor, listing, TUESDAY_10AM)) == "FORBIDDEN"
    # Outside working hours, too soon, too far ahead, too long.
    saturday = TUESDAY_10AM + timedelta(days=4)
    assert code(await stack.request(buyer, listing, saturday)) == "BAD_USER_INPUT"
    too_soon = stack.clock.now + timedelta(minutes=30)
    assert code(await stack.request(buyer, listing, too_soon)) == "BAD_USER_INPUT"
    assert code(await stack.request(buyer, listing, TUESDAY_10AM + timedelta(days=70))) == (
        "BAD_USER_INPUT"
    )
    assert code(await stack.request(buyer, listing, TUESDAY_10AM, minutes=600)) == "BAD_USER_INPUT"
    # Unknown and unbookable listings.
    assert code(await stack.request(buyer, uuid.uuid4(), TUESDAY_10AM)) == "NOT_FOUND"
    draft = stack.peers.listing(realtor, status="DRAFT")
    assert code(await stack.request(buyer, draft, TUESDAY_10AM)) == "BAD_USER_INPUT"
    coming_soon = stack.peers.listing(realtor, status="COMING_SOON")
    assert data(await stack.request(buyer, coming_soon, TUESDAY_10AM), "requestTour")


async def test_no_double_booking_and_idempotency(stack: Any) -> None:
    _realtor, listing = await stack.open_for_tours(buffer=15)
    alice, bob = stack.peers.person(Role.BUYER), stack.peers.person(Role.BUYER)

    first = data(await stack.request(alice, listing, TUESDAY_10AM, key="k-1"), "requestTour")
    # Same key: same tour, nothing new.
    again = data(await stack.request(alice, listing, TUESDAY_10AM, key="k-1"), "requestTour")
    assert again["id"] == first["id"]

    # Overlapping, or inside the 15-minute buffer after it: CONFLICT for anyone.
    assert code(await stack.request(bob, listing, TUESDAY_10AM + timedelta(minutes=15))) == (
        "CONFLICT"
    )
    assert code(await stack.request(bob, listing, TUESDAY_10AM + timedelta(minutes=30))) == (
        "CONFLICT"
    )
    assert code(await stack.request(bob, listing, TUESDAY_10AM - timedelta(minutes=30))) == (
        "CONFLICT"
    )
    # Exactly one buffer away on either side is fine.
    after = data(
        await stack.request(bob, listing, TUESDAY_10AM + timedelta(minutes=45)), "requestTour"
    )
    assert after["status"] == "REQUESTED"

    # A buyer cannot be in two tours at once, even with different realtors.
    _, other_listing = await stack.open_for_tours()
    assert code(await stack.request(alice, other_listing, TUESDAY_10AM)) == "CONFLICT"


async def test_concurrent_repeats_of_one_request_make_one_tour(stack: Any) -> None:
    _, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    bodies = await asyncio.gather(
        *(stack.request(buyer, listing, TUESDAY_10AM, key="double-click") for _ in range(10))
    )
    assert len({data(body, "requestTour")["id"] for body in bodies}) == 1
    async with stack.db.session() as session:
        count = (await session.execute(text("SELECT count(*) FROM tours"))).scalar_one()
    assert count == 1


async def _until_a_statement_waits_on_a_lock(stack: Any) -> None:
    for _ in range(200):
        async with stack.db.session() as session:
            waiting = (
                await session.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the request never waited on the open transaction")


async def test_a_request_caught_in_a_deadlock_is_tried_again(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours(buffer=15)
    buyer = stack.peers.person(Role.BUYER)

    def held_tour(starts_at: datetime) -> Tour:
        return Tour.request(
            listing_id=listing,
            buyer_id=stack.peers.person(Role.BUYER).id,
            realtor_id=realtor.id,
            starts_at=starts_at,
            duration_minutes=30,
            time_zone="America/New_York",
            buffer_minutes=15,
            now=stack.clock(),
        )

    async with stack.db.uow() as other:
        # Another transaction holds the realtor's 10:00 tour, not committed yet ([10:00, 10:45)
        # with the buffer), so a request for 10:30 waits on it in the exclusion constraint;
        await store.add_tour(other, held_tour(TUESDAY_10AM), None)
        request = asyncio.create_task(
            stack.request(buyer, listing, TUESDAY_10AM + timedelta(minutes=30), key="k")
        )
        await _until_a_statement_waits_on_a_lock(stack)
        # then it adds 11:00, which overlaps only the waiting request: each now waits on the
        # other, and PostgreSQL aborts one of them.
        with contextlib.suppress(store.Contended):
            await store.add_tour(other, held_tour(TUESDAY_10AM + timedelta(hours=1)), None)
        await other.rollback()
    # Whichever was aborted, the request answers as if it had come alone.
    tour = data(await request, "requestTour")
    assert tour["status"] == "REQUESTED"
    async with stack.db.session() as session:
        count = (await session.execute(text("SELECT count(*) FROM tours"))).scalar_one()
    assert count == 1


async def test_available_slots_leave_out_tours_and_buffers(stack: Any) -> None:
    _realtor, listing = await stack.open_for_tours(buffer=15)
    buyer = stack.peers.person(Role.BUYER)
    await stack.request(buyer, listing, TUESDAY_10AM)
    query = """
    query($listing: ID!, $from: DateTime!, $to: DateTime!) {
      availableSlots(listingId: $listing, from: $from, to: $to, durationMinutes: 30) { startsAt endsAt }
    }
    """
    day_start = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # 09:00 New York
    found = await stack.ok(
        query,
        {
            "listing": str(listing),
            "from": day_start.isoformat(),
            "to": (day_start + timedelta(hours=8)).isoformat(),
        },
    )
    starts = [datetime.fromisoformat(s["startsAt"]) for s in found["availableSlots"]]
    hours = [s.astimezone(UTC).strftime("%H:%M") for s in starts]
    # 09:00 slot ends 09:30 + 15 buffer = 09:45 ≤ 10:00: free; 09:30 would touch the tour;
    # 10:00 is taken; 10:30 falls in the tour's buffer; 11:00 is free again.
    assert hours[:3] == ["14:00", "16:00", "16:30"]
    assert "15:00" not in hours and "15:30" not in hours and "14:30" not in hours
    assert hours[-1] == "21:30"  # the last slot ends at 17:00 local


async def test_listing_tours_and_my_lists(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    stranger = stack.peers.person(Role.REALTOR)
    ids = []
    for hours in (0, 2, 4):
        tour = data(
            await stack.request(buyer, listing, TUESDAY_10AM + timedelta(hours=hours)),
            "requestTour",
        )
        ids.append(tour["id"])
    await change(stack, "cancelTour", ids[2], buyer, reason="too late in the day")

    entities = """
    query($reps: [_Any!]!) { _entities(representations: $reps) {
      ... on Listing { tours(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
      ... on User { upcomingTours { edges { node { id } } } tourHistory { edges { node { id status } } }
                    clients { edges { node { id } } } }
    } }
    """
    listing_rep = {"__typename": "Listing", "id": str(listing)}
    page = (await stack.ok(entities, {"reps": [listing_rep]}, as_=realtor))["_entities"][0]
    assert [e["node"]["id"] for e in page["tours"]["edges"]] == ids[:2]
    assert page["tours"]["pageInfo"]["hasNextPage"] is True
    assert await stack.error_code(entities, {"reps": [listing_rep]}, as_=stranger) == "FORBIDDEN"

    realtor_rep = {"__typename": "User", "id": str(realtor.id)}
    mine = (
        await stack.ok(
            entities.replace(
                "tours(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } }",
                "id",
            ),
            {"reps": [realtor_rep]},
            as_=realtor,
        )
    )["_entities"][0]
    assert [e["node"]["id"] for e in mine["upcomingTours"]["edges"]] == ids[:2]
    assert [e["node"]["status"] for e in mine["tourHistory"]["edges"]] == ["CANCELLED"]
    assert [e["node"]["id"] for e in mine["clients"]["edges"]] == [str(buyer.id)]


async def test_listings_unreachable_fails_cleanly(stack: Any) -> None:
    _realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    nowhere = f"127.0.0.1:{free_port()}"
    dead = Directory.connect(
        listings_target=nowhere,
        identity_target=nowhere,
        timeout=0.5,
        tls=stack.parts.infra.grpc_tls,
    )
    working, stack.parts.scheduling.directory = stack.parts.scheduling.directory, dead
    try:
        body = await stack.request(buyer, listing, TUESDAY_10AM)
    finally:
        stack.parts.scheduling.directory = working
        await dead.close()
    assert code(body) == "UNAVAILABLE"
    assert "listings" in body["errors"][0]["message"]
    assert "Traceback" not in str(body)


async def test_tour_entities_resolve_for_participants_only(stack: Any) -> None:
    _, listing = await stack.open_for_tours()
    buyer, stranger = stack.peers.person(Role.BUYER), stack.peers.person(Role.BUYER)
    tour = data(await stack.request(buyer, listing, TUESDAY_10AM), "requestTour")
    query = """
    query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Tour { id status } } }
    """
    reps = {"reps": [{"__typename": "Tour", "id": tour["id"]}]}
    mine = await stack.ok(query, reps, as_=buyer)
    assert mine["_entities"] == [{"id": tour["id"], "status": "REQUESTED"}]
    assert (await stack.ok(query, reps, as_=stranger))["_entities"] == [None]
    assert (await stack.ok(query, reps))["_entities"] == [None]


async def test_set_availability_validates_and_reads_back(stack: Any) -> None:
    realtor = stack.peers.person(Role.REALTOR)
    buyer = stack.peers.person(Role.BUYER)
    valid = {
        "timeZone": "Europe/Berlin",
        "weeklyHours": [
            {"weekday": "MONDAY", "start": "09:00", "end": "12:00"},
            {"weekday": "MONDAY", "start": "13:00", "end": "17:30"},
        ],
        "blockedDates": ["2027-01-11"],
    }
    query = """
    mutation($input: AvailabilityInput!) {
      setAvailability(input: $input) {
        timeZone bufferMinutes minimumNoticeMinutes maxDaysAhead blockedDates
        weeklyHours { weekday start end }
      }
    }
    """
    saved = (await stack.ok(query, {"input": valid}, as_=realtor))["setAvailability"]
    assert saved["timeZone"] == "Europe/Berlin"
    assert (saved["bufferMinutes"], saved["minimumNoticeMinutes"], saved["maxDaysAhead"]) == (
        15,
        120,
        60,
    )
    assert saved["blockedDates"] == ["2027-01-11"]
    assert [h["end"] for h in saved["weeklyHours"]] == ["12:00", "17:30"]
    mine = await stack.ok("{ myAvailability { timeZone weeklyHours { start } } }", as_=realtor)
    assert mine["myAvailability"]["timeZone"] == "Europe/Berlin"

    assert await stack.error_code(query, {"input": valid}, as_=buyer) == "FORBIDDEN"
    assert await stack.error_code(query, {"input": valid}) == "UNAUTHENTICATED"
    for broken in (
        {**valid, "timeZone": "Europe/Atlantis"},
        {**valid, "weeklyHours": [{"weekday": "MONDAY", "start": "18:00", "end": "09:00"}]},
        {**valid, "bufferMinutes": -1},
    ):
        assert await stack.error_code(query, {"input": broken}, as_=realtor) == "BAD_USER_INPUT"


async def test_concurrent_requests_never_double_book(stack: Any) -> None:
    _, listing = await stack.open_for_tours(buffer=15)
    buyers = [stack.peers.person(Role.BUYER) for _ in range(12)]
    # Starts every 5 minutes from 10:00 to 10:25: any two lie within one tour + buffer (45 min).
    starts = [TUESDAY_10AM + timedelta(minutes=5 * (i % 6)) for i in range(12)]
    bodies = await asyncio.gather(
        *(stack.request(b, listing, s) for b, s in zip(buyers, starts, strict=True))
    )
    outcomes = ["OK" if not b.get("errors") else code(b) for b in bodies]
    assert set(outcomes) <= {"OK", "CONFLICT"}
    # So exactly one wins, whichever it is.
    assert outcomes.count("OK") == 1
    async with stack.db.session() as session:
        live = (
            await session.execute(
                text("SELECT count(*) FROM tours WHERE status IN ('REQUESTED', 'SCHEDULED')")
            )
        ).scalar_one()
    assert live == 1


def _requests(outcome: str) -> float:
    return REGISTRY.get_sample_value("realty_tour_requests_total", {"outcome": outcome}) or 0.0


async def test_tour_requests_are_counted_by_outcome_for_the_booking_objective(stack: Any) -> None:
    _, listing = await stack.open_for_tours()
    before = {o: _requests(o) for o in ("booked", "refused", "failed")}
    data(await stack.request(stack.peers.person(Role.BUYER), listing, TUESDAY_10AM), "requestTour")
    taken = await stack.request(stack.peers.person(Role.BUYER), listing, TUESDAY_10AM)
    assert code(taken) == "CONFLICT"
    assert _requests("booked") - before["booked"] == 1
    assert _requests("refused") - before["refused"] == 1
    assert _requests("failed") == before["failed"]
