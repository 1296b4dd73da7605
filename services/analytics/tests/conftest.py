"""Analytics built against real servers: PostgreSQL, NATS and a JWKS issuer; the subgraph
served in process; the consumers started on demand; a clock tests move by hand."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from analytics.app import MIGRATIONS_DIR, Parts, assemble
from analytics.graphql import build_schema
from analytics.settings import Settings
from google.protobuf.message import Message
from nats.js.errors import NotFoundError
from realty.events.v1.envelope_pb2 import Envelope
from servicekit.auth import Role
from servicekit.bus import Bus, ConsumerRunner
from servicekit.db import Database
from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.mail import SmtpMailer
from servicekit.settings import InfraSettings
from servicekit.testing import DatabaseFactory, TokenIssuer
from sqlalchemy import text

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)

TRACK = "mutation($input: TrackEventInput!) { trackEvent(input: $input) }"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Stack:
    parts: Parts
    clock: Clock
    bus: Bus
    issuer: TokenIssuer
    client: httpx.AsyncClient
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.parts.infra.db

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: uuid.UUID | None = None,
        role: Role = Role.BUYER,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if user is not None:
            sent.update(self.issuer.headers(user, role))
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def track(self, user: uuid.UUID | None = None, **input: Any) -> bool:
        body = await self.gql(TRACK, {"input": input}, user=user)
        assert not body.get("errors"), body["errors"]
        return bool(body["data"]["trackEvent"])

    async def track_error(self, user: uuid.UUID | None = None, **input: Any) -> dict[str, Any]:
        body = await self.gql(TRACK, {"input": input}, user=user)
        assert body.get("errors"), body
        extensions: dict[str, Any] = body["errors"][0]["extensions"]
        return extensions

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.db.session() as session:
            return list((await session.execute(text(sql), params)).all())

    def start_consumers(self) -> ConsumerRunner:
        runner = ConsumerRunner(
            self.db, self.bus, "analytics", self.parts.consumers.subscriptions()
        )
        self.tasks.append(asyncio.create_task(runner.run()))
        return runner

    async def publish(
        self,
        subject: str,
        payload: Message,
        *,
        event_id: uuid.UUID | None = None,
        actor: str = "",
        at: datetime = NOW,
        copy: str = "1",
    ) -> uuid.UUID:
        """Publish one event as its service would; `copy` tells two deliveries of the same
        event apart for JetStream's duplicate window, as a redelivery or replay does."""
        ident = event_id or uuid.uuid4()
        envelope = Envelope(
            id=str(ident),
            type=payload.DESCRIPTOR.full_name,
            subject=subject,
            subject_id=str(uuid.uuid4()),
            actor=actor,
            source="test",
            payload=payload.SerializeToString(),
        )
        envelope.time.FromDatetime(at)
        await self.bus.publish(subject, envelope.SerializeToString(), msg_id=f"{ident}-{copy}")
        return ident

    async def consumed(self, timeout: float = 15.0) -> None:
        """Wait until every analytics consumer exists and has acked all its subject holds."""
        js = await self.bus.jetstream()
        expected = len(self.parts.consumers.subscriptions())
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            seen, behind = 0, 0
            for service in ("identity", "listings", "scheduling", "media"):
                try:
                    infos = await js.consumers_info(self.bus.stream_for(f"{service}.x"))
                except NotFoundError:  # a stream nobody created yet
                    continue
                for info in infos:
                    if (info.name or "").startswith("analytics-"):
                        seen += 1
                        behind += (info.num_pending or 0) + (info.num_ack_pending or 0)
            if seen == expected and behind == 0:
                return
            assert asyncio.get_running_loop().time() < deadline, "events not consumed"
            await asyncio.sleep(0.05)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    database_factory: DatabaseFactory, bus: Bus, token_issuer: TokenIssuer
) -> AsyncIterator[Stack]:
    url = await database_factory.create(MIGRATIONS_DIR)
    infra_settings = InfraSettings(
        NATS_URL=bus.url,
        REALTY_BUS_NAMESPACE=bus.namespace,
        IDENTITY_JWKS_URL=token_issuer.jwks_url,
        JWT_ISSUER=token_issuer.issuer,
        JWT_AUDIENCE=token_issuer.audience,
    )
    settings = Settings(database_url=url, events_per_client_minute=30, infra=infra_settings)
    infra = Infrastructure(
        settings=settings,
        db=Database(url, source="analytics", pool_size=5, max_overflow=10),
        bus=bus,
        verifier=token_issuer.verifier(),
        mailer=SmtpMailer("127.0.0.1", 1),
    )
    clock = Clock()
    parts = assemble(settings, infra, clock=clock)
    app = SubgraphApp(build_schema(), verifier=infra.verifier, services=parts.services)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    the_stack = Stack(parts, clock, bus, token_issuer, http)
    try:
        yield the_stack
    finally:
        for task in the_stack.tasks:
            task.cancel()
        for task in the_stack.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await http.aclose()
        await infra.verifier.aclose()
        await infra.db.dispose()
        await database_factory.drop(url)
