"""The page cache: a page asked for again is answered from memory (no statement), a change
of its listing reaches it through the bus, and nothing is cached while invalidations could
be missed."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from listings.app import Parts, assemble, runtime
from listings.domain import Listing, ListingStatus
from listings.pages.cache import CachedPage, PageCache
from listings.settings import Settings
from servicekit.auth import Role
from servicekit.bus import OutboxRelay
from servicekit.infrastructure import Infrastructure
from servicekit.mail import build_mailer
from servicekit.vocabulary import Principal
from sqlalchemy import event

from .conftest import PUBLIC_URL, Api

UPDATE = "mutation($id: ID!, $input: UpdateListingInput!) { updateListing(id: $id, input: $input) { slug } }"


def cached(listing: Listing, *, window: int | None = None, expires: float = 100.0) -> CachedPage:
    return CachedPage(listing=listing, tag="W/1", body=b"<p>", window=window, expires=expires)


def a_listing(details: Any) -> Listing:
    return Listing.create(
        by=Principal(uuid.uuid4(), Role.REALTOR),
        details=details("A home"),
        status=ListingStatus.ACTIVE,
        time_zone="America/Los_Angeles",
        now=datetime(2026, 5, 1, tzinfo=UTC),
    )


class Now:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


def test_pages_are_kept_only_while_invalidations_are_heard(details):
    now, hearing = Now(), [True]
    cache = PageCache(capacity=2, seconds=10, usable=lambda: hearing[0], clock=now)
    one, two, three = (a_listing(details) for _ in range(3))
    cache.put("one", cached(one, expires=cache.expires_at()), generation=cache.generation)
    assert cache.get("one", None) is not None
    assert cache.get("one", 7) is None  # another photo-signing window: rendered again
    cache.put("one", cached(one, expires=cache.expires_at()), generation=cache.generation)
    started = cache.generation
    cache.invalidate(two.id)  # any invalidation while a page was being read...
    cache.put("two", cached(two), generation=started)  # ...keeps that read out
    assert cache.get("two", None) is None
    cache.put("two", cached(two, expires=5), generation=cache.generation)
    cache.put("three", cached(three, expires=5), generation=cache.generation)
    assert cache.get("one", None) is None and len(cache) == 2  # least recently used went
    cache.invalidate(two.id)
    assert cache.get("two", None) is None and cache.get("three", None) is not None
    now.value = 6
    assert cache.get("three", None) is None  # expired
    cache.put("one", cached(one, expires=100), generation=cache.generation)
    hearing[0] = False  # the bus is gone: everything cached may go stale unseen
    assert cache.get("one", None) is None and len(cache) == 0
    cache.put("one", cached(one, expires=100), generation=cache.generation)
    assert len(cache) == 0
    hearing[0] = True
    mine, theirs = a_listing(details), a_listing(details)
    cache.put("mine", cached(mine, expires=100), generation=cache.generation)
    cache.put("theirs", cached(theirs, expires=100), generation=cache.generation)
    cache.invalidate_realtor(mine.realtor_id)
    assert cache.get("mine", None) is None and cache.get("theirs", None) is not None
    assert not PageCache(capacity=0).enabled and not PageCache(seconds=0).enabled


@pytest_asyncio.fixture(loop_scope="session")
async def live(
    db: Any, storage: Any, aws_endpoint: str, bus: Any, token_issuer: Any, clock: Any
) -> AsyncIterator[tuple[Parts, Api]]:
    """The service's HTTP app with its outbox relay and page-cache feed on a real bus."""
    settings = Settings(
        database_url=db.url,
        public_url=PUBLIC_URL,
        photos_bucket=storage.bucket,
        kms_key_alias=storage.kms_key_alias,
        s3_endpoint_url=aws_endpoint,
    )
    infra = Infrastructure(
        settings=settings,
        db=db,
        bus=bus,
        verifier=token_issuer.verifier(),
        mailer=build_mailer(settings.infra),
    )
    parts = assemble(settings, infra, clock=clock)
    tasks = [
        asyncio.create_task(OutboxRelay(db, bus, idle_interval=0.1).run()),
        asyncio.create_task(parts.page_feed.run()),
    ]
    try:
        async with asyncio.timeout(10):
            while not parts.page_feed.usable():
                await asyncio.sleep(0.01)
        transport = httpx.ASGITransport(app=runtime(parts).http_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield parts, Api(client, token_issuer)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await infra.verifier.aclose()


@contextlib.contextmanager
def statements(parts: Parts) -> Any:
    """Counts the SQL statements the service runs inside the block."""
    counted: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement)

    engine = parts.infra.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_page_seen_before_costs_no_statement_until_its_listing_changes(live, realtor):
    parts, api = live
    listing = await api.create_listing(realtor)
    path = f"/homes/{listing['slug']}"
    first = await api.client.get(path)
    assert first.status_code == 200
    with statements(parts) as counted:
        again = await api.client.get(path)
        revalidated = await api.client.get(path, headers={"if-none-match": first.headers["etag"]})
    assert counted == []
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == first.headers["cache-control"]
    assert again.headers["content-type"] == "text/html; charset=utf-8"
    assert revalidated.status_code == 304 and not revalidated.content
    await api.data(UPDATE, {"id": listing["id"], "input": {"bedrooms": 5}}, who=realtor)
    async with asyncio.timeout(10):  # the relay publishes, the feed drops the page
        while "<li>5 bedrooms</li>" not in (changed := await api.client.get(path)).text:
            await asyncio.sleep(0.02)
    assert changed.headers["etag"] != first.headers["etag"]
    await api.data(UPDATE, {"id": listing["id"], "input": {"status": "WITHDRAWN"}}, who=realtor)
    async with asyncio.timeout(10):
        while (await api.client.get(path)).status_code != 404:
            await asyncio.sleep(0.02)
