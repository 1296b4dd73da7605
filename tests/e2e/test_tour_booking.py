"""A realtor lists a home, a buyer finds it and books a tour, the realtor confirms, and the
buyer sees it live — every hop real: gateway → subgraphs → gRPC → NATS → subscription."""

from __future__ import annotations

import httpx
import websockets

from tests.e2e.conftest import Stack
from tests.flows import (
    COTTAGE,
    first_slot,
    gql,
    list_cottage,
    next_message,
    open_every_day,
    register,
    request_tour,
    subscribe,
    until_listening,
)


async def test_realtor_lists_buyer_books_realtor_confirms_everyone_sees_it(stack: Stack) -> None:
    url = stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        realtor_token, realtor_id = await register(client, url, "REALTOR", "Rita")
        buyer_token, buyer_id = await register(client, url, "BUYER", "Ben")
        await open_every_day(client, url, realtor_token)
        listing_id = await list_cottage(client, url, realtor_token)

        found = await gql(
            client,
            url,
            """query($filter: ListingFilter) {
                 listings(filter: $filter, sort: RELEVANCE, first: 20) {
                   edges { node { id title realtor { id displayName } } }
                 }
               }""",
            buyer_token,
            filter={"text": "lighthouse harbor", "city": "Portland"},
        )
        # Other tests of the session list the same cottage: find this realtor's.
        nodes = {edge["node"]["id"]: edge["node"] for edge in found["listings"]["edges"]}
        assert listing_id in nodes
        assert nodes[listing_id]["realtor"] == {"id": realtor_id, "displayName": "Rita"}

        starts_at = await first_slot(client, url, buyer_token, listing_id)
        tour_id = await request_tour(client, url, buyer_token, listing_id, starts_at)

        async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            await subscribe(
                ws,
                buyer_token,
                """subscription($id: ID!) {
                    tourStatusChanged(tourId: $id) {
                      id status listing { title } realtor { displayName }
                    }
                  }""",
                id=tour_id,
            )
            await until_listening(f"http://127.0.0.1:{stack.ports['scheduling'][0]}")
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
                "listing": {"title": COTTAGE},
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
                "title": COTTAGE,
                "address": {"city": "Portland"},
            },
            "realtor": {"id": realtor_id, "displayName": "Rita"},
            "buyer": {"id": buyer_id, "displayName": "Ben"},
        }
