"""Property Views: the page's beacon counts a visitor's view once per 30 minutes, with a
first-party cookie, and `listings.listing.viewed` reaches the bus through the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

from listings.events import SUBJECT_VIEWED, listing_viewed
from listings.pages.views import ViewCounter, ViewRecorder, referrer_host, visitor_from
from realty.listings.v1 import listings_pb2
from servicekit.bus import Event
from servicekit.tables import outbox
from sqlalchemy import func, select

from .test_pages_cache import a_listing, identity, live  # noqa: F401 - the fixtures


def test_a_view_counts_once_per_visitor_and_listing_per_half_hour():
    counter = ViewCounter(max_entries=3)
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    home, other = uuid.uuid4(), uuid.uuid4()
    assert counter.counts("a", home, start)
    assert not counter.counts("a", home, start + timedelta(minutes=29, seconds=59))
    assert counter.counts("a", other, start)  # another listing
    assert counter.counts("b", home, start)  # another visitor
    assert counter.counts("a", home, start + timedelta(minutes=30))
    assert not counter.counts("a", home, start + timedelta(minutes=59))  # from the last count
    counter.counts("c", home, start + timedelta(hours=2))
    assert len(counter) == 1  # the expired ones were pruned
    assert referrer_host("https://www.google.com/search?q=homes") == "www.google.com"
    assert referrer_host("") == referrer_host("javascript:alert(1)") == ""
    assert visitor_from("0123456789abcdef0123456789abcdef") is not None
    assert visitor_from("x; admin=1") is None and visitor_from(None) is None


async def test_the_beacon_counts_views_and_they_reach_the_bus(live, realtor, clock):  # noqa: F811
    parts, api = live
    listing = await api.create_listing(realtor)
    path = f"/homes/{listing['slug']}"
    page = await api.client.get(path)
    assert page.status_code == 200 and "set-cookie" not in page.headers  # cacheable by all
    assert f"{path}/viewed" not in page.text and '"/viewed"' in page.text  # the beacon
    bus = parts.infra.bus
    received: list[Event] = []

    async def on_message(msg) -> None:
        received.append(Event.from_envelope(msg.data))

    subscription = await bus.nc.subscribe(bus.subject(SUBJECT_VIEWED), cb=on_message)
    beacon = f"{path}/viewed"
    first = await api.client.post(beacon, content="https://www.google.com/search?q=loft")
    assert first.status_code == 204 and first.headers["cache-control"] == "no-store"
    cookie = first.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=lax", "Max-Age=31536000", "Path=/", "Secure"):
        assert attribute.lower() in cookie.lower()
    visitor = first.cookies["rfy_visitor"]
    api.client.cookies.clear()  # each request below names its visitor itself
    again = await api.client.post(beacon, headers={"cookie": f"rfy_visitor={visitor}"})
    assert again.status_code == 204 and "set-cookie" not in again.headers
    someone = {"cookie": f"rfy_visitor={uuid.uuid4().hex}"}
    someone_else = await api.client.post(beacon, headers=someone)
    assert someone_else.status_code == 204
    clock.advance(timedelta(minutes=31))
    later = await api.client.post(beacon, headers={"cookie": f"rfy_visitor={visitor}"})
    assert later.status_code == 204
    assert (await api.client.post("/homes/no-such-home/viewed")).status_code == 404
    assert await parts.views.recorder.flush() == 3  # counted: first, someone else, later
    async with parts.infra.db.engine.connect() as conn:
        rows = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.subject == SUBJECT_VIEWED)
        )
    assert rows == 3
    async with asyncio.timeout(10):
        while len(received) < 3:
            await asyncio.sleep(0.02)
    await subscription.unsubscribe()
    views = [e.unpack(listings_pb2.ListingViewed) for e in received]
    assert [v.visitor_id for v in views].count(visitor) == 2
    assert {e.subject_id for e in received} == {listing["id"]}
    view = next(v for v in views if v.referrer_host)
    assert view.referrer_host == "www.google.com" and view.visitor_id == visitor
    assert view.listing_id == listing["id"] and view.realtor_id == str(realtor[0])
    assert (view.price_cents, view.currency) == (listing["price"]["amount"], "USD")
    assert (view.city, view.state, view.country) == ("Portland", "OR", "US")
    assert view.property_type == listing["propertyType"]
    assert view.viewed_at.ToDatetime(tzinfo=UTC) <= clock()


async def test_views_are_written_in_batches_and_what_is_buffered_at_shutdown(db, details):
    recorder = ViewRecorder(db, interval=60, batch_size=2)
    listing = a_listing(details)
    at = datetime(2026, 5, 1, 9, tzinfo=UTC)

    async def written() -> int:
        async with db.engine.connect() as conn:
            query = select(func.count()).select_from(outbox)
            return int(await conn.scalar(query.where(outbox.c.subject == SUBJECT_VIEWED)) or 0)

    worker = asyncio.create_task(recorder.run())
    try:
        recorder.add(listing_viewed(listing, "a" * 32, at, ""))
        assert len(recorder) == 1  # below a batch, within the interval: buffered
        recorder.add(listing_viewed(listing, "b" * 32, at, ""))  # a full batch: written now
        async with asyncio.timeout(10):
            while await written() < 2:
                await asyncio.sleep(0.02)
        recorder.add(listing_viewed(listing, "c" * 32, at, ""))
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    await recorder.close()  # the shutdown hook
    assert await written() == 3 and len(recorder) == 0
