"""Dependencies go down and come back under load: nothing is lost, nothing is done twice,
and what fails says so with a code — never INTERNAL_SERVER_ERROR, never a 500."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from tests.chaos.conftest import LOAD_CLIENTS, OUTAGE_SECONDS, Chaos
from tests.flows import (
    COTTAGE,
    first_slot,
    gql,
    list_cottage,
    next_message,
    open_every_day,
    post,
    register,
    request_tour,
    subscribe,
    until_listening,
)

TOUR = "query($id: ID!) { tour(id: $id) { id status listing { title } } }"
LISTING = "query($id: ID!) { listing(id: $id) { id title } }"


@dataclass
class Booking:
    realtor: str
    buyer: str
    listing_id: str
    tour_id: str


async def book(client: httpx.AsyncClient, url: str) -> Booking:
    realtor, _ = await register(client, url, "REALTOR", "Rita")
    buyer, _ = await register(client, url, "BUYER", "Ben")
    await open_every_day(client, url, realtor)
    listing_id = await list_cottage(client, url, realtor)
    starts_at = await first_slot(client, url, buyer, listing_id)
    return Booking(
        realtor, buyer, listing_id, await request_tour(client, url, buyer, listing_id, starts_at)
    )


@dataclass
class Load:
    """Bounded background traffic during an outage; every answer is kept for inspection."""

    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def internal_errors(self) -> list[Any]:
        return [
            (status, body)
            for status, body in self.answers
            if status >= 500
            or any(
                (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"
                for e in body.get("errors") or []
            )
        ]


@contextlib.asynccontextmanager
async def under_load(url: str, booking: Booking) -> AsyncIterator[Load]:
    load = Load()
    stop = asyncio.Event()

    async def client_loop() -> None:
        async with httpx.AsyncClient(timeout=20) as client:
            while not stop.is_set():
                for query, variables in (
                    (TOUR, {"id": booking.tour_id}),
                    (LISTING, {"id": booking.listing_id}),
                ):
                    response = await client.post(
                        url,
                        json={"query": query, "variables": variables},
                        headers={"Authorization": f"Bearer {booking.buyer}"},
                    )
                    load.answers.append((response.status_code, response.json()))
                await asyncio.sleep(
                    0.05
                )  # pacing: a bounded request rate, not a wait for an effect

    tasks = [asyncio.create_task(client_loop()) for _ in range(LOAD_CLIENTS)]
    try:
        yield load
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def eventually(probe: Any, *, timeout: float = 60.0) -> Any:
    """The first truthy result of `probe()`, polled until `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "not recovered in time"
        await asyncio.sleep(0.2)


async def test_nats_down_loses_no_event_and_delivers_none_twice(chaos: Chaos) -> None:
    url = chaos.stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        booking = await book(client, url)
        async with websockets.connect(
            chaos.stack.ws_url, subprotocols=["graphql-transport-ws"]
        ) as ws:
            await subscribe(
                ws,
                booking.buyer,
                "subscription($id: ID!) { tourStatusChanged(tourId: $id) { id status } }",
                id=booking.tour_id,
            )
            await until_listening(f"http://127.0.0.1:{chaos.stack.ports['scheduling'][0]}")
            chaos.down(chaos.nats)
            try:
                async with under_load(url, booking) as load:
                    confirmed = await gql(
                        client, url, "mutation($id: ID!) { confirmTour(id: $id) { status } }",
                        booking.realtor, id=booking.tour_id,
                    )  # fmt: skip
                    assert confirmed["confirmTour"]["status"] == "SCHEDULED"  # written without NATS
                    await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself
            finally:
                chaos.up(chaos.nats)
            first = await next_message(ws, timeout=60)
            assert first["payload"]["data"]["tourStatusChanged"]["status"] == "SCHEDULED"
            await gql(
                client, url, 'mutation($id: ID!) { cancelTour(id: $id, reason: "storm") { status } }',
                booking.buyer, id=booking.tour_id,
            )  # fmt: skip
            second = await next_message(ws, timeout=60)
            # The next update is the cancellation, not the confirmation again.
            assert second["payload"]["data"]["tourStatusChanged"]["status"] == "CANCELLED"
    assert load.answers and load.internal_errors() == []


async def test_a_service_database_down_makes_its_fields_unavailable_and_only_those(
    chaos: Chaos,
) -> None:
    url = chaos.stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        booking = await book(client, url)
        chaos.down(chaos.databases["scheduling"])
        try:
            async with under_load(url, booking) as load:
                tour = await post(client, url, TOUR, booking.buyer, id=booking.tour_id)
                listing = await gql(client, url, LISTING, booking.buyer, id=booking.listing_id)
                await asyncio.sleep(OUTAGE_SECONDS)
        finally:
            chaos.up(chaos.databases["scheduling"])
        codes = {(e.get("extensions") or {}).get("code") for e in tour.get("errors") or []}
        assert codes == {"UNAVAILABLE"}, tour
        assert listing["listing"]["title"] == COTTAGE  # other services serve on

        async def tour_is_back() -> dict[str, Any] | None:
            body = await post(client, url, TOUR, booking.buyer, id=booking.tour_id)
            return None if body.get("errors") else body

        back = await eventually(tour_is_back)
        assert back["data"]["tour"]["status"] == "REQUESTED"
    assert load.answers and load.internal_errors() == []


async def test_a_consumer_whose_database_is_down_does_every_effect_once_it_is_back(
    chaos: Chaos,
) -> None:
    """The buyer erases their account while scheduling's database refuses connections:
    scheduling's consumer waits (it does not dead-letter), then cancels the tour, once."""
    url = chaos.stack.graphql_url
    password = f"Erase-{uuid.uuid4().hex[:12]}-Me!"
    async with httpx.AsyncClient(timeout=20) as client:
        realtor, _ = await register(client, url, "REALTOR", "Rita")
        buyer, _ = await register(client, url, "BUYER", "Ben", password=password)
        await open_every_day(client, url, realtor)
        listing_id = await list_cottage(client, url, realtor)
        starts_at = await first_slot(client, url, buyer, listing_id)
        tour_id = await request_tour(client, url, buyer, listing_id, starts_at)
        chaos.down(chaos.databases["scheduling"])
        try:
            erased = await gql(
                client, url, "mutation($p: String!) { deleteMyAccount(password: $p) }", buyer, p=password
            )  # fmt: skip
            assert erased["deleteMyAccount"] is True
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself
        finally:
            chaos.up(chaos.databases["scheduling"])
        history = "query($id: ID!) { tour(id: $id) { status history { to } } }"

        async def cancelled() -> dict[str, Any] | None:
            body = await post(client, url, history, realtor, id=tour_id)
            tour = (body.get("data") or {}).get("tour")
            return tour if tour and tour["status"] == "CANCELLED" else None

        tour = await eventually(cancelled, timeout=120)
    assert [step["to"] for step in tour["history"]].count("CANCELLED") == 1


async def test_a_stopped_service_degrades_only_the_fields_it_resolves(chaos: Chaos) -> None:
    url = chaos.stack.graphql_url
    both = """query($tour: ID!, $listing: ID!) {
        tour(id: $tour) { id status }
        listing(id: $listing) { title }
    }"""
    async with httpx.AsyncClient(timeout=20) as client:
        booking = await book(client, url)
        chaos.stack.stop_service("listings")
        try:
            partial = await post(
                client, url, both, booking.buyer, tour=booking.tour_id, listing=booking.listing_id
            )
            nested = await post(client, url, TOUR, booking.buyer, id=booking.tour_id)
        finally:
            await asyncio.to_thread(chaos.stack.start_service, "listings")
        assert partial["data"]["tour"]["status"] == "REQUESTED"  # scheduling still answers
        assert partial["data"]["listing"] is None
        [error] = partial["errors"]
        assert (error["path"], error["extensions"]["code"]) == (["listing"], "UNAVAILABLE")
        # A non-null field of a stopped service nulls its parent, with the reason and where.
        [error] = nested["errors"]
        assert (error["path"], error["extensions"]["code"]) == (["tour", "listing"], "UNAVAILABLE")
        whole = await gql(client, url, TOUR, booking.buyer, id=booking.tour_id)
        assert whole["tour"]["listing"]["title"] == COTTAGE
