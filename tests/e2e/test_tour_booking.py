"""A realtor lists a home, a buyer finds it and books a tour, the realtor confirms, and the
buyer sees it live — every hop real: gateway → subgraphs → gRPC → NATS → subscription."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import websockets

from tests.e2e.conftest import Stack


async def gql(
    client: httpx.AsyncClient, url: str, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        url, json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken user { id role displayName } }
}"""


async def register(
    client: httpx.AsyncClient, stack: Stack, role: str, name: str
) -> tuple[str, str]:
    data = await gql(
        client,
        stack.graphql_url,
        REGISTER,
        input={
            "email": f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.com",
            "password": f"Tour-{uuid.uuid4().hex[:12]}-Window!",
            "displayName": name,
            "role": role,
            "timeZone": "America/New_York",
        },
    )
    payload = data["register"]
    assert payload["user"]["role"] == role
    return payload["accessToken"], payload["user"]["id"]


async def next_message(ws: websockets.ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=15))
    return message


async def test_realtor_lists_buyer_books_realtor_confirms_everyone_sees_it(stack: Stack) -> None:
    url = stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        realtor_token, realtor_id = await register(client, stack, "REALTOR", "Rita")
        buyer_token, buyer_id = await register(client, stack, "BUYER", "Ben")

        await gql(
            client,
            url,
            """mutation($input: AvailabilityInput!) { setAvailability(input: $input) { timeZone } }""",
            realtor_token,
            input={
                "timeZone": "America/New_York",
                "weeklyHours": [
                    {"weekday": day, "start": "00:00", "end": "23:59"}
                    for day in (
                        "MONDAY",
                        "TUESDAY",
                        "WEDNESDAY",
                        "THURSDAY",
                        "FRIDAY",
                        "SATURDAY",
                        "SUNDAY",
                    )
                ],
                "minimumNoticeMinutes": 60,
                "bufferMinutes": 15,
            },
        )
        created = await gql(
            client,
            url,
            """mutation($input: CreateListingInput!) { createListing(input: $input) { id status } }""",
            realtor_token,
            input={
                "title": "Lighthouse keeper's cottage with harbor views",
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
        listing_id = created["createListing"]["id"]

        found = await gql(
            client,
            url,
            """query($filter: ListingFilter) {
                 listings(filter: $filter, sort: RELEVANCE, first: 5) {
                   edges { node { id title realtor { id displayName } } }
                 }
               }""",
            buyer_token,
            filter={"text": "lighthouse harbor", "city": "Portland"},
        )
        nodes = [edge["node"] for edge in found["listings"]["edges"]]
        assert [n["id"] for n in nodes] == [listing_id]
        assert nodes[0]["realtor"] == {"id": realtor_id, "displayName": "Rita"}

        now = datetime.now(UTC)
        slots = await gql(
            client,
            url,
            """query($id: ID!, $from: DateTime!, $to: DateTime!) {
                 availableSlots(listingId: $id, from: $from, to: $to, durationMinutes: 30) {
                   startsAt endsAt
                 }
               }""",
            buyer_token,
            id=listing_id,
            **{"from": now.isoformat(), "to": (now + timedelta(days=2)).isoformat()},
        )
        first_slot = slots["availableSlots"][0]["startsAt"]

        requested = await gql(
            client,
            url,
            """mutation($input: RequestTourInput!) { requestTour(input: $input) { id status } }""",
            buyer_token,
            input={
                "listingId": listing_id,
                "startsAt": first_slot,
                "durationMinutes": 30,
                "note": "Can we see the garden too?",
                "idempotencyKey": uuid.uuid4().hex,
            },
        )
        tour_id = requested["requestTour"]["id"]
        assert requested["requestTour"]["status"] == "REQUESTED"

        async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {buyer_token}"},
                    }
                )
            )
            assert (await next_message(ws))["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": """subscription($id: ID!) {
                                tourStatusChanged(tourId: $id) {
                                  id status listing { title } realtor { displayName }
                                }
                              }""",
                            "variables": {"id": tour_id},
                        },
                    }
                )
            )
            await asyncio.sleep(0.5)  # the subscription is in place before the change
            confirmed = await gql(
                client,
                url,
                "mutation($id: ID!) { confirmTour(id: $id) { status } }",
                realtor_token,
                id=tour_id,
            )
            assert confirmed["confirmTour"]["status"] == "SCHEDULED"
            event = await next_message(ws)
            assert event["type"] == "next", event
            assert event["payload"]["data"]["tourStatusChanged"] == {
                "id": tour_id,
                "status": "SCHEDULED",
                "listing": {"title": "Lighthouse keeper's cottage with harbor views"},
                "realtor": {"displayName": "Rita"},
            }

        upcoming = await gql(
            client,
            url,
            """{ me { id upcomingTours(first: 10) { edges { node {
                   id status note
                   listing { id title address { city } }
                   realtor { id displayName }
                   buyer { id displayName }
                 } } } } }""",
            buyer_token,
        )
        [edge] = upcoming["me"]["upcomingTours"]["edges"]
        assert upcoming["me"]["id"] == buyer_id
        assert edge["node"] == {
            "id": tour_id,
            "status": "SCHEDULED",
            "note": "Can we see the garden too?",
            "listing": {
                "id": listing_id,
                "title": "Lighthouse keeper's cottage with harbor views",
                "address": {"city": "Portland"},
            },
            "realtor": {"id": realtor_id, "displayName": "Rita"},
            "buyer": {"id": buyer_id, "displayName": "Ben"},
        }
