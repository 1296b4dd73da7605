"""Sign-in and `me` latency at 50 concurrent clients, over real HTTP (uvicorn), with the
production Argon2id parameters (the settings' defaults), a real database and mail catcher.

Run with `make bench` (figures are printed; nothing passes or fails on them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import uvicorn
from identity import MIGRATIONS_DIR
from identity.app import build_service, jwks_route, local_verifier, subgraph
from identity.service import Client, Registration
from identity.settings import Settings
from servicekit.auth import Role
from servicekit.db import Database
from servicekit.embedded import free_port
from servicekit.http import service_app
from servicekit.mail import MailCatcher, SmtpMailer
from servicekit.settings import InfraSettings
from servicekit.testing import DatabaseFactory

CLIENTS = 50
LOGINS_PER_CLIENT = 3
ME_PER_CLIENT = 20
PASSWORD = "violet tractor sings at dawn"
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"""
ME = "{ me { id email displayName role } }"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, samples: list[float], elapsed: float) -> None:
    print(
        f"{name:<6} n={len(samples):<5} p50={percentile(samples, 0.5) * 1000:7.1f} ms  "
        f"p95={percentile(samples, 0.95) * 1000:7.1f} ms  p99={percentile(samples, 0.99) * 1000:7.1f} ms  "
        f"throughput={len(samples) / elapsed:7.1f}/s"
    )


async def run_clients(
    count: int, per_client: int, one: Callable[[int], Awaitable[None]]
) -> tuple[list[float], float]:
    samples: list[float] = []

    async def client(i: int) -> None:
        for _ in range(per_client):
            start = time.perf_counter()
            await one(i)
            samples.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(count)))
    return samples, time.perf_counter() - began


async def test_login_and_me_latency(
    database_factory: DatabaseFactory, mail_catcher: MailCatcher
) -> None:
    url = await database_factory.create(MIGRATIONS_DIR)
    settings = Settings(
        database_url=url,
        db_pool_size=20,
        db_max_overflow=10,
        infra=InfraSettings(SMTP_PORT=mail_catcher.port),  # type: ignore[call-arg]
    )
    db = Database(url, source="identity", pool_size=20, max_overflow=10)
    service = build_service(settings, db, SmtpMailer("127.0.0.1", mail_catcher.port))
    await service.ensure_signing_key()
    app = service_app(
        graphql=subgraph(service, local_verifier(service, settings)),
        checks={},
        routes=[jwks_route(service)],
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="off",
            timeout_keep_alive=120,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)

    emails = [f"bench{i}@example.com" for i in range(CLIENTS)]
    for email in emails:
        await service.register(
            Registration(email, PASSWORD, "Bench User", Role.BUYER, "UTC"), Client("127.0.0.1")
        )
    await service.mail.drain()
    started = time.perf_counter()
    for _ in range(5):
        await service.hasher.verify_dummy(PASSWORD)
    one_hash = (time.perf_counter() - started) / 5

    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
    ) as http:
        tokens: dict[int, str] = {}

        async def login(i: int) -> None:
            response = await http.post(
                "/graphql", json={"query": LOGIN, "variables": {"e": emails[i], "p": PASSWORD}}
            )
            body = response.json()
            assert "errors" not in body, body
            tokens[i] = body["data"]["login"]["accessToken"]

        async def me(i: int) -> None:
            response = await http.post(
                "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {tokens[i]}"}
            )
            assert response.json()["data"]["me"]["email"] == emails[i]

        login_samples, login_elapsed = await run_clients(CLIENTS, LOGINS_PER_CLIENT, login)
        await run_clients(CLIENTS, 2, me)  # warm-up: verifier key cache, connections
        me_samples, me_elapsed = await run_clients(CLIENTS, ME_PER_CLIENT, me)

    server.should_exit = True
    await serving
    await service.mail.drain()
    await db.dispose()

    print()
    print(
        f"identity bench: {CLIENTS} concurrent clients, real HTTP, {service.hasher.params.describe()}"
    )
    print(f"one argon2id verification alone: {one_hash * 1000:.1f} ms")
    report("login", login_samples, login_elapsed)
    report("me", me_samples, me_elapsed)
    print(f"login p95 / argon2 time: {percentile(login_samples, 0.95) / one_hash:.1f}x")
