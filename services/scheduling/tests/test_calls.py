"""What identity and listings see when scheduling calls them: scheduling's certificate,
plus the user being served (their own token, verified by the callee), or nobody for the
work scheduling does on its own (reminders)."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.access import Caller
from servicekit.auth import Principal, Role

FIRST = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York


async def test_a_users_request_reaches_listings_as_that_user(stack: Any) -> None:
    _, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    stack.peers.listings.callers.clear()
    body = await stack.request(buyer, listing, FIRST)
    assert not body.get("errors"), body
    as_buyer = Caller("scheduling", Principal(buyer.id, Role.BUYER))
    assert stack.peers.listings.callers and set(stack.peers.listings.callers) == {as_buyer}


async def test_reminders_ask_identity_on_nobodys_behalf(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    tour = (await stack.request(buyer, listing, FIRST))["data"]["requestTour"]
    await stack.ok(
        "mutation($id: ID!) { confirmTour(id: $id) { id } }", {"id": tour["id"]}, as_=realtor
    )
    stack.peers.identity.callers.clear()
    stack.clock.now = FIRST - timedelta(hours=24) + timedelta(minutes=1)
    # A worker's task starts with the process, outside any request: a fresh context (the
    # in-process test client leaves the last request's user in this one).
    sent = await asyncio.create_task(
        stack.parts.reminders.run_once(), context=contextvars.Context()
    )
    assert sum(sent) > 0
    assert stack.peers.identity.callers
    assert set(stack.peers.identity.callers) == {Caller("scheduling", None)}
