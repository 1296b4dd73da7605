"""Public pages benchmark: `GET /homes/{slug}` from the real `python -m listings` process.

Loads LISTINGS_BENCH_PAGES_COUNT generated listings (default 20,000; a page is one lookup by
the unique slug, so the table's size barely matters), then 50 concurrent clients
(LISTINGS_BENCH_CLIENTS), each on its own kept-alive connection (`keepalive.Connection`):
first renders of pages nobody asked for yet (each once), then random pages seen before
(from the page cache), then revalidations with the page's ETag (what a CDN or a returning
browser sends), then one client alone. Prints p50/p95/p99 and throughput. Target: p95 <
20 ms at 50 clients.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest_asyncio
from listings.app import MIGRATIONS_DIR
from listings.demo import generate_listings
from listings.store import copy_listings
from realty.identity.v1 import identity_pb2_grpc
from servicekit.access import Access, allow
from servicekit.db import libpq_url
from servicekit.embedded import free_port
from servicekit.grpc import GrpcServer
from servicekit.testing.identity import FakeIdentity
from servicekit.tls import TlsMaterial

from .keepalive import Connection
from .serving import listings_process

COUNT = int(os.environ.get("LISTINGS_BENCH_PAGES_COUNT", "20000"))
CLIENTS = int(os.environ.get("LISTINGS_BENCH_CLIENTS", "50"))
REQUESTS_PER_CLIENT = int(os.environ.get("LISTINGS_BENCH_REQUESTS", "40"))


async def ready() -> bool:
    return True


@pytest_asyncio.fixture(loop_scope="session")
async def identity(grpc_authority: Any, token_issuer: Any) -> AsyncIterator[str]:
    """identity's gRPC contract (a stand-in knowing no one) over mutual TLS: pages are
    rendered with the realtor's profile looked up, as in production."""
    verifier = token_issuer.verifier()
    cert, key = grpc_authority.issue(dns_names=["identity"], common_name="identity")
    access = Access(
        "realty.identity.v1.Identity", {"GetUser": allow("listings"), "BatchGetUsers": allow()}
    )
    fake = FakeIdentity()
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
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.stop(None)
        await verifier.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def pages_process(
    database_factory: Any, aws_endpoint: str, nats_url: str, token_issuer: Any,
    grpc_authority: Any, tmp_path: Path, identity: str,
) -> AsyncIterator[tuple[str, list[str]]]:  # fmt: skip
    """The service serving COUNT listings; its base URL and the public slugs."""
    url = await database_factory.create(MIGRATIONS_DIR)
    rng = random.Random(3)
    realtors = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(100)]
    await copy_listings(url, generate_listings(COUNT, realtor_ids=realtors, seed=9))
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE listings")
        slugs = [
            str(r[0])
            for r in conn.execute(
                "SELECT slug FROM listings WHERE status IN ('ACTIVE','PENDING','COMING_SOON',"
                "'CLOSED') ORDER BY random() LIMIT 2000"
            )
        ]
    port = free_port()
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    grpc_authority.material("listings")
    env = {
        **os.environ,
        "LISTINGS_DATABASE_URL": url,
        "LISTINGS_HTTP_PORT": str(port),
        "LISTINGS_GRPC_PORT": str(free_port()),
        "LISTINGS_IDENTITY_GRPC": identity,
        "LISTINGS_PHOTOS_BUCKET": f"bench-{namespace}",
        "NATS_URL": nats_url,
        "REALTY_BUS_NAMESPACE": namespace,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "IDENTITY_JWKS_URL": token_issuer.jwks_url,
        "JWT_ISSUER": token_issuer.issuer,
        "JWT_AUDIENCE": token_issuer.audience,
        "REALTY_ENV": "production",
        "GRPC_TLS_CA_FILE": str(grpc_authority.ca_file),
        "GRPC_TLS_CERT_FILE": str(grpc_authority.directory / "listings.pem"),
        "GRPC_TLS_KEY_FILE": str(grpc_authority.directory / "listings.key"),
    }
    async with listings_process(env, port, tmp_path / "listings.log") as base:
        yield base, slugs


