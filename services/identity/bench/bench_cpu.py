"""CPU per request of identity's hot read paths, in-process: `me` (the caller's own account,
private fields included) and a User `_entities` lookup of 10 references (what the gateway
asks for every listing's realtor and every tour's participants).

The app is the one the production process serves (middleware, subgraph, real PostgreSQL,
the cyclic collector tuned as the process tunes it), driven one request at a time over ASGI, so the figure is CPU per request, not a
throughput that depends on what else runs on the machine. Also prints where that CPU
goes by package (cProfile own time). Run with `make bench`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from identity.app import MIGRATIONS_DIR, assemble, runtime
from identity.events import outgoing
from identity.settings import Settings
from servicekit.bus import Bus
from servicekit.db import Database
from servicekit.infrastructure import Infrastructure
from servicekit.mail import build_mailer
from servicekit.testing.cpu import (
    collected_as_served,
    cpu_per_request,
    entities_batched_side_by_side,
    post,
    profile_line,
    where_cpu_goes,
)
from starlette.types import ASGIApp

USERS = 20
REGISTER = """mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }"""
ME = "{ me { id email displayName role timeZone emailVerified avatarUrl } }"
ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on User { id displayName avatarUrl role realtorProfile { brokerage verified } } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    database_factory: Any, nats_url: str, token_issuer: Any
) -> AsyncIterator[tuple[ASGIApp, str, list[str]]]:
    url = await database_factory.create(MIGRATIONS_DIR)
    # Cheap Argon2 for the set-up's registrations: the bench measures reads, not sign-in.
    settings = Settings(database_url=url, argon2_memory_cost=1024, argon2_time_cost=1)
    db = Database(url, source="identity", events=outgoing)
    infra = Infrastructure(
        settings=settings,
        db=db,
        bus=Bus(nats_url, name="identity-cpu"),  # never connected here
        verifier=token_issuer.verifier(),
        mailer=build_mailer(settings.infra),
    )
    parts = assemble(settings, infra)
    await parts.identity.ensure_signing_key()
    process = runtime(parts)
    app = process.http_app
    token, ids = "", []
    for n in range(USERS):
        answer = await post(
            app,
            {
                "query": REGISTER,
                "variables": {
                    "i": {
                        "email": f"cpu-{n}-{uuid.uuid4().hex[:6]}@example.com",
                        "password": "violet tractor sings at dawn",
                        "displayName": f"Realtor {n}",
                        "role": "REALTOR" if n % 2 else "BUYER",
                        "timeZone": "America/New_York",
                    }
                },
            },
            {},
        )
        payload = answer["data"]["register"]
        token = token or payload["accessToken"]
        ids.append(payload["user"]["id"])
    try:
        with collected_as_served(process.gc_young_threshold):
            yield app, token, ids
    finally:
        await parts.verifier.aclose()
        await infra.verifier.aclose()
        await db.dispose()
        await database_factory.drop(url)


async def bench_cpu_per_request(served: tuple[ASGIApp, str, list[str]]) -> None:
    app, token, ids = served
    print("\nidentity, CPU per request (shared machine: compare CPU ms, not wall time)")
    me = await cpu_per_request(
        app, lambda i: {"query": ME}, headers={"Authorization": f"Bearer {token}"}
    )
    print(me.line("me"))

    def entities(i: int) -> dict[str, Any]:
        refs = [{"__typename": "User", "id": ids[(i + k) % len(ids)]} for k in range(10)]
        return {"query": ENTITIES, "variables": {"r": refs}}

    print(
        "    where: "
        + profile_line(
            await where_cpu_goes(
                app, lambda i: {"query": ME}, headers={"Authorization": f"Bearer {token}"}
            )
        )
    )
    figures = await cpu_per_request(app, entities)
    print(figures.line("_entities User x10"))
    print("    where: " + profile_line(await where_cpu_goes(app, entities)))
    ab = await entities_batched_side_by_side(app, entities, "User")
    print(
        f"  _entities User x10, alternated: batched {ab['batched']:.3f} ms"
        f"   per item {ab['per item']:.3f} ms CPU/request"
    )
