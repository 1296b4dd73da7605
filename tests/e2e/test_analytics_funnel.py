"""A buyer views a listing and books a tour, the realtor confirms, and the realtor's
dashboard, asked through the gateway, shows each of those steps of the funnel: events from
the web (trackEvent) and from the services' streams (listings, scheduling) meet in
analytics, which extends identity's User and listings' Listing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.conftest import Stack
from tests.flows import first_slot, gql, list_cottage, open_every_day, register, request_tour

DASHBOARD = """
query($from: DateTime!, $to: DateTime!) {
  me { dashboard(from: $from, to: $to) {
    current { funnel { name count conversion } medianResponseMinutes }
    listings { listing { id title } counts { views requested scheduled } }
  } }
}"""


async def until(check: Any, timeout: float = 30.0) -> Any:
    """The first non-empty answer of `check`, asked until the events have been consumed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "the dashboard never caught up"
        await asyncio.sleep(0.2)


async def test_the_realtors_dashboard_shows_the_buyers_steps(stack: Stack) -> None:
    url = stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        realtor_token, _ = await register(client, url, "REALTOR", "Rita")
        buyer_token, _ = await register(client, url, "BUYER", "Ben")
        await open_every_day(client, url, realtor_token)
        listing_id = await list_cottage(client, url, realtor_token)
        since = datetime.now(UTC) - timedelta(minutes=1)

        visitor = uuid.uuid4().hex
        viewed = await gql(
            client,
            url,
            "mutation($input: TrackEventInput!) { trackEvent(input: $input) }",
            None,
            input={"name": "Property View", "listingId": listing_id, "anonymousId": visitor,
                   "properties": {"propertyType": "house", "location": "Portland"}},
        )  # fmt: skip
        assert viewed == {"trackEvent": True}
        tour_id = await request_tour(
            client,
            url,
            buyer_token,
            listing_id,
            await first_slot(client, url, buyer_token, listing_id),
        )
        await gql(
            client, url, "mutation($id: ID!) { confirmTour(id: $id) { status } }", realtor_token,
            id=tour_id,
        )  # fmt: skip
        period = {"from": since.isoformat(), "to": (since + timedelta(hours=1)).isoformat()}

        async def board() -> Any:
            data = await gql(client, url, DASHBOARD, realtor_token, **period)
            dashboard = data["me"]["dashboard"]
            counts = [step["count"] for step in dashboard["current"]["funnel"]]
            return dashboard if counts[:3] == [1, 1, 1] else None

        dashboard = await until(board)
        assert [
            (s["name"], s["count"], s["conversion"]) for s in dashboard["current"]["funnel"]
        ] == [
            ("Property View", 1, None),
            ("Tour Requested", 1, 1.0),
            ("Tour Scheduled", 1, 1.0),
            ("Tour Started", 0, 0.0),
            ("Tour Completed", 0, None),
        ]
        assert dashboard["current"]["medianResponseMinutes"] is not None
        assert dashboard["listings"] == [
            {"listing": {"id": listing_id, "title": "Lighthouse keeper's cottage with harbor views"},
             "counts": {"views": 1, "requested": 1, "scheduled": 1}}
        ]  # fmt: skip

        stats = await gql(
            client,
            url,
            "query($id: ID!) { listing(id: $id) { stats { views requests tours } } }",
            realtor_token,
            id=listing_id,
        )
        assert stats["listing"]["stats"] == {"views": 1, "requests": 1, "tours": 0}
        refused = await client.post(
            url,
            json={"query": DASHBOARD, "variables": period},
            headers={"Authorization": f"Bearer {buyer_token}"},
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
