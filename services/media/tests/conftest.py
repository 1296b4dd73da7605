"""Media built against real servers: PostgreSQL, NATS, an SMTP catcher, a JWKS issuer, SQS
(moto), and identity served over real gRPC (mutual TLS, allow-lists) by a small server
holding fixture users. Chime is a client double that behaves as Chime does for the calls
media makes (idempotent tokens, NotFound once a meeting ended, throttling on demand) and
counts every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest_asyncio
from botocore.exceptions import ClientError
from chimesim.testing import ChimeSim, EventQueue
from media.app import MIGRATIONS_DIR, Parts, assemble
from media.chime import ChimeMeetings
from media.domain import Tour, TourStatus
from media.events import outgoing
from media.graphql import build_schema
from media.settings import Settings
from media.store import follow_tour
from realty.identity.v1 import identity_pb2_grpc
from servicekit.access import Access, allow
from servicekit.auth import Role
from servicekit.bus import Bus
from servicekit.db import Database
from servicekit.graphql import SubgraphApp
from servicekit.grpc import GrpcServer
from servicekit.infrastructure import Infrastructure
from servicekit.mail import MailCatcher, SmtpMailer
from servicekit.settings import InfraSettings
from servicekit.testing import DatabaseFactory, TokenIssuer
from servicekit.testing.clock import ManualClock
from servicekit.testing.identity import FakeIdentity, Person
from servicekit.tls import DevAuthority, TlsMaterial
from sqlalchemy import text

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)


class Clock(ManualClock):
    """A clock tests move by hand, starting at NOW."""

    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class FakeChime:
    """`chime-sdk-meetings` as a boto3 client would answer media's calls."""

    def __init__(self, *, create_delay: float = 0.0) -> None:
        self.meetings: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.attendees: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: Counter[str] = Counter()
        self.failures: list[tuple[str, str, int]] = []
        self.create_delay = create_delay
        self.refused: dict[str, str] = {}
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def fail(self, operation: str, code: str, status: int, times: int = 1) -> None:
        self.failures.extend([(operation, code, status)] * times)

    def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        if self.failures and self.failures[0][0] in (operation, "*"):
            _, code, status = self.failures.pop(0)
            raise client_error(code, status, operation)

    def _meeting(self, meeting_id: str, operation: str) -> dict[str, Any]:
        found = self.meetings.get(meeting_id)
        if found is None:
            raise client_error("NotFound", 404, operation)
        return found

    def end(self, meeting_id: str) -> None:
        """The meeting ends on Chime's side (nobody there, 24 hours)."""
        with self._lock:
            self.meetings.pop(meeting_id, None)

    def create_meeting_with_attendees(self, **kw: Any) -> dict[str, Any]:
        """A repeated token returns the meeting made with it and, of the attendees asked
        for, only those it already has (as the emulator does)."""
        if self.create_delay:
            threading.Event().wait(self.create_delay)
        with self._lock:
            self._enter("CreateMeetingWithAttendees")
            known = self.tokens.get(kw["ClientRequestToken"])
            if known is not None and known in self.meetings:
                wanted = {item["ExternalUserId"] for item in kw["Attendees"]}
                people = self.attendees[known].values()
                return {
                    "Meeting": self.meetings[known],
                    "Attendees": [a for a in people if a["ExternalUserId"] in wanted],
                }
            meeting_id = str(uuid.uuid4())
            host = f"https://media.example/{meeting_id}"
            meeting = {
                "MeetingId": meeting_id,
                "MeetingArn": f"arn:aws:chime:us-east-1:123456789012:meeting/{meeting_id}",
                "ExternalMeetingId": kw["ExternalMeetingId"],
                "MediaRegion": kw["MediaRegion"],
                "MediaPlacement": {
                    "AudioHostUrl": f"{meeting_id}.k.m1.ue1.app.chime.aws:3478",
                    "AudioFallbackUrl": f"wss://haxrp.m1.ue1.app.chime.aws:443/calls/{meeting_id}",
                    "SignalingUrl": f"wss://signal.m1.ue1.app.chime.aws/control/{meeting_id}",
                    "TurnControlUrl": "https://2713.cell.us-east-1.meetings.chime.aws/v2/turn_sessions",
                    "ScreenDataUrl": f"{host}/screen",
                    "ScreenViewingUrl": f"{host}/view",
                    "ScreenSharingUrl": f"{host}/share",
                    "EventIngestionUrl": "https://data.svc.ue1.ingest.chime.aws/v1/client-events",
                },
                "TenantIds": [],
            }
            self.meetings[meeting_id] = meeting
            self.tokens[kw["ClientRequestToken"]] = meeting_id
            self.attendees[meeting_id] = {}
            made, errors = self._add_all(meeting_id, kw["Attendees"])
            return {"Meeting": meeting, "Attendees": made, "Errors": errors}

    def create_attendee(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._enter("CreateAttendee")
            self._meeting(kw["MeetingId"], "CreateAttendee")
            people = self.attendees[kw["MeetingId"]]
            for attendee in people.values():
                if attendee["ExternalUserId"] == kw["ExternalUserId"]:
                    return {"Attendee": attendee}
            attendee_id = str(uuid.uuid4())
            attendee = {
                "ExternalUserId": kw["ExternalUserId"],
                "AttendeeId": attendee_id,
                "JoinToken": f"token-{next(self._numbers)}",
                "Capabilities": dict(kw["Capabilities"]),
            }
            people[attendee_id] = attendee
            return {"Attendee": attendee}

    def batch_create_attendee(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._enter("BatchCreateAttendee")
            self._meeting(kw["MeetingId"], "BatchCreateAttendee")
            made, errors = self._add_all(kw["MeetingId"], kw["Attendees"])
            return {"Attendees": made, "Errors": errors}

    def _add_all(
        self, meeting_id: str, items: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`refused` maps an ExternalUserId to the ErrorCode its entry in `Errors` gets."""
        people = self.attendees[meeting_id]
        made: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in items:
            external = item["ExternalUserId"]
            if external in self.refused:
                errors.append(
                    {
                        "ExternalUserId": external,
                        "ErrorCode": self.refused[external],
                        "ErrorMessage": self.refused[external],
                    }
                )
                continue
            known = [a for a in people.values() if a["ExternalUserId"] == external]
            if known:
                made.append(known[0])
                continue
            attendee_id = str(uuid.uuid4())
            attendee = {
                "ExternalUserId": external,
                "AttendeeId": attendee_id,
                "JoinToken": f"token-{next(self._numbers)}",
                "Capabilities": dict(item["Capabilities"]),
            }
            people[attendee_id] = attendee
            made.append(attendee)
        return made, errors

    def _attendee(self, kw: dict[str, Any], operation: str) -> dict[str, Any]:
        self._meeting(kw["MeetingId"], operation)
        found = self.attendees[kw["MeetingId"]].get(kw["AttendeeId"])
        if found is None:
            raise client_error("NotFound", 404, operation)
        return found

    def get_attendee(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._enter("GetAttendee")
            return {"Attendee": self._attendee(kw, "GetAttendee")}

    def update_attendee_capabilities(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._enter("UpdateAttendeeCapabilities")
            attendee = self._attendee(kw, "UpdateAttendeeCapabilities")
            attendee["Capabilities"] = dict(kw["Capabilities"])
            return {
                "Attendee": {k: v for k, v in attendee.items() if k != "JoinToken"},
            }

    def delete_attendee(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._enter("DeleteAttendee")
            self._attendee(kw, "DeleteAttendee")
            del self.attendees[kw["MeetingId"]][kw["AttendeeId"]]
            return {}

    def delete_meeting(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._enter("DeleteMeeting")
            self._meeting(kw["MeetingId"], "DeleteMeeting")
            del self.meetings[kw["MeetingId"]]
            return {}


PEER_ACCESS = [
    Access(
        "realty.identity.v1.Identity",
        {"GetUser": allow("media"), "BatchGetUsers": allow("media")},
    )
]


async def _always_ready() -> bool:
    return True


@pytest_asyncio.fixture(loop_scope="session")
async def identity(
    grpc_authority: DevAuthority, token_issuer: TokenIssuer
) -> AsyncIterator[tuple[FakeIdentity, str]]:
    fake = FakeIdentity()
    verifier = token_issuer.verifier()
    cert, key = grpc_authority.issue(dns_names=["identity"], common_name="identity")
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        registrations=[lambda s: identity_pb2_grpc.add_IdentityServicer_to_server(fake, s)],
        service_names=[a.service for a in PEER_ACCESS],
        readiness=_always_ready,
        tls=TlsMaterial(grpc_authority.ca_file.read_bytes(), cert, key),
        access=PEER_ACCESS,
        verifier=verifier,
    )
    await server.start()
    try:
        yield fake, f"127.0.0.1:{server.port}"
    finally:
        await server.stop(None)
        await verifier.aclose()


@dataclass
class Stack:
    """Media wired to the test servers, plus helpers to drive it."""

    parts: Parts
    clock: Clock
    chime: Any  # FakeChime, or None when media talks to the emulator
    identity: FakeIdentity
    issuer: TokenIssuer
    mail: MailCatcher
    bus: Bus
    settings: Settings
    client: httpx.AsyncClient
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.parts.infra.db

    def person(self, role: Role = Role.BUYER, email: str | None = None) -> Person:
        ident = uuid.uuid4()
        label = f"{role.value.lower()}-{ident.hex[:6]}"
        person = Person(ident, email or f"{label}@example.com", label.title(), role)
        self.identity.users[str(ident)] = person
        return person

    async def tour(
        self,
        *,
        status: TourStatus = TourStatus.SCHEDULED,
        starts_in: timedelta = timedelta(minutes=5),
        minutes: int = 30,
    ) -> tuple[Tour, Person, Person]:
        """A tour media follows, between a new buyer and a new realtor."""
        buyer, realtor = self.person(Role.BUYER), self.person(Role.REALTOR)
        starts = self.clock() + starts_in
        tour = Tour(
            id=uuid.uuid4(),
            listing_id=uuid.uuid4(),
            buyer_id=buyer.id,
            realtor_id=realtor.id,
            status=status,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=minutes),
            sequence=1,
        )
        async with self.db.uow() as uow:
            await follow_tour(uow.session, tour)
            await uow.commit()
        return tour, buyer, realtor

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: Person | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if as_ is not None:
            sent.update(self.issuer.headers(as_.id, as_.role))
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = await self.gql(query, variables, **kw)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = await self.gql(query, variables, **kw)
        assert body.get("errors"), body
        return body["errors"][0]["extensions"]

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.db.session() as session:
            return list((await session.execute(text(sql), params)).all())

    async def outbox(self) -> list[tuple[str, bytes]]:
        found = await self.rows("SELECT subject, envelope FROM outbox ORDER BY seq")
        return [(r.subject, r.envelope) for r in found]

    def start(self, worker: Callable[[], Any]) -> None:
        self.tasks.append(asyncio.create_task(worker()))


@contextlib.asynccontextmanager
async def media_stack(
    database_factory: DatabaseFactory,
    bus: Bus,
    identity: tuple[FakeIdentity, str],
    mail: MailCatcher,
    issuer: TokenIssuer,
    aws_endpoint: str,
    *,
    chime: Any,
    chime_endpoint: str | None = None,
    queue_name: str | None = None,
    wait_seconds: int = 0,
    summariser: Any = None,
    settings_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """Media on a fresh database; `chime` is a boto3-shaped client, or None for boto3 at
    `chime_endpoint`."""
    url = await database_factory.create(MIGRATIONS_DIR)
    fake_identity, target = identity
    infra_settings = InfraSettings(
        NATS_URL=bus.url,
        REALTY_BUS_NAMESPACE=bus.namespace,
        SMTP_PORT=mail.port,
        IDENTITY_JWKS_URL=issuer.jwks_url,
        JWT_ISSUER=issuer.issuer,
        JWT_AUDIENCE=issuer.audience,
        AWS_ENDPOINT_URL=aws_endpoint,
    )
    settings = Settings(
        database_url=url,
        identity_grpc=target,
        grpc_timeout_seconds=2.0,
        chime_endpoint_url=chime_endpoint,
        events_queue_name=queue_name or f"chime-{uuid.uuid4().hex[:10]}",
        events_wait_seconds=wait_seconds,
        web_url="https://app.realty.test",
        infra=infra_settings,
        **(settings_overrides or {}),
    )
    infra = Infrastructure(
        settings=settings,
        db=Database(url, source="media", pool_size=25, max_overflow=25, events=outgoing),
        bus=bus,
        verifier=issuer.verifier(),
        mailer=SmtpMailer("127.0.0.1", mail.port),
    )
    clock = Clock()
    client = None
    if chime is not None:
        client = ChimeMeetings(region="us-east-1", media_region=settings.media_region, client=chime)
    parts = assemble(settings, infra, clock=clock, chime=client, summariser=summariser)
    app = SubgraphApp(build_schema(), verifier=infra.verifier, services=parts.services)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    the_stack = Stack(parts, clock, chime, fake_identity, issuer, mail, bus, settings, http)
    try:
        yield the_stack
    finally:
        for task in the_stack.tasks:
            task.cancel()
        for task in the_stack.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await http.aclose()
        await parts.identity.close()
        await parts.chime.close()
        await parts.pipelines.close()
        await infra.verifier.aclose()
        await infra.db.dispose()
        await database_factory.drop(url)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    database_factory: DatabaseFactory,
    bus: Bus,
    identity: tuple[FakeIdentity, str],
    mail_catcher: MailCatcher,
    token_issuer: TokenIssuer,
    aws_endpoint: str,
) -> AsyncIterator[Stack]:
    async with media_stack(
        database_factory,
        bus,
        identity,
        mail_catcher,
        token_issuer,
        aws_endpoint,
        chime=FakeChime(create_delay=0.05),
    ) as the_stack:
        yield the_stack


def sqs(endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")


@pytest_asyncio.fixture(loop_scope="session")
async def emulated(
    database_factory: DatabaseFactory,
    bus: Bus,
    identity: tuple[FakeIdentity, str],
    mail_catcher: MailCatcher,
    token_issuer: TokenIssuer,
    aws_endpoint: str,
    chime: ChimeSim,
    chime_events: EventQueue,
) -> AsyncIterator[Stack]:
    """Media on the emulator, reading the queue its events go to during the test."""
    async with media_stack(
        database_factory,
        bus,
        identity,
        mail_catcher,
        token_issuer,
        aws_endpoint,
        chime=None,
        chime_endpoint=chime.url,
        queue_name=chime_events.url.rsplit("/", 1)[-1],
        wait_seconds=1,
    ) as the_stack:
        yield the_stack
