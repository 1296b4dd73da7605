"""Scheduling built against real servers: PostgreSQL, NATS, an SMTP catcher, a JWKS issuer,
and identity/listings served over real gRPC (mutual TLS, allow-lists) by small servers
holding fixture data (the network boundary is real; only the other services' internals are
replaced). The fakes record who called them, as the callee sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import grpc
import httpx
import pytest_asyncio
from realty.identity.v1 import identity_pb2_grpc
from realty.listings.v1 import listings_pb2, listings_pb2_grpc
from scheduling.app import MIGRATIONS_DIR, Parts, assemble
from scheduling.events import outgoing
from scheduling.graphql import build_schema
from scheduling.settings import Settings
from servicekit.access import Access, Caller, allow, current_caller
from servicekit.auth import Role
from servicekit.bus import Bus, ConsumerRunner, OutboxRelay
from servicekit.db import Database
from servicekit.graphql import SubgraphApp
from servicekit.grpc import GrpcServer
from servicekit.infrastructure import Infrastructure
from servicekit.mail import MailCatcher, SmtpMailer
from servicekit.settings import InfraSettings
from servicekit.testing import DatabaseFactory, TokenIssuer
from servicekit.testing.clock import ManualClock
from servicekit.testing.identity import FakeIdentity
from servicekit.testing.identity import Person as BasePerson
from servicekit.tls import DevAuthority, TlsMaterial

# A Monday, 12:00 UTC (07:00 in New York): the tests' "now".
NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
NY = "America/New_York"


class Clock(ManualClock):
    """A clock tests move by hand, starting at NOW."""

    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)


@dataclass
class Person(BasePerson):
    time_zone: str = NY


class FakeListings(listings_pb2_grpc.ListingsServicer):
    def __init__(self) -> None:
        self.listings: dict[str, listings_pb2.Listing] = {}
        self.calls = 0
        self.batch_calls = 0
        self.callers: list[Caller | None] = []

    async def GetListing(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls += 1
        self.callers.append(current_caller.get())
        found = self.listings.get(request.id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "listing not found")
        return found

    async def BatchGetListings(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.batch_calls += 1
        self.callers.append(current_caller.get())
        return listings_pb2.BatchGetListingsResponse(
            listings=[self.listings[i] for i in request.ids if i in self.listings]
        )


@dataclass
class Peers:
    identity: FakeIdentity
    listings: FakeListings
    target: str

    def person(self, role: Role, name: str | None = None, time_zone: str = NY) -> Person:
        ident = uuid.uuid4()
        label = name or f"{role.value.lower()}-{ident.hex[:6]}"
        person = Person(ident, f"{label}@example.com", label.title(), role, time_zone)
        self.identity.users[str(ident)] = person
        return person

    def listing(self, realtor: Person, status: str = "ACTIVE", time_zone: str = NY) -> uuid.UUID:
        ident = uuid.uuid4()
        self.listings.listings[str(ident)] = listings_pb2.Listing(
            id=str(ident),
            slug=f"home-{ident.hex[:6]}",
            title=f"Home {ident.hex[:6]}",
            status=listings_pb2.ListingStatus.Value(f"LISTING_STATUS_{status}"),
            realtor_id=str(realtor.id),
            address=listings_pb2.Address(
                street="1 Main St",
                city="Springfield",
                state="NY",
                postal_code="10001",
                country="US",
            ),
            time_zone=time_zone,
        )
        return ident


PEER_ACCESS = [
    Access(
        "realty.identity.v1.Identity",
        {"GetUser": allow("scheduling"), "BatchGetUsers": allow("scheduling")},
    ),
    Access(
        "realty.listings.v1.Listings",
        {"GetListing": allow("scheduling"), "BatchGetListings": allow("scheduling")},
    ),
]


def peer_tls(authority: DevAuthority) -> TlsMaterial:
    """One certificate naming both identity and listings: one server plays both."""
    cert, key = authority.issue(dns_names=["identity", "listings"], common_name="peers")
    return TlsMaterial(authority.ca_file.read_bytes(), cert, key)


async def _always_ready() -> bool:
    return True


@pytest_asyncio.fixture(loop_scope="session")
async def peers(grpc_authority: DevAuthority, token_issuer: TokenIssuer) -> AsyncIterator[Peers]:
    identity, listings = FakeIdentity(), FakeListings()
    verifier = token_issuer.verifier()
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        registrations=[
            lambda s: identity_pb2_grpc.add_IdentityServicer_to_server(identity, s),
            lambda s: listings_pb2_grpc.add_ListingsServicer_to_server(listings, s),
        ],
        service_names=[a.service for a in PEER_ACCESS],
        readiness=_always_ready,
        tls=peer_tls(grpc_authority),
        access=PEER_ACCESS,
        verifier=verifier,
    )
    await server.start()
    try:
        yield Peers(identity, listings, f"127.0.0.1:{server.port}")
    finally:
        await server.stop(None)
        await verifier.aclose()


WEEKDAYS_9_TO_5 = [
    {"weekday": day, "start": "09:00", "end": "17:00"}
    for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
]

SET_AVAILABILITY = """
mutation($input: AvailabilityInput!) {
  setAvailability(input: $input) { timeZone bufferMinutes weeklyHours { weekday start end } }
}
"""

TOUR_FIELDS = """
id status startsAt endsAt timeZone note statusReason createdAt updatedAt
listing { id } buyer { id } realtor { id }
history { from to at by { id } reason }
"""

REQUEST_TOUR = f"""
mutation($input: RequestTourInput!) {{ requestTour(input: $input) {{ {TOUR_FIELDS} }} }}
"""


@dataclass
class Stack:
    """Scheduling wired to the test servers, plus helpers to drive it."""

    parts: Parts
    clock: Clock
    peers: Peers
    issuer: TokenIssuer
    mail: MailCatcher
    bus: Bus
    settings: Settings
    client: httpx.AsyncClient
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    tour_fields: ClassVar[str] = TOUR_FIELDS
    start_of_tests: ClassVar[datetime] = NOW

    @property
    def db(self) -> Database:
        return self.parts.infra.db

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Person | None = None
    ) -> dict[str, Any]:
        headers = self.issuer.headers(as_.id, as_.role) if as_ else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Person | None = None
    ) -> dict[str, Any]:
        body = await self.gql(query, variables, as_=as_)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error_code(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Person | None = None
    ) -> str:
        body = await self.gql(query, variables, as_=as_)
        assert body.get("errors"), body
        code: str = body["errors"][0]["extensions"]["code"]
        return code

    def start(self, worker: Callable[[], Any]) -> None:
        self.tasks.append(asyncio.create_task(worker()))

    def start_relay(self) -> None:
        self.start(OutboxRelay(self.db, self.bus, idle_interval=0.2).run)

    def start_consumers(self) -> None:
        runner = ConsumerRunner(
            self.db, self.bus, "scheduling", self.parts.consumers.subscriptions()
        )
        self.start(runner.run)

    async def open_for_tours(
        self, *, time_zone: str = NY, buffer: int = 15, **extra: Any
    ) -> tuple[Person, uuid.UUID]:
        """A realtor with a bookable listing and weekday 09:00–17:00 hours."""
        realtor = self.peers.person(Role.REALTOR)
        listing = self.peers.listing(realtor, time_zone=time_zone)
        await self.ok(
            SET_AVAILABILITY,
            {
                "input": {
                    "timeZone": time_zone,
                    "weeklyHours": WEEKDAYS_9_TO_5,
                    "bufferMinutes": buffer,
                    "minimumNoticeMinutes": 60,
                    "maxDaysAhead": 60,
                    **extra,
                }
            },
            as_=realtor,
        )
        return realtor, listing

    async def request(
        self,
        buyer: Person,
        listing: uuid.UUID,
        starts_at: datetime,
        *,
        minutes: int = 30,
        key: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        return await self.gql(
            REQUEST_TOUR,
            {
                "input": {
                    "listingId": str(listing),
                    "startsAt": starts_at.isoformat(),
                    "durationMinutes": minutes,
                    "idempotencyKey": key,
                    "note": note,
                }
            },
            as_=buyer,
        )


def settings_for(
    url: str, peers: Peers, bus: Bus, mail: MailCatcher, issuer: TokenIssuer
) -> Settings:
    infra = InfraSettings(
        NATS_URL=bus.url,
        REALTY_BUS_NAMESPACE=bus.namespace,
        SMTP_PORT=mail.port,
        IDENTITY_JWKS_URL=issuer.jwks_url,
        JWT_ISSUER=issuer.issuer,
        JWT_AUDIENCE=issuer.audience,
    )
    return Settings(
        database_url=url,
        listings_grpc=peers.target,
        identity_grpc=peers.target,
        grpc_timeout_seconds=10.0,  # generous: a loaded 2-core CI machine, not a test of deadlines
        public_url="http://scheduling.test",
        infra=infra,
    )


async def build_parts(
    url: str, settings: Settings, bus: Bus, mail: MailCatcher, issuer: TokenIssuer, clock: Clock
) -> Parts:
    infra = Infrastructure(
        settings=settings,
        db=Database(url, source="scheduling", pool_size=5, max_overflow=20, events=outgoing),
        bus=bus,
        verifier=issuer.verifier(),
        mailer=SmtpMailer("127.0.0.1", mail.port),
    )
    return assemble(settings, infra, clock=clock)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    database_factory: DatabaseFactory,
    bus: Bus,
    peers: Peers,
    mail_catcher: MailCatcher,
    token_issuer: TokenIssuer,
) -> AsyncIterator[Stack]:
    url = await database_factory.create(MIGRATIONS_DIR)
    settings = settings_for(url, peers, bus, mail_catcher, token_issuer)
    clock = Clock()
    parts = await build_parts(url, settings, bus, mail_catcher, token_issuer, clock)
    app = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    the_stack = Stack(parts, clock, peers, token_issuer, mail_catcher, bus, settings, client)
    try:
        yield the_stack
    finally:
        for task in the_stack.tasks:
            task.cancel()
        for task in the_stack.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await client.aclose()
        await parts.directory.close()
        await parts.infra.verifier.aclose()
        await parts.infra.db.dispose()
        await database_factory.drop(url)
