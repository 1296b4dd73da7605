"""What people do through the gateway, as short functions the cross-service tests share."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import websockets

WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
COTTAGE = "Lighthouse keeper's cottage with harbor views"


async def post(
    client: httpx.AsyncClient, url: str, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    """The whole GraphQL response (errors included), after checking it is not an HTTP failure."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        url, json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    return body


async def gql(
    client: httpx.AsyncClient, url: str, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    """The response's data; any error fails the test."""
    body = await post(client, url, query, token, **variables)
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken user { id role displayName } }
}"""


async def register(
    client: httpx.AsyncClient, url: str, role: str, name: str, password: str | None = None
) -> tuple[str, str]:
    """A new account; its access token and user id."""
    data = await gql(
        client,
        url,
        REGISTER,
        input={
            "email": f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.com",
            "password": password or f"Tour-{uuid.uuid4().hex[:12]}-Window!",
            "displayName": name,
            "role": role,
            "timeZone": "America/New_York",
        },
    )
    payload = data["register"]
    assert payload["user"]["role"] == role
    return payload["accessToken"], payload["user"]["id"]


async def open_every_day(client: httpx.AsyncClient, url: str, realtor_token: str) -> None:
    await gql(
        client,
        url,
        "mutation($input: AvailabilityInput!) { setAvailability(input: $input) { timeZone } }",
        realtor_token,
        input={
            "timeZone": "America/New_York",
            "weeklyHours": [{"weekday": day, "start": "00:00", "end": "23:59"} for day in WEEK],
            "minimumNoticeMinutes": 60,
            "bufferMinutes": 15,
        },
    )


async def list_cottage(client: httpx.AsyncClient, url: str, realtor_token: str) -> str:
    """An ACTIVE listing of the realtor's; its id."""
    created = await gql(
        client,
        url,
        "mutation($input: CreateListingInput!) { createListing(input: $input) { id status } }",
        realtor_token,
        input={
            "title": COTTAGE,
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
    listing_id: str = created["createListing"]["id"]
    return listing_id


async def first_slot(client: httpx.AsyncClient, url: str, token: str, listing_id: str) -> str:
    now = datetime.now(UTC)
    slots = await gql(
        client,
        url,
        """query($id: ID!, $from: DateTime!, $to: DateTime!) {
             availableSlots(listingId: $id, from: $from, to: $to, durationMinutes: 30) {
               startsAt endsAt
             }
           }""",
        token,
        id=listing_id,
        **{"from": now.isoformat(), "to": (now + timedelta(days=2)).isoformat()},
    )
    start: str = slots["availableSlots"][0]["startsAt"]
    return start


async def request_tour(
    client: httpx.AsyncClient, url: str, buyer_token: str, listing_id: str, starts_at: str
) -> str:
    requested = await gql(
        client,
        url,
        "mutation($input: RequestTourInput!) { requestTour(input: $input) { id status } }",
        buyer_token,
        input={
            "listingId": listing_id,
            "startsAt": starts_at,
            "durationMinutes": 30,
            "note": "Can we see the garden too?",
            "idempotencyKey": uuid.uuid4().hex,
        },
    )
    assert requested["requestTour"]["status"] == "REQUESTED"
    tour_id: str = requested["requestTour"]["id"]
    return tour_id


async def next_message(ws: websockets.ClientConnection, timeout: float = 15) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))
    return message


async def until_listening(http_base: str, count: int = 1, timeout: float = 30.0) -> None:
    """Wait until the scheduling replica at `http_base` has `count` live listeners
    registered (its `scheduling_live_listeners` gauge): a subscription is set up
    concurrently with the request that opened it."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            text = (await client.get(f"{http_base}/metrics")).text
            for line in text.splitlines():
                if (
                    line.startswith("scheduling_live_listeners ")
                    and float(line.split()[1]) >= count
                ):
                    return
            assert asyncio.get_running_loop().time() < deadline, "the subscription never registered"
            await asyncio.sleep(0.05)


async def subscribe(
    ws: websockets.ClientConnection, token: str, query: str, **variables: Any
) -> None:
    """Initialise a graphql-transport-ws connection and start one subscription (id "1")."""
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert (await next_message(ws))["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
    )
