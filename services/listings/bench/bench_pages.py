"""Public pages benchmark: `GET /homes/{slug}` from the real `python -m listings` process.

Loads LISTINGS_BENCH_PAGES_COUNT generated listings (default 20,000; a page is one lookup by
the unique slug, so the table's size barely matters), then 50 concurrent clients
(LISTINGS_BENCH_CLIENTS) fetch random public pages: full renders, then revalidations with
the page's ETag (what a CDN or a returning browser sends), then one client alone. Prints
p50/p95/p99 and throughput. Target: p95 < 20 ms at 50 clients.
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
from servicekit.db import libpq_url
from servicekit.embedded import free_port

from .serving import listings_process

COUNT = int(os.environ.get("LISTINGS_BENCH_PAGES_COUNT", "20000"))
CLIENTS = int(os.environ.get("LISTINGS_BENCH_CLIENTS", "50"))
REQUESTS_PER_CLIENT = int(os.environ.get("LISTINGS_BENCH_REQUESTS", "20"))


@pytest_asyncio.fixture(loop_scope="session")
async def pages_process(
    database_factory: Any, aws_endpoint: str, nats_url: str, token_issuer: Any,
    grpc_authority: Any, tmp_path: Path,
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
    base: str, slugs: list[str], *, clients: int, tags: dict[str, str] | None = None
) -> tuple[list[float], float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    expected = 304 if tags else 200
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one_client(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(REQUESTS_PER_CLIENT):
                slug = rng.choice(slugs)
                headers = {"if-none-match": tags[slug]} if tags else {}
                started = time.perf_counter()
                response = await client.get(f"/homes/{slug}", headers=headers)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == expected, response.status_code

        await asyncio.gather(*(one_client(10_000 + n) for n in range(min(clients, 10))))
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one_client(n) for n in range(clients)))
        return latencies, time.perf_counter() - started


def report(name: str, latencies: list[float], elapsed: float) -> float:
    ordered = sorted(latencies)
    q = statistics.quantiles(ordered, n=100)
    p95 = q[94] * 1000
    print(
        f"{name:<40} n={len(ordered):>5}  p50 {q[49] * 1000:6.1f} ms  p95 {p95:6.1f} ms  "
        f"p99 {q[98] * 1000:6.1f} ms  {len(ordered) / elapsed:6.0f} req/s"
    )
    return p95


async def bench_public_pages(pages_process):
    base, slugs = pages_process
    async with httpx.AsyncClient(base_url=base) as client:
        first = await client.get(f"/homes/{slugs[0]}")
        assert first.status_code == 200 and "RealEstateListing" in first.text
        print(f"\npage size {len(first.content):,} bytes; {COUNT:,} listings")
        tags = {s: (await client.get(f"/homes/{s}")).headers["etag"] for s in slugs[:200]}
    report(f"GET /homes/{{slug}}, {CLIENTS} clients", *await load(base, slugs, clients=CLIENTS))
    report(
        f"revalidation (304), {CLIENTS} clients",
        *await load(base, list(tags), clients=CLIENTS, tags=tags),
    )
    report("GET /homes/{slug}, 1 client", *await load(base, slugs, clients=1))
