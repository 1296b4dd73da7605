"""Listings benchmark: 100,000 generated listings, the real service process, 50 clients.

Prints the bulk-load time, p50/p95/p99 latency and throughput of a filtered full-text search
and of `listing(id)` at the subgraph (HTTP, the `python -m listings` process), and EXPLAIN
summaries of the main query shapes. Targets: search p95 < 30 ms, listing(id) p95 < 5 ms.
Run with `make bench` (or pytest -s on this file); sizes via LISTINGS_BENCH_COUNT/CLIENTS.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest_asyncio
from listings.app import MIGRATIONS_DIR
from listings.criteria import ListingQuery, ListingSort, Near
from listings.demo import MARKETS, generate_listings
from listings.domain import ListingStatus
from listings.queries import search_statement
from listings.store import copy_listings
from servicekit.bus import Bus
from servicekit.db import libpq_url
from servicekit.embedded import free_port
from sqlalchemy.dialects import postgresql

from .serving import listings_process

POSTGRES: Any = postgresql.dialect()  # type: ignore[no-untyped-call]
COUNT = int(os.environ.get("LISTINGS_BENCH_COUNT", "100000"))
CLIENTS = int(os.environ.get("LISTINGS_BENCH_CLIENTS", "50"))
REQUESTS_PER_CLIENT = int(os.environ.get("LISTINGS_BENCH_REQUESTS", "20"))
WORDS = (
    "pool",
    "garage",
    "fireplace",
    "hardwood floors",
    "solar",
    "garden patio",
    "view",
    "basement office",
)

SEARCH = """
query($f: ListingFilter, $first: Int) {
  listings(filter: $f, sort: RELEVANCE, first: $first) {
    edges { cursor node { id slug title price { amount currency } bedrooms bathrooms
                          address { city state postalCode } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
LISTING = """
query($id: ID!) {
  listing(id: $id) { id slug title description status propertyType bedrooms bathrooms
                     livingAreaSqft timeZone price { amount currency }
                     address { street unit city state postalCode country } location { lat lng } }
}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def service_process(
    database_factory: Any,
    aws_endpoint: str,
    token_issuer: Any,
    nats_url: str,
    grpc_authority: Any,
    tmp_path: Path,
) -> AsyncIterator[dict[str, Any]]:
    """The database loaded with COUNT listings and `python -m listings` serving it."""
    url = await database_factory.create(MIGRATIONS_DIR)
    rng = random.Random(11)
    realtors = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(500)]
    started = time.perf_counter()
    loaded = await copy_listings(url, generate_listings(COUNT, realtor_ids=realtors, seed=5))
    load_seconds = time.perf_counter() - started
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE listings")
        active_ids = [
            str(r[0])
            for r in conn.execute(
                "SELECT id FROM listings WHERE status = 'ACTIVE' ORDER BY random() LIMIT 5000"
            )
        ]
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('listings'))").fetchone()
    print(
        f"\nloaded {loaded:,} listings with COPY in {load_seconds:.1f}s (table+indexes {size and size[0]})"
    )

    port = free_port()
    namespace = f"bench{uuid.uuid4().hex[:8]}"
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
        # Production takes its gRPC certificate from files (here issued by the test CA).
        "GRPC_TLS_CA_FILE": str(grpc_authority.ca_file),
        "GRPC_TLS_CERT_FILE": str(grpc_authority.directory / "listings.pem"),
        "GRPC_TLS_KEY_FILE": str(grpc_authority.directory / "listings.key"),
    }
    grpc_authority.material("listings")  # writes listings.pem and listings.key
    try:
        async with listings_process(env, port, tmp_path / "listings.log") as base:
            yield {"base": base, "ids": active_ids, "url": url}
    finally:
        await _delete_streams(nats_url, namespace)


async def _delete_streams(nats_url: str, namespace: str) -> None:
    bus = Bus(nats_url, namespace=namespace)
    js = await bus.connect()
    for info in await js.streams_info():
        if info.config.name and info.config.name.startswith(namespace.upper()):
            await js.delete_stream(info.config.name)
    await bus.close()


def search_variables(rng: random.Random) -> dict[str, Any]:
    market = rng.choice(MARKETS)
    low = market.price_per_sqft * 900 * 100
    return {
        "f": {
            "text": rng.choice(WORDS),
            "city": market.city,
            "minPrice": low,
            "maxPrice": low * 3,
            "minBedrooms": rng.choice([1, 2, 3]),
        },
        "first": 20,
    }


async def run_load(
    base: str,
    make: Callable[[random.Random], dict[str, Any]],
    query: str,
    clients: int = CLIENTS,
    requests: int = REQUESTS_PER_CLIENT,
) -> tuple[list[float], float]:
    """`clients` concurrent clients, each sending `requests` requests back to back."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one_client(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(requests):
                body = {"query": query, "variables": make(rng)}
                started = time.perf_counter()
                response = await client.post("/graphql", json=body)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200 and "errors" not in response.json(), (
                    response.text
                )

        warm: list[Awaitable[None]] = [one_client(10_000 + n) for n in range(min(clients, 10))]
        await asyncio.gather(*warm)
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one_client(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def report(name: str, latencies: list[float], elapsed: float, target_ms: float) -> None:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    verdict = "meets" if q[94] < target_ms else "MISSES"
    print(
        f"{name:<34} n={len(ms):>5}  p50={q[49]:7.1f} ms  p95={q[94]:7.1f} ms  "
        f"p99={q[98]:7.1f} ms  {len(ms) / elapsed:7.0f} req/s  ({verdict} p95 < {target_ms:g} ms)"
    )


def explain_summaries(url: str) -> None:
    market = MARKETS[0]
    shapes = {
        "text+city+price+beds (RELEVANCE)": (
            ListingQuery(text="pool", city=market.city, min_price=30_000_000, min_bedrooms=2),
            ListingSort.RELEVANCE,
        ),
        "text only (RELEVANCE)": (ListingQuery(text="fireplace"), ListingSort.RELEVANCE),
        "all active (NEWEST)": (ListingQuery(), ListingSort.NEWEST),
        "all active (PRICE_ASC)": (ListingQuery(), ListingSort.PRICE_ASC),
        "3+ beds residential (PRICE_DESC)": (ListingQuery(min_bedrooms=3), ListingSort.PRICE_DESC),
        "5 km radius (NEWEST)": (
            ListingQuery(near=Near.of(market.lat, market.lng, 5)),
            ListingSort.NEWEST,
        ),
        "state + statuses (NEWEST)": (
            ListingQuery(state="WA", statuses=(ListingStatus.ACTIVE, ListingStatus.PENDING)),
            ListingSort.NEWEST,
        ),
    }
    print("\nEXPLAIN ANALYZE summaries (first page of 20):")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for name, (query, sort) in shapes.items():
            statement = search_statement(query, sort, None, limit=20, after=None)
            sql = str(statement.compile(dialect=POSTGRES, compile_kwargs={"literal_binds": True}))
            plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").fetchone()
            assert plan is not None
            top = plan[0][0]
            nodes = _nodes(top["Plan"])
            print(f"  {name:<36} {top['Execution Time']:7.2f} ms  {' > '.join(nodes)}")
        row = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM listings WHERE id = "
            "(SELECT id FROM listings LIMIT 1)"
        ).fetchone()
        assert row is not None
        print(
            f"  {'listing by id':<36} {row[0][0]['Execution Time']:7.2f} ms  "
            f"{' > '.join(_nodes(row[0][0]['Plan']))}"
        )


def _nodes(plan: dict[str, Any]) -> list[str]:
    label = plan["Node Type"]
    if "Index Name" in plan:
        label += f"({plan['Index Name']})"
    children = plan.get("Plans", [])
    out = [label]
    for child in children:
        if child.get("Parent Relationship") == "InitPlan":
            continue
        out += _nodes(child)
    return out


async def test_listings_benchmark(service_process: dict[str, Any]) -> None:
    base, ids = service_process["base"], service_process["ids"]
    by_id = (lambda rng: {"id": rng.choice(ids)}, LISTING)
    search = (search_variables, SEARCH)
    print(
        f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    print(f"{CLIENTS} concurrent clients x {REQUESTS_PER_CLIENT} requests each, against {base}")
    latencies, elapsed = await run_load(base, *search)
    report("listings(filter: text+city+price)", latencies, elapsed, 30)
    latencies, elapsed = await run_load(base, *by_id)
    report("listing(id)", latencies, elapsed, 5)
    print("one client at a time (service time without queueing):")
    latencies, elapsed = await run_load(base, *search, clients=1, requests=100)
    report("listings(filter: text+city+price)", latencies, elapsed, 30)
    latencies, elapsed = await run_load(base, *by_id, clients=1, requests=100)
    report("listing(id)", latencies, elapsed, 5)
    explain_summaries(service_process["url"])
