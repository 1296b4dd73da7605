"""Tokens that stop working before they expire, through the gateway: after a logout or an
account deletion, listings and scheduling refuse the token within seconds (each follows
identity's revocations from the bus), so a deleted account creates nothing afterwards, and
what it had is cleaned up by the erasure."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.e2e.conftest import Stack
from tests.flows import (
    first_slot,
    gql,
    list_cottage,
    open_every_day,
    register,
    request_tour,
)

WITHIN = 10.0  # seconds: "within seconds", with room for a loaded machine
PASSWORD = "harbour lights over quiet water"
REGISTER = """mutation($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken user { id } }
}"""


async def sign_up(client: httpx.AsyncClient, url: str, role: str) -> dict[str, Any]:
    data = await gql(
        client,
        url,
        REGISTER,
        input={
            "email": f"leaving.{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "displayName": "Leaving Soon",
            "role": role,
            "timeZone": "America/New_York",
        },
    )
    payload: dict[str, Any] = data["register"]
    return payload


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    return str(errors[0]["extensions"]["code"]) if errors else None


TOUR = "mutation($input: RequestTourInput!) { requestTour(input: $input) { id } }"
DELETE_LISTING = "mutation($id: ID!) { deleteListing(id: $id) }"


async def refuses(
    client: httpx.AsyncClient, url: str, query: str, token: str, **variables: Any
) -> bool:
    """True when `url` (the gateway or one subgraph) refuses the token: 401, or the
    operation's UNAUTHENTICATED error."""
    response = await client.post(
        url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code == 401:
        return True
    assert response.status_code == 200, response.text
    return code(response.json()) == "UNAUTHENTICATED"


def subgraph(stack: Stack, service: str) -> str:
    return f"http://127.0.0.1:{stack.ports[service][0]}/graphql"


def tour_input(listing_id: str, starts_at: str) -> dict[str, Any]:
    return {
        "listingId": listing_id,
        "startsAt": starts_at,
        "durationMinutes": 30,
        "idempotencyKey": uuid.uuid4().hex,
    }


def writes(stack: Stack, listing_id: str, starts_at: str) -> list[tuple[str, str, dict[str, Any]]]:
    """A write to try at the gateway, at listings and at scheduling (url, query, variables)."""
    return [
        (stack.graphql_url, DELETE_LISTING, {"id": str(uuid.uuid4())}),
        (subgraph(stack, "listings"), DELETE_LISTING, {"id": str(uuid.uuid4())}),
        (subgraph(stack, "scheduling"), TOUR, {"input": tour_input(listing_id, starts_at)}),
    ]


async def accepted_everywhere(
    client: httpx.AsyncClient, stack: Stack, token: str, listing_id: str, starts_at: str
) -> bool:
    """True when none of `writes` refuses the token (they may fail for other reasons)."""
    for url, query, variables in writes(stack, listing_id, starts_at):
        if await refuses(client, url, query, token, **variables):
            return False
    return True


async def refused_everywhere(
    client: httpx.AsyncClient, stack: Stack, token: str, listing_id: str, starts_at: str
) -> float:
    """Poll the gateway, listings and scheduling until each refuses a write with `token`;
    the longest wait."""
    took = []
    for url, query, variables in writes(stack, listing_id, starts_at):

        async def check(url: str = url, query: str = query, v: dict[str, Any] = variables) -> bool:
            return await refuses(client, url, query, token, **v)

        took.append(await refused_within(check))
    return max(took)


async def refused_within(check: Callable[[], Awaitable[bool]], within: float = WITHIN) -> float:
    """Poll until `check` holds; how long it took (fails at the deadline)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"token still accepted after {within} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_a_logged_out_token_is_refused_by_the_gateway_listings_and_scheduling(
    stack: Stack,
) -> None:
    url = stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        realtor = await sign_up(client, url, "REALTOR")
        token = realtor["accessToken"]
        await open_every_day(client, url, token)  # scheduling accepts the token
        listing_id = await list_cottage(client, url, token)  # listings too
        starts_at = await first_slot(client, url, token, listing_id)

        # each of them takes the token directly before the logout
        assert await accepted_everywhere(client, stack, token, str(uuid.uuid4()), starts_at)
        logout = "mutation($t: String!) { logout(refreshToken: $t) }"
        assert (await gql(client, url, logout, t=realtor["refreshToken"]))["logout"] is True

        took = await refused_everywhere(client, stack, token, str(uuid.uuid4()), starts_at)
        assert await refuses(client, stack.graphql_url, "{ me { id } }", token)
        assert took < WITHIN


async def test_a_deleted_account_is_refused_everywhere_and_what_it_made_is_cleaned_up(
    stack: Stack,
) -> None:
    url = stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        realtor_token, _ = await register(client, url, "REALTOR", "Rhea")
        await open_every_day(client, url, realtor_token)
        homes = await list_cottage(client, url, realtor_token)
        # one leaving account has a listing, the other a tour of someone else's home
        seller = await sign_up(client, url, "REALTOR")
        await open_every_day(client, url, seller["accessToken"])
        own_listing = await list_cottage(client, url, seller["accessToken"])
        buyer = await sign_up(client, url, "BUYER")
        starts_at = await first_slot(client, url, buyer["accessToken"], homes)
        tour_id = await request_tour(client, url, buyer["accessToken"], homes, starts_at)

        for leaving in (seller, buyer):
            assert await accepted_everywhere(
                client, stack, leaving["accessToken"], homes, starts_at
            )
        for leaving in (seller, buyer):
            deleted = await gql(
                client,
                url,
                "mutation($p: String!) { deleteMyAccount(password: $p) }",
                leaving["accessToken"],
                p=PASSWORD,
            )
            assert deleted["deleteMyAccount"] is True
        for leaving in (seller, buyer):
            took = await refused_everywhere(client, stack, leaving["accessToken"], homes, starts_at)
            assert took < WITHIN

        # the erasure: its listing left the market, its tour was cancelled
        async def listing_withdrawn() -> bool:
            data = await gql(
                client, url, "query($id: ID!) { listing(id: $id) { status } }", id=own_listing
            )
            return data["listing"] is None or data["listing"]["status"] == "WITHDRAWN"

        async def tour_cancelled() -> bool:
            data = await gql(
                client,
                url,
                "query($id: ID!) { tour(id: $id) { status } }",
                realtor_token,
                id=tour_id,
            )
            return data["tour"] is not None and data["tour"]["status"] == "CANCELLED"

        await refused_within(listing_withdrawn)
        await refused_within(tour_cancelled)
