"""Identity under test: the parts `app.assemble` wires, on a fresh migrated database per
test (with the events mapper, as in production), the real mail catcher, the subgraph driven
over ASGI, and a clock the test can move."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from identity.app import MIGRATIONS_DIR, Parts, assemble
from identity.events import outgoing
from identity.graphql import build_schema
from identity.jwks import jwks_route
from identity.queries import IdentityQueries
from identity.service import IdentityService
from identity.settings import Settings
from servicekit.auth import JwtVerifier
from servicekit.bus import Bus
from servicekit.db import Database
from servicekit.graphql import SubgraphApp
from servicekit.http import service_app
from servicekit.infrastructure import Infrastructure
from servicekit.mail import MailCatcher, SmtpMailer
from servicekit.revocation import RevocationList
from servicekit.settings import InfraSettings
from servicekit.testing import DatabaseFactory
from servicekit.testing.clock import ManualClock
from starlette.applications import Starlette

PASSWORD = "violet tractor sings at dawn"


Clock = ManualClock  # starts now; `advance(seconds)` moves it


@dataclass
class Identity:
    parts: Parts
    app: Starlette
    client: httpx.AsyncClient
    mail: MailCatcher
    clock: Clock

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    @property
    def db(self) -> Database:
        return self.parts.infra.db

    @property
    def service(self) -> IdentityService:
        return self.parts.identity

    @property
    def queries(self) -> IdentityQueries:
        return self.parts.queries

    async def close(self) -> None:
        await self.service.mail.drain()
        await self.client.aclose()
        await self.parts.verifier.aclose()
        if self.service.range_api is not None:
            await self.service.range_api.aclose()
        await self.parts.infra.close()

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = await self.gql(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def register(
        self, email: str | None = None, *, role: str = "BUYER", password: str = PASSWORD
    ) -> dict[str, Any]:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        data = await self.ok(
            REGISTER,
            {
                "input": {
                    "email": email,
                    "password": password,
                    "displayName": "Test Person",
                    "role": role,
                    "timeZone": "Europe/Paris",
                }
            },
        )
        payload: dict[str, Any] = data["register"]
        return payload

    async def link_token(self, to: str, subject: str, path: str) -> str:
        """The token of the latest emailed link to `path` for `to`."""
        await self.service.mail.drain()
        messages = await self.mail.wait_for(to=to, subject_contains=subject)
        assert messages, f"no '{subject}' mail to {to}"
        body = messages[-1].get_body(preferencelist=("plain",))
        assert body is not None
        found = re.search(
            rf"{re.escape(self.settings.frontend_url)}/{path}\?token=([A-Za-z0-9_\-]+)",
            body.get_content(),
        )
        assert found, body.get_content()
        return found.group(1)

    def verifier(self) -> JwtVerifier:
        """A verifier like other services use, fetching this app's JWKS over HTTP."""
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        return JwtVerifier(
            "http://identity.test/.well-known/jwks.json",
            issuer=self.settings.infra.jwt_issuer,
            audience=self.settings.infra.jwt_audience,
            http=http,
            min_refresh_interval=0.0,
        )


REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken expiresIn
    user { id email role displayName timeZone emailVerified }
  }
}"""


def make_settings(database_url: str, smtp_port: int, **overrides: Any) -> Settings:
    infra = InfraSettings(SMTP_PORT=smtp_port, JWT_ISSUER="https://identity.test")  # type: ignore[call-arg]
    values: dict[str, Any] = {
        "database_url": database_url,
        "argon2_memory_cost": 1024,
        "argon2_time_cost": 1,
        "key_cache_seconds": 0.0,
        "login_free_failures": 2,
        "login_max_failures_client": 4,
        "login_free_failures_ip": 20,
        "login_max_failures_ip": 40,
        "login_delay_base_seconds": 5.0,
        "login_lock_seconds": 600,
        "infra": infra,
        **overrides,
    }
    return Settings(**values)


async def open_identity(
    database_factory: DatabaseFactory,
    mail_catcher: MailCatcher,
    *,
    bus: Bus | None = None,
    revocations: RevocationList | None = None,
    **overrides: Any,
) -> Identity:
    """Identity on a fresh database; with `bus` and `revocations`, wired as in production
    to refuse the tokens of ended sessions (the test runs the relay and the feed)."""
    url = await database_factory.create(MIGRATIONS_DIR)
    settings = make_settings(url, mail_catcher.port, **overrides)
    infra = Infrastructure(
        settings=settings,
        db=Database(url, source="identity", pool_size=5, max_overflow=5, events=outgoing),
        # Not connected unless the test brings its own (connected) bus.
        bus=bus or Bus(settings.infra.nats_url, name="identity-test"),
        verifier=JwtVerifier(
            settings.infra.jwks_url,
            issuer=settings.infra.jwt_issuer,
            audience=settings.infra.jwt_audience,
            revocations=revocations,
        ),
        mailer=SmtpMailer("127.0.0.1", mail_catcher.port),
    )
    clock = Clock()
    parts = assemble(settings, infra, clock=clock)
    await parts.identity.ensure_signing_key()
    graphql = SubgraphApp(build_schema(), verifier=parts.verifier, services=parts.services)
    app = service_app(graphql=graphql, checks={}, routes=[jwks_route(parts.identity)])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    return Identity(parts, app, client, mail_catcher, clock)


@pytest_asyncio.fixture(loop_scope="session")
async def identity(
    database_factory: DatabaseFactory, mail_catcher: MailCatcher
) -> AsyncIterator[Identity]:
    harness = await open_identity(database_factory, mail_catcher)
    try:
        yield harness
    finally:
        await harness.close()
