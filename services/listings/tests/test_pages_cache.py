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
from realty.events.v1.envelope_pb2 import Envelope
from realty.identity.v1 import identity_pb2, identity_pb2_grpc
from servicekit.access import Access, allow
from servicekit.auth import Role
from servicekit.bus import OutboxRelay
from servicekit.grpc import GrpcServer
from servicekit.infrastructure import Infrastructure
from servicekit.mail import build_mailer
from servicekit.testing.identity import FakeIdentity, Person
from servicekit.tls import TlsMaterial
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


class Identity(FakeIdentity):
    """identity's gRPC contract from a dictionary; realtors have a photo."""

    photos: dict[str, str]
    profiles: dict[str, identity_pb2.RealtorProfile]

    def _user(self, person: Person) -> identity_pb2.User:  # type: ignore[override]
        user = FakeIdentity._user(person)
        user.avatar_url = self.photos.get(user.id, "")
        if user.id in self.profiles:
            user.realtor.CopyFrom(self.profiles[user.id])
        return user


async def ready() -> bool:
    return True


@pytest_asyncio.fixture(loop_scope="session")
async def identity(grpc_authority: Any, token_issuer: Any) -> AsyncIterator[tuple[Identity, str]]:
    """A stand-in for identity's gRPC service, over mutual TLS as in production."""
    fake = Identity()
    fake.photos = {}
    fake.profiles = {}
    verifier = token_issuer.verifier()
    cert, key = grpc_authority.issue(dns_names=["identity"], common_name="identity")
    access = Access(
        "realty.identity.v1.Identity", {"GetUser": allow("listings"), "BatchGetUsers": allow()}
    )
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        registrations=[lambda s: identity_pb2_grpc.add_IdentityServicer_to_server(fake, s)],
        service_names=[access.service],
        readiness=ready,
        tls=TlsMaterial(grpc_authority.ca_file.read_bytes(), cert, key),
        access=[access],
        verifier=verifier,
    )
    await server.start()
    try:
        yield fake, f"127.0.0.1:{server.port}"
    finally:
        await server.stop(None)
        await verifier.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def live(
    db: Any, storage: Any, aws_endpoint: str, bus: Any, token_issuer: Any, clock: Any,
    identity: tuple[Identity, str], grpc_authority: Any,
) -> AsyncIterator[tuple[Parts, Api]]:  # fmt: skip
    """The service's HTTP app with its outbox relay and page-cache feed on a real bus, and
    identity answering for realtors."""
    settings = Settings(
        database_url=db.url,
        public_url=PUBLIC_URL,
        photos_bucket=storage.bucket,
        kms_key_alias=storage.kms_key_alias,
        s3_endpoint_url=aws_endpoint,
        identity_grpc=identity[1],
    )
    infra = Infrastructure(
        settings=settings,
        db=db,
        bus=bus,
        verifier=token_issuer.verifier(),
        mailer=build_mailer(settings.infra),
        tls=grpc_authority.material("listings"),
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


async def test_the_page_shows_the_realtors_public_profile_and_follows_its_changes(
    live, identity, realtor, bus
):
    _, api = live
    fake, _ = identity
    fake.add(Person(realtor[0], "ada.lovelace@example.com", "Ada Lovelace", Role.REALTOR))
    fake.photos[str(realtor[0])] = "https://cdn.realty.test/avatars/ada.jpg"
    fake.profiles[str(realtor[0])] = identity_pb2.RealtorProfile(
        brokerage="Harbor <Homes>", license_number="RE-4471", verified=True, bio="not shown"
    )
    listing = await api.create_listing(realtor)
    path = f"/homes/{listing['slug']}"
    first = await api.client.get(path)
    html = first.text
    assert '<strong class="realtor-name">Ada Lovelace</strong>' in html
    assert 'src="https://cdn.realty.test/avatars/ada.jpg" alt="Photo of Ada Lovelace"' in html
    assert "ada.lovelace@example.com" not in html  # identity's contact details never shown
    assert 'of <span class="realtor-brokerage">Harbor &lt;Homes&gt;</span>' in html
    assert "Licence <span>RE-4471</span> (verified by RealtyForYou)" in html
    fake.add(Person(realtor[0], "ada.lovelace@example.com", "Ada King", Role.REALTOR))
    assert "Ada Lovelace" in (await api.client.get(path)).text  # kept, until identity says
    envelope = Envelope(
        id=str(uuid.uuid4()), type="realty.identity.v1.UserUpdated",
        subject="identity.user.updated", subject_id=str(realtor[0]), source="identity",
        payload=identity_pb2.UserUpdated(user_id=str(realtor[0])).SerializeToString(),
    )  # fmt: skip
    await bus.publish("identity.user.updated", envelope.SerializeToString(), msg_id=envelope.id)
    async with asyncio.timeout(10):
        while "Ada King" not in (changed := await api.client.get(path)).text:
            await asyncio.sleep(0.02)
    assert changed.headers["etag"] != first.headers["etag"]  # a revalidation gets the new name
    stranger = await api.create_listing((uuid.uuid4(), Role.REALTOR))  # identity knows nobody
    page = (await api.client.get(f"/homes/{stranger['slug']}")).text
    assert "Listed by a RealtyForYou realtor." in page and "realtor-name" not in page
