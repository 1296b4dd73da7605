"""Who may do what, and how a refused input is named, seen through the subgraph.

BAD_USER_INPUT names the input with `extensions.field`, its dotted path in the operation.
ADMIN passes every participant and owner rule but never becomes a party: an admin neither
requests tours nor publishes availability, and never gets another user's feed URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.auth import Role

TUESDAY_10AM = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
REQUEST_TOUR = "mutation($input: RequestTourInput!) { requestTour(input: $input) { id } }"
SET_AVAILABILITY = (
    "mutation($input: AvailabilityInput!) { setAvailability(input: $input) { timeZone } }"
)
MONDAY_9_TO_5 = {"weekday": "MONDAY", "start": "09:00", "end": "17:00"}


def refusal(body: dict[str, Any]) -> tuple[str, str | None]:
    assert body.get("errors"), body
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions.get("field")


def request_input(listing: Any, starts_at: datetime, **extra: Any) -> dict[str, Any]:
    return {"input": {"listingId": str(listing), "startsAt": starts_at.isoformat(), **extra}}


async def test_refused_inputs_are_named_by_their_path(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)

    async def request(variables: dict[str, Any]) -> tuple[str, str | None]:
        return refusal(await stack.gql(REQUEST_TOUR, variables, as_=buyer))

    past = stack.clock() - timedelta(hours=1)
    assert await request(request_input(listing, past)) == ("BAD_USER_INPUT", "input.startsAt")
    assert await request(request_input("nope", TUESDAY_10AM)) == (
        "BAD_USER_INPUT",
        "input.listingId",
    )
    unknown = "00000000-0000-4000-8000-000000000000"
    assert await request(request_input(unknown, TUESDAY_10AM)) == ("NOT_FOUND", "input.listingId")
    assert await request(request_input(listing, TUESDAY_10AM, durationMinutes=5)) == (
        "BAD_USER_INPUT",
        "input.durationMinutes",
    )
    assert await request(request_input(listing, TUESDAY_10AM, note="x" * 2001)) == (
        "BAD_USER_INPUT",
        "input.note",
    )

    hours = [MONDAY_9_TO_5, {"weekday": "TUESDAY", "start": "9am", "end": "17:00"}]
    body = await stack.gql(
        SET_AVAILABILITY, {"input": {"timeZone": "UTC", "weeklyHours": hours}}, as_=realtor
    )
    assert refusal(body) == ("BAD_USER_INPUT", "input.weeklyHours.1.start")
    body = await stack.gql(
        SET_AVAILABILITY, {"input": {"timeZone": "Mars/Olympus", "weeklyHours": []}}, as_=realtor
    )
    assert refusal(body) == ("BAD_USER_INPUT", "input.timeZone")

    tour = (await stack.request(buyer, listing, TUESDAY_10AM))["data"]["requestTour"]
    moved = await stack.gql(
        "mutation($id: ID!, $at: DateTime!) { rescheduleTour(id: $id, startsAt: $at) { id } }",
        {"id": tour["id"], "at": past.isoformat()},
        as_=buyer,
    )
    assert refusal(moved) == ("BAD_USER_INPUT", "startsAt")
    declined = await stack.gql(
        'mutation($id: ID!) { declineTour(id: $id, reason: "  ") { id } }',
        {"id": tour["id"]},
        as_=realtor,
    )
    assert refusal(declined) == ("BAD_USER_INPUT", "reason")
    assert refusal(await stack.gql('{ tour(id: "nope") { id } }', as_=buyer)) == (
        "BAD_USER_INPUT",
        "id",
    )
    slots = await stack.gql(
        "query($l: ID!, $f: DateTime!, $t: DateTime!) "
        "{ availableSlots(listingId: $l, from: $f, to: $t) { startsAt } }",
        {"l": str(listing), "f": TUESDAY_10AM.isoformat(), "t": past.isoformat()},
        as_=buyer,
    )
    assert refusal(slots) == ("BAD_USER_INPUT", "to")


async def test_admins_manage_any_tour_but_never_become_a_party(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    admin = stack.peers.person(Role.ADMIN)

    # Never a party: no tour requests, no availability of their own.
    body = await stack.gql(REQUEST_TOUR, request_input(listing, TUESDAY_10AM), as_=admin)
    assert refusal(body)[0] == "FORBIDDEN"
    body = await stack.gql(
        SET_AVAILABILITY, {"input": {"timeZone": "UTC", "weeklyHours": []}}, as_=admin
    )
    assert refusal(body)[0] == "FORBIDDEN"

    # Every participant and owner rule lets them through.
    tour = (await stack.request(buyer, listing, TUESDAY_10AM))["data"]["requestTour"]
    seen = await stack.ok("query($id: ID!) { tour(id: $id) { id } }", {"id": tour["id"]}, as_=admin)
    assert seen["tour"]["id"] == tour["id"]
    entity = await stack.ok(
        "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Tour { id } } }",
        {"reps": [{"__typename": "Tour", "id": tour["id"]}]},
        as_=admin,
    )
    assert entity["_entities"] == [{"id": tour["id"]}]
    listed = await stack.ok(
        "query($reps: [_Any!]!) { _entities(representations: $reps) "
        "{ ... on Listing { tours { edges { node { id } } } } } }",
        {"reps": [{"__typename": "Listing", "id": str(listing)}]},
        as_=admin,
    )
    assert [e["node"]["id"] for e in listed["_entities"][0]["tours"]["edges"]] == [tour["id"]]
    users = await stack.ok(
        "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { "
        "upcomingTours { edges { node { id } } } clients { edges { node { id } } } "
        "calendarFeedUrl } } }",
        {"reps": [{"__typename": "User", "id": str(realtor.id)}]},
        as_=admin,
    )
    mine = users["_entities"][0]
    assert [e["node"]["id"] for e in mine["upcomingTours"]["edges"]] == [tour["id"]]
    assert [e["node"]["id"] for e in mine["clients"]["edges"]] == [str(buyer.id)]
    # The feed URL is a credential, not data: only its owner gets it.
    assert mine["calendarFeedUrl"] is None
    confirmed = await stack.ok(
        "mutation($id: ID!) { confirmTour(id: $id) { status } }", {"id": tour["id"]}, as_=admin
    )
    assert confirmed["confirmTour"]["status"] == "SCHEDULED"

    # A buyer is no realtor: their clients and other users' tours stay closed.
    stranger = stack.peers.person(Role.BUYER)
    for field in ("clients { edges { cursor } }", "upcomingTours { edges { cursor } }"):
        body = await stack.gql(
            "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { "
            + field
            + " } } }",
            {"reps": [{"__typename": "User", "id": str(realtor.id)}]},
            as_=stranger,
        )
        assert refusal(body)[0] == "FORBIDDEN"