async def load(
    base: str,
    slugs: list[str],
    *,
    clients: int,
    tags: dict[str, str] | None = None,
    warm_up: bool = True,
    each_once: bool = False,
) -> tuple[list[float], float]:
    """`clients` visitors, each on its own kept-alive connection, asking for random pages
    one after another (with their ETag when `tags` are given); with `each_once`, every page
    of `slugs` exactly once (first renders)."""
    latencies: list[float] = []
    expected = 304 if tags else 200
    refused: list[int] = []  # other answers (503 when the shared database is exhausted)

    async def one_client(seed: int) -> None:
        rng = random.Random(seed)
        mine = slugs[seed::clients] if each_once else None
        async with Connection(base) as connection:
            for n in range(len(mine) if mine is not None else REQUESTS_PER_CLIENT):
                slug = mine[n] if mine is not None else rng.choice(slugs)
                headers = {"if-none-match": tags[slug]} if tags else {}
                started = time.perf_counter()
                answer = await connection.get(f"/homes/{slug}", headers)
                latencies.append(time.perf_counter() - started)
                if answer.status != expected:
                    refused.append(answer.status)

    if warm_up:  # the process past its first requests
        await asyncio.gather(*(one_client(10_000 + n) for n in range(min(clients, 10))))
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(one_client(n) for n in range(clients)))
    if refused:
        print(f"  {len(refused)} of {len(latencies)} answered {sorted(set(refused))}")
    return latencies, time.perf_counter() - started


async def server_cpu(base: str) -> float:
    """CPU seconds the service process has used (its `process_cpu_seconds_total`)."""
    async with Connection(base) as connection:
        text = (await connection.get("/metrics")).body.decode()
    (line,) = [x for x in text.splitlines() if x.startswith("process_cpu_seconds_total")]
    return float(line.split()[1])


async def measured(name: str, base: str, slugs: list[str], **options: Any) -> float:
    """One phase of `load`, reported with the service's CPU per request (a figure the
    machine's other work disturbs much less than latency)."""
    before = await server_cpu(base)
    latencies, elapsed = await load(base, slugs, **options)
    cpu = (await server_cpu(base) - before) * 1000 / len(latencies)
    return report(f"{name} [server CPU {cpu:.2f} ms/req]", latencies, elapsed)


def report(name: str, latencies: list[float], elapsed: float) -> float:
    ordered = sorted(latencies)
    q = statistics.quantiles(ordered, n=100)
    p95 = q[94] * 1000
    print(
        f"{name:<62} n={len(ordered):>5}  p50 {q[49] * 1000:6.1f} ms  p95 {p95:6.1f} ms  "
        f"p99 {q[98] * 1000:6.1f} ms  {len(ordered) / elapsed:6.0f} req/s"
    )
    return p95


async def bench_public_pages(pages_process):
    base, slugs = pages_process
    async with httpx.AsyncClient(base_url=base) as client:
        first = await client.get(f"/homes/{slugs[0]}")
        assert first.status_code == 200 and "RealEstateListing" in first.text
        print(f"\npage size {len(first.content):,} bytes; {COUNT:,} listings")
    cold, warm = slugs[1000:], slugs[:1000]  # pages never asked for, and pages seen before
    await measured(
        f"first render (miss), {CLIENTS} clients",
        base,
        cold,
        clients=CLIENTS,
        warm_up=False,
        each_once=True,
    )
    async with Connection(base) as connection:  # the pages seen, and their tags
        tags = {s: (await connection.get(f"/homes/{s}")).headers["etag"] for s in warm}
    await measured(f"GET /homes/{{slug}} (cached), {CLIENTS} clients", base, warm, clients=CLIENTS)
    await measured(f"revalidation (304), {CLIENTS} clients", base, warm, clients=CLIENTS, tags=tags)
    await measured("GET /homes/{slug} (cached), 1 client", base, warm, clients=1)
