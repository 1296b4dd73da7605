"""A deleted user is erased: their events (a replay cannot bring them back), and as a realtor
their rollups; the counts their views added to others stay, naming nobody. Deletion requests
go to Mixpanel's GDPR API and GA4's User Deletion API, over real HTTP to local servers that
check what each API checks, with back-off when they ask for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest_asyncio
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

VIEW = "Property View"
SCOPE = "https://www.googleapis.com/auth/analytics.user.deletion"


class DeletionApis:
    """Mixpanel's `/api/app/data-deletions/v3.0/`, Google's OAuth token endpoint (JWT-bearer
    grant) and GA4's `userDeletionRequests:upsert`, validating as documented."""

    def __init__(self, public_key: Any) -> None:
        self.public_key = public_key
        self.base = ""
        self.mixpanel: list[dict[str, Any]] = []
        self.ga4: list[dict[str, Any]] = []
        self.busy = 0  # answer 429 this many times first (Mixpanel)
        self.tokens: set[str] = set()
        routes = [
            Route("/api/app/data-deletions/v3.0/", self.mixpanel_deletion, methods=["POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/analytics/v3/userDeletion/userDeletionRequests:upsert", self.upsert,
                  methods=["POST"]),
        ]  # fmt: skip
        self.app = Starlette(routes=routes)

    async def mixpanel_deletion(self, request: Request) -> JSONResponse:
        if request.query_params.get("token") != "mp-project-token":
            return JSONResponse({"status": "error", "error": "invalid project token"}, 400)
        if request.headers.get("authorization") != "Bearer mp-gdpr-oauth":
            return JSONResponse({"status": "error", "error": "unauthorized"}, 401)
        if self.busy:
            self.busy -= 1
            return JSONResponse({"status": "error", "error": "rate limited"}, 429,
                                headers={"Retry-After": "1"})  # fmt: skip
        body = await request.json()
        ids = body.get("distinct_ids")
        valid = isinstance(ids, list) and 0 < len(ids) <= 2000
        if not valid or body.get("compliance_type", "GDPR") not in ("GDPR", "CCPA"):
            return JSONResponse({"status": "error", "error": "invalid request"}, 400)
        self.mixpanel.append(body)
        return JSONResponse({"status": "ok", "results": {"task_id": f"task-{len(self.mixpanel)}"}})

    async def token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        try:
            claims = jwt.decode(str(form.get("assertion")), self.public_key, algorithms=["RS256"],
                                audience=f"{self.base}/token")  # fmt: skip
        except jwt.PyJWTError as exc:
            return JSONResponse({"error": "invalid_grant", "error_description": str(exc)}, 400)
        if claims.get("scope") != SCOPE or claims.get("iss") != "eraser@project.iam":
            return JSONResponse({"error": "invalid_scope"}, 400)
        token = f"ya29.{uuid.uuid4().hex}"
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def upsert(self, request: Request) -> JSONResponse:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            return JSONResponse({"error": {"code": 401, "message": "Invalid Credentials"}}, 401)
        body = await request.json()
        ident = body.get("id") or {}
        if (
            body.get("kind") != "analytics#userDeletionRequest"
            or body.get("propertyId") != "123456789"
            or ident.get("type") not in ("CLIENT_ID", "USER_ID", "APP_INSTANCE_ID")
            or not ident.get("userId")
        ):
            return JSONResponse({"error": {"code": 400, "message": "Invalid value"}}, 400)
        self.ga4.append(body)
        return JSONResponse({**body, "deletionRequestTime": "2027-03-01T15:00:00.000Z"})


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """The app on a real port of 127.0.0.1; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(loop_scope="session")
async def erasing(analytics_stack_factory: Any, tmp_path: Path) -> AsyncIterator[Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    apis = DeletionApis(key.public_key())
    async with serving(apis.app) as base:
        apis.base = base
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        credentials = tmp_path / "service-account.json"
        credentials.write_text(json.dumps({"type": "service_account", "private_key": pem,
                                           "client_email": "eraser@project.iam",
                                           "token_uri": f"{base}/token"}))  # fmt: skip
        settings = {
            "mixpanel_gdpr_url": base,
            "mixpanel_project_token": "mp-project-token",
            "mixpanel_gdpr_token": "mp-gdpr-oauth",
            "ga4_deletion_url": base,
            "ga4_property_id": "123456789",
            "ga4_deletion_credentials": str(credentials),
        }
        async with analytics_stack_factory(**settings) as stack:
            yield stack, apis


async def test_a_deleted_user_is_erased_here_and_at_both_destinations(erasing: Any) -> None:
    stack, apis = erasing
    stack.start_consumers()
    user, realtor, listing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    created = listings_pb2.Listing(id=str(listing), realtor_id=str(realtor), time_zone="UTC")
    await stack.publish("listings.listing.created", listings_pb2.ListingCreated(listing=created))
    await stack.consumed()
    await stack.track(name=VIEW, listingId=str(listing), anonymousId="gone-1")
    await stack.track(user, name="Feedback", anonymousId="gone-1",
                      properties={"answers": {"why": "my phone number is 555"}})  # fmt: skip
    await stack.track(name="Feedback", anonymousId="stays")
    deleted = await stack.publish(
        "identity.user.deleted", identity_pb2.UserDeleted(user_id=str(user))
    )
    await stack.consumed()
    found = await stack.rows("SELECT name, anonymous_id FROM events WHERE source = 'client'")
    assert [(r.name, r.anonymous_id) for r in found] == [("Feedback", "stays")]
    assert await stack.rows("SELECT 1 FROM identity_links") == []
    assert await stack.rows("SELECT 1 FROM view_marks WHERE visitor = 'anon:gone-1'") == []
    # Their view still counts for the realtor, naming nobody.
    [(views,)] = await stack.rows(
        "SELECT sum(n) FROM rollups WHERE listing_id = :l AND name = :n", l=listing, n=VIEW
    )
    assert views == 1
    # Replayed long after the inbox forgot it, their event stays erased.
    [(count,)] = await stack.rows("SELECT count(*) FROM event_keys")
    await stack.publish("identity.user.deleted", identity_pb2.UserDeleted(user_id=str(user)),
                        event_id=deleted, copy="2")  # fmt: skip
    await stack.consumed()
    assert await stack.rows("SELECT count(*) FROM event_keys") == [(count,)]

    mixpanel = next(e for e in stack.parts.erasing if e.eraser.name == "mixpanel")
    ga4 = next(e for e in stack.parts.erasing if e.eraser.name == "ga4")
    apis.busy = 1
    assert await mixpanel.run_once() == 2  # 429: tried again after the back-off
    assert apis.mixpanel == []
    assert await mixpanel.run_once() == 0  # not due yet
    stack.clock.advance(timedelta(seconds=6))
    assert await mixpanel.run_once() == 2
    assert apis.mixpanel == [{"distinct_ids": [str(user), "gone-1"], "compliance_type": "GDPR"}]
    assert await ga4.run_once() == 3
    assert sorted((r["id"]["type"], r["id"]["userId"]) for r in apis.ga4) == [
        ("CLIENT_ID", "gone-1"), ("CLIENT_ID", f"server.{user}"), ("USER_ID", str(user))
    ]  # fmt: skip
    states = await stack.rows(
        "SELECT destination, state, task, attempts FROM erasures ORDER BY destination, subject"
    )
    assert [(r.destination, r.state, r.task) for r in states] == [
        ("ga4", "sent", None), ("ga4", "sent", None), ("ga4", "sent", None),
        ("mixpanel", "sent", "task-1"), ("mixpanel", "sent", "task-1"),
    ]  # fmt: skip
    assert await mixpanel.run_once() == 0 and await ga4.run_once() == 0


async def test_a_deleted_realtors_own_figures_go(stack: Any) -> None:
    stack.start_consumers()
    realtor, listing = uuid.uuid4(), uuid.uuid4()
    created = listings_pb2.Listing(id=str(listing), realtor_id=str(realtor), time_zone="UTC")
    await stack.publish("listings.listing.created", listings_pb2.ListingCreated(listing=created))
    await stack.consumed()
    await stack.track(name=VIEW, listingId=str(listing), anonymousId="buyer-1")
    assert await stack.rows("SELECT 1 FROM rollups WHERE realtor_id = :r", r=realtor) != []
    await stack.publish("identity.user.deleted", identity_pb2.UserDeleted(user_id=str(realtor)))
    await stack.consumed()
    assert await stack.rows("SELECT 1 FROM rollups WHERE realtor_id = :r", r=realtor) == []
    assert await stack.rows("SELECT 1 FROM listings WHERE id = :l", l=listing) == []
    # Without deletion destinations configured, nothing is queued to send.
    assert await stack.rows("SELECT 1 FROM erasures") == []
