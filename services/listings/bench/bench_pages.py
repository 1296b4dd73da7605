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
from servicekit.db import libpq_url
from servicekit.embedded import free_port

from .keepalive import Connection
from .serving import listings_process, tree_cpu_seconds

COUNT = int(os.environ.get("LISTINGS_BENCH_PAGES_COUNT", "20000"))
# Connections that fetch every page seen before ahead of the cached rounds: the kernel
# spreads connections over the service's processes and each keeps its own pages, so with
# this many every process holds every page (a process missed by all of them: 2 in 1,000
# with two processes).
WARMING_CONNECTIONS = 10
CLIENTS = int(os.environ.get("LISTINGS_BENCH_CLIENTS", "50"))
REQUESTS_PER_CLIENT = int(os.environ.get("LISTINGS_BENCH_REQUESTS", "40"))


@pytest_asyncio.fixture(loop_scope="session")
async def pages_process(
    database_factory: Any, aws_endpoint: str, nats_url: str, token_issuer: Any,
    grpc_authority: Any, tmp_path: Path, identity: str,
) -> AsyncIterator[tuple[str, int, list[str]]]:  # fmt: skip
    """The service serving COUNT listings; its base URL, its first process's id and the
    public slugs."""
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
    pid: list[int] = []
    processes = len(os.sched_getaffinity(0))  # production's default: one per core
    log = tmp_path / "listings.log"
    async with listings_process(env, port, log, pid=pid, processes=processes) as base:
        yield base, pid[0], slugs


async def load(
    base: str,
    slugs: list[str],
    *,
    clients: int,
    tags: dict[str, str] | None = None,
    each_once: bool = False,
    seed: int = 0,
) -> tuple[list[float], float]:
    """`clients` visitors, each on its own kept-alive connection, asking for random pages
    one after another (with their ETag when `tags` are given); with `each_once`, every page
    of `slugs` exactly once (first renders)."""
    latencies: list[float] = []
    base_seed = seed
    expected = 304 if tags else 200
    refused: list[int] = []  # other answers (503 when the shared database is exhausted)

    async def one_client(seed: int) -> None:
        rng = random.Random(seed)
        mine = slugs[seed - base_seed :: clients] if each_once else None
        async with Connection(base) as connection:
            for n in range(len(mine) if mine is not None else REQUESTS_PER_CLIENT):
                slug = mine[n] if mine is not None else rng.choice(slugs)
                headers = {"if-none-match": tags[slug]} if tags else {}
                started = time.perf_counter()
                answer = await connection.get(f"/homes/{slug}", headers)
                latencies.append(time.perf_counter() - started)
                if answer.status != expected:
                    refused.append(answer.status)

    started = time.perf_counter()
    await asyncio.gather(*(one_client(seed + n) for n in range(clients)))
    if refused:
        print(f"  {len(refused)} of {len(latencies)} answered {sorted(set(refused))}")
    return latencies, time.perf_counter() - started


async def measured(
    name: str, base: str, pid: int, slugs: list[str], *, warm_up: bool = True, **options: Any
) -> float:
    """One phase of `load`, reported with the service's CPU per request (a figure the
    machine's other work disturbs much less than latency): every process of the service,
    from /proc (the service's own counter is per process; see `serving`)."""
    if warm_up:  # the processes past their first requests, outside the measured phase
        await load(base, slugs, **{**options, "clients": min(options["clients"], 10)}, seed=10_000)
    before = tree_cpu_seconds(pid)
    latencies, elapsed = await load(base, slugs, **options)
    cpu = (tree_cpu_seconds(pid) - before) * 1000 / len(latencies)
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


async def warm(base: str, slugs: list[str]) -> dict[str, str]:
    """Every page of `slugs` fetched on WARMING_CONNECTIONS connections (so every process
    has rendered each), and the pages' tags, the same from every process."""

    async def through_one() -> dict[str, str]:
        async with Connection(base) as connection:
            return {s: (await connection.get(f"/homes/{s}")).headers["etag"] for s in slugs}

    seen = await asyncio.gather(*(through_one() for _ in range(WARMING_CONNECTIONS)))
    assert all(tags == seen[0] for tags in seen), "processes disagree on a page's ETag"
    return seen[0]


async def bench_public_pages(pages_process):
    base, pid, slugs = pages_process
    async with httpx.AsyncClient(base_url=base) as client:
        first = await client.get(f"/homes/{slugs[0]}")
        assert first.status_code == 200 and "RealEstateListing" in first.text
        print(f"\npage size {len(first.content):,} bytes; {COUNT:,} listings")
    cold, seen = slugs[1000:], slugs[:1000]  # pages never asked for, and pages seen before
    await measured(
        f"first render (miss), {CLIENTS} clients",
        base,
        pid,
        cold,
        clients=CLIENTS,
        warm_up=False,
        each_once=True,
    )
    tags = await warm(base, seen)
    await measured(
        f"GET /homes/{{slug}} (cached), {CLIENTS} clients", base, pid, seen, clients=CLIENTS
    )
    await measured(
        f"revalidation (304), {CLIENTS} clients", base, pid, seen, clients=CLIENTS, tags=tags
    )
    await measured("GET /homes/{slug} (cached), 1 client", base, pid, seen, clients=1)
