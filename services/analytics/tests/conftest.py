"""Analytics built against real servers: PostgreSQL, NATS and a JWKS issuer; the subgraph
served in process; the consumers started on demand; a clock tests move by hand."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
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
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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


@contextlib.asynccontextmanager
async def analytics_stack(
    database_factory: DatabaseFactory,
    bus: Bus,
    token_issuer: TokenIssuer,
    *,
    http: httpx.AsyncClient | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """Analytics on a fresh database; `overrides` are its settings, `http` the client its
    forwarders send with."""
    url = await database_factory.create(MIGRATIONS_DIR)
    infra_settings = InfraSettings(
        NATS_URL=bus.url,
        REALTY_BUS_NAMESPACE=bus.namespace,
        IDENTITY_JWKS_URL=token_issuer.jwks_url,
        JWT_ISSUER=token_issuer.issuer,
        JWT_AUDIENCE=token_issuer.audience,
    )
    options: dict[str, Any] = {"events_per_client_minute": 30, **overrides}
    settings = Settings(database_url=url, infra=infra_settings, **options)
    infra = Infrastructure(
        settings=settings,
        db=Database(url, source="analytics", pool_size=5, max_overflow=10),
        bus=bus,
        verifier=token_issuer.verifier(),
        mailer=SmtpMailer("127.0.0.1", 1),
    )
    clock = Clock()
    parts = assemble(settings, infra, clock=clock, http=http)
    app = SubgraphApp(build_schema(), verifier=infra.verifier, services=parts.services)
    subgraph = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    the_stack = Stack(parts, clock, bus, token_issuer, subgraph)
    try:
        yield the_stack
    finally:
        for task in the_stack.tasks:
            task.cancel()
        for task in the_stack.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await subgraph.aclose()
        await parts.http.aclose()
        await infra.verifier.aclose()
        await infra.db.dispose()
        await database_factory.drop(url)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    database_factory: DatabaseFactory, bus: Bus, token_issuer: TokenIssuer
) -> AsyncIterator[Stack]:
    async with analytics_stack(database_factory, bus, token_issuer) as the_stack:
        yield the_stack


@pytest.fixture
def analytics_stack_factory(
    database_factory: DatabaseFactory, bus: Bus, token_issuer: TokenIssuer
) -> Callable[..., contextlib.AbstractAsyncContextManager[Stack]]:
    """Build analytics with other settings (and the forwarders' HTTP client)."""

    def build(**kw: Any) -> contextlib.AbstractAsyncContextManager[Stack]:
        return analytics_stack(database_factory, bus, token_issuer, **kw)

    return build


# -- local servers implementing Mixpanel's /import and GA4's Measurement Protocol ----------
MIXPANEL_PLACEHOLDERS = {
    "anon", "anonymous", "nil", "none", "null", "n/a", "na", "undefined", "unknown",
    "00000000-0000-0000-0000-000000000000", "<nil>", "0", "-1", "true", "false", "[]", "{}",
}  # fmt: skip
INSERT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
GA4_RESERVED_EVENTS = {
    "ad_activeview", "ad_click", "ad_exposure", "ad_query", "ad_reward", "adunit_exposure",
    "app_clear_data", "app_exception", "app_install", "app_remove", "app_store_refund",
    "app_update", "app_upgrade", "dynamic_link_app_open", "error", "first_open", "first_visit",
    "in_app_purchase", "notification_dismiss", "notification_foreground", "notification_open",
    "notification_receive", "notification_send", "os_update", "session_start",
    "screen_view", "user_engagement",
}  # fmt: skip


class FakeMixpanel:
    """Mixpanel's /import as documented: Basic auth, gzip, strict validation per record
    (400 naming each failed record, the others imported), 413 past 2,000 records, and
    deduplication by `$insert_id`. `faults` are statuses answered instead, in order."""

    def __init__(self, secret: str, clock: Callable[[], datetime]) -> None:
        self.secret = secret
        self.clock = clock
        self.imported: dict[str, dict[str, Any]] = {}
        self.receipts: list[str] = []  # every insert_id received, duplicates too
        self.batches: list[int] = []
        self.encodings: list[tuple[str | None, str | None]] = []  # (Content-Encoding, strict)
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.delay = 0.0
        self.app = Starlette(routes=[Route("/import", self.import_, methods=["POST"])])

    async def import_(self, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.faults:
            status, headers = self.faults.pop(0)
            return JSONResponse({"error": "unavailable", "status": 0}, status, headers=headers)
        auth = request.headers.get("authorization", "")
        user = ""
        if auth.startswith("Basic "):
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        if user != self.secret:
            return JSONResponse({"error": "Invalid credentials", "status": 0}, 401)
        body = await request.body()
        self.encodings.append(
            (request.headers.get("content-encoding"), request.query_params.get("strict"))
        )
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        records = json.loads(body)
        if not isinstance(records, list):
            return JSONResponse({"code": 400, "error": "expected a JSON array"}, 400)
        if len(records) > 2000:
            return JSONResponse({"code": 413, "error": "more than 2000 records"}, 413)
        self.batches.append(len(records))
        failed = []
        for index, record in enumerate(records):
            problem = self._problem(record)
            insert_id = record.get("properties", {}).get("$insert_id")
            if problem is not None:
                failed.append({"index": index, "$insert_id": insert_id, **problem})
                continue
            self.receipts.append(insert_id)
            self.imported.setdefault(insert_id, record)
        imported = len(records) - len(failed)
        if failed and request.query_params.get("strict") == "1":
            return JSONResponse(
                {"code": 400, "error": "some data points in the request failed validation",
                 "status": "Bad Request", "num_records_imported": imported,
                 "failed_records": failed},
                400,
            )  # fmt: skip
        return JSONResponse({"code": 200, "num_records_imported": imported, "status": "OK"})

    def _problem(self, record: Any) -> dict[str, str] | None:
        if not isinstance(record, dict) or not isinstance(record.get("event"), str):
            return {"field": "event", "message": "'event' must be a non-empty string"}
        properties = record.get("properties")
        if not isinstance(properties, dict):
            return {"field": "properties", "message": "'properties' must be an object"}
        stamp = properties.get("time")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            return {"field": "properties.time", "message": "'properties.time' is required"}
        seconds = stamp / 1000 if stamp > 10**11 else stamp
        if seconds < 31_536_000 or seconds > self.clock().timestamp() + 3600:
            return {"field": "properties.time", "message": "'properties.time' is out of range"}
        distinct = properties.get("distinct_id")
        if not isinstance(distinct, str) or distinct.lower() in MIXPANEL_PLACEHOLDERS:
            return {"field": "properties.distinct_id", "message": "invalid distinct_id"}
        if not isinstance(properties.get("$insert_id"), str) or not INSERT_ID.match(
            properties["$insert_id"]
        ):
            return {"field": "properties.$insert_id", "message": "invalid $insert_id"}
        return None


class FakeGa4:
    """GA4's Measurement Protocol as documented: `/mp/collect` answers 2xx to whatever it
    receives and keeps only valid events; `/debug/mp/collect` answers the validation
    messages and keeps nothing."""

    def __init__(self, measurement_id: str, secret: str) -> None:
        self.measurement_id = measurement_id
        self.secret = secret
        self.collected: list[dict[str, Any]] = []  # valid requests kept
        self.requests = 0
        self.faults: list[int] = []
        self.app = Starlette(
            routes=[
                Route("/mp/collect", self.collect, methods=["POST"]),
                Route("/debug/mp/collect", self.debug, methods=["POST"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        params = request.query_params
        return params.get("measurement_id") == self.measurement_id and (
            params.get("api_secret") == self.secret
        )

    async def collect(self, request: Request) -> Response:
        self.requests += 1
        if self.faults:
            return Response(status_code=self.faults.pop(0))
        body = json.loads(await request.body())
        if self._authorised(request) and not validation_messages(body):
            self.collected.append(body)
        return Response(status_code=204)

    async def debug(self, request: Request) -> Response:
        body = json.loads(await request.body())
        return JSONResponse({"validationMessages": validation_messages(body)})


def validation_messages(body: Any) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []

    def say(path: str, code: str, text: str) -> None:
        messages.append({"fieldPath": path, "description": text, "validationCode": code})

    if not isinstance(body.get("client_id"), str) or not body["client_id"]:
        say("client_id", "VALUE_REQUIRED", "Measurement requires a client_id.")
    events = body.get("events")
    if not isinstance(events, list) or not events:
        say("events", "VALUE_REQUIRED", "Measurement requires events.")
        return messages
    if len(events) > 25:
        say("events", "EXCEEDED_MAX_ENTITIES", "A measurement can have at most 25 events.")
    for i, event in enumerate(events):
        name = event.get("name", "")
        if not GA4_NAME.match(name):
            say(f"events[{i}].name", "NAME_INVALID", f"Event name {name} is invalid.")
        elif name in GA4_RESERVED_EVENTS:
            say(f"events[{i}].name", "NAME_RESERVED", f"Event name {name} is reserved.")
        params = event.get("params", {})
        if len(params) > 25:
            say(f"events[{i}].params", "EXCEEDED_MAX_ENTITIES", "At most 25 parameters.")
        for key, value in params.items():
            if not GA4_NAME.match(key) or key.startswith(("_", "firebase_", "ga_", "google_")):
                say(f"events[{i}].params", "NAME_INVALID", f"Param name {key} is invalid.")
            if isinstance(value, str) and len(value) > 100:
                say(f"events[{i}].params.{key}", "VALUE_INVALID",
                    f"Param {key} has a value longer than 100 characters.")  # fmt: skip
    return messages


class Hosts:
    """One ASGI app answering for several hosts, as the two services' own servers would."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        host = dict(scope.get("headers", [])).get(b"host", b"").decode().split(":")[0]
        await self.apps[host](scope, receive, send)


@dataclass
class Apis:
    mixpanel: FakeMixpanel
    ga4: FakeGa4
    http: httpx.AsyncClient

    SETTINGS: ClassVar[dict[str, Any]] = {
        "mixpanel_url": "http://mixpanel.test",
        "mixpanel_api_secret": "mp-secret",
        "ga4_url": "http://ga4.test",
        "ga4_measurement_id": "G-TEST123",
        "ga4_api_secret": "ga-secret",
    }


@pytest_asyncio.fixture(loop_scope="session")
async def forwarding(
    analytics_stack_factory: Callable[..., contextlib.AbstractAsyncContextManager[Stack]],
) -> AsyncIterator[tuple[Stack, Apis]]:
    """Analytics forwarding to local Mixpanel and GA4 servers (clock shared with the fakes)."""
    clock_box: list[Stack] = []
    mixpanel = FakeMixpanel("mp-secret", lambda: clock_box[0].clock())
    ga4 = FakeGa4("G-TEST123", "ga-secret")
    hosts = Hosts({"mixpanel.test": mixpanel.app, "ga4.test": ga4.app})
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=hosts))
    apis = Apis(mixpanel, ga4, http)
    async with analytics_stack_factory(
        http=http, mixpanel_batch=3, events_per_client_minute=1000, **Apis.SETTINGS
    ) as the_stack:
        clock_box.append(the_stack)
        yield the_stack, apis
