"""CPU per request of the hot read paths, in-process: `listing(id)` (as the gateway asks for
it, realtor key included), a Listing `_entities` lookup (10 references) and a city search.

The app is the one the production process serves (middleware, subgraph, real PostgreSQL,
the cyclic collector tuned as the process tunes it), driven one request at a time over ASGI, so the figure is CPU per request, not a
throughput that depends on what else runs on the machine. Also prints where that CPU
goes by package and the functions with the most own time (cProfile). Run with `make bench`.
"""

from __future__ import annotations

import cProfile
import pstats
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest_asyncio
from listings.app import MIGRATIONS_DIR, Parts, assemble, runtime
from listings.criteria import ListingQuery, ListingSort
from listings.demo import MARKETS, generate_listings
from listings.queries import search_statement
from listings.settings import Settings
from listings.store import LISTING_COLUMNS, copy_listings, listing_from_row
from listings.tables import listings
from servicekit.bus import Bus
from servicekit.db import Database, libpq_url
from servicekit.infrastructure import Infrastructure
from servicekit.mail import build_mailer
from servicekit.testing.cpu import (
    Body,
    collected_as_served,
    cpu_per_request,
    entities_batched_side_by_side,
    post,
    profile_line,
    where_cpu_goes,
)
from sqlalchemy import select
from starlette.types import ASGIApp

COUNT = 5000
LISTING = """query($id: ID!) { listing(id: $id) { id slug title description status propertyType
  bedrooms bathrooms livingAreaSqft timeZone price { amount currency }
  address { street unit city state postalCode country } location { lat lng }
  realtor { __typename id } } }"""
ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Listing { id title slug price { amount currency } address { city state } } } }"""
SEARCH = """query($f: ListingFilter, $first: Int) { listings(filter: $f, first: $first) {
  edges { cursor node { id slug title price { amount currency } bedrooms bathrooms
  address { city state postalCode } realtor { __typename id } } }
  pageInfo { hasNextPage endCursor } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    database_factory: Any, aws_endpoint: str, nats_url: str, token_issuer: Any
) -> AsyncIterator[tuple[ASGIApp, list[str], Parts]]:
    url = await database_factory.create(MIGRATIONS_DIR)
    rng = random.Random(3)
    realtors = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(50)]
    await copy_listings(url, generate_listings(COUNT, realtor_ids=realtors, seed=3))
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        ids = [
            str(r[0])
            for r in conn.execute("SELECT id FROM listings WHERE status = 'ACTIVE' LIMIT 500")
        ]
    settings = Settings(
        database_url=url,
        photos_bucket=f"cpu-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=aws_endpoint,
    )
    db = Database(url, source="listings")
    infra = Infrastructure(
        settings=settings,
        db=db,
        bus=Bus(nats_url, name="listings-cpu"),  # never connected here
        verifier=token_issuer.verifier(),
        mailer=build_mailer(settings.infra),
    )
    parts = assemble(settings, infra)
    try:
        process = runtime(parts)
        with collected_as_served(process.gc_young_threshold):
            yield process.http_app, ids, parts
    finally:
        await infra.verifier.aclose()
        await db.dispose()
        await database_factory.drop(url)


async def top_entries(app: ASGIApp, body: Body, *, count: int = 200, top: int = 8) -> list[str]:
    """The functions with the most own CPU time over `count` requests (cProfile)."""
    for i in range(20):
        await post(app, body(i), {})
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for i in range(count):
        await post(app, body(i), {})
    profile.disable()
    stats: Any = getattr(pstats.Stats(profile), "stats")  # noqa: B009 (untyped in typeshed)
    total = sum(row[2] for row in stats.values()) or 1.0
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [
        f"{row[2] / total:4.0%} {row[2] * 1000 / count:5.3f} ms  {Path(f).name}:{line} {name}"
        for (f, line, name), row in ranked
    ]


async def reads_side_by_side(parts: Parts, ids: list[str], *, rounds: int = 5) -> None:
    """The same reads driver-level (`ListingQueries`) and through SQLAlchemy's `Connection`
    (the statement built, compiled from its cache and executed, rows as `Row`s), rounds
    alternated in this process: the read's own share of the figures above."""
    queries, db = parts.queries, parts.infra.db
    keys = [uuid.UUID(i) for i in ids]
    city = ListingQuery(city=MARKETS[0].city)

    async def driver_get(i: int) -> None:
        await queries.get(None, listing_id=keys[i % len(keys)])

    async def orm_get(i: int) -> None:
        statement = select(*LISTING_COLUMNS).where(listings.c.id == keys[i % len(keys)])
        async with db.reads() as conn:
            listing_from_row((await conn.execute(statement)).one())

    async def driver_search(i: int) -> None:
        await queries.search(None, city, ListingSort.RELEVANCE, limit=20)

    async def orm_search(i: int) -> None:
        statement = search_statement(city, ListingSort.RELEVANCE, None, limit=20, after=None)
        async with db.reads() as conn:
            [listing_from_row(row) for row in (await conn.execute(statement)).all()]

    cases = {
        "listing by id": (driver_get, orm_get),
        "city search, 20 rows": (driver_search, orm_search),
    }
    print("  reads alone, CPU per call (driver-level vs SQLAlchemy Connection, alternated):")
    for name, (driver, orm) in cases.items():
        spent = {"driver": 0.0, "sqlalchemy": 0.0}
        for _ in range(rounds):
            for label, read in (("driver", driver), ("sqlalchemy", orm)):
                started = time.process_time()
                for i in range(100):
                    await read(i)
                spent[label] += time.process_time() - started
        per = {k: v * 1000 / (rounds * 100) for k, v in spent.items()}
        print(
            f"    {name:<22} driver {per['driver']:.3f} ms   sqlalchemy {per['sqlalchemy']:.3f} ms"
        )


async def bench_cpu_per_request(served: tuple[ASGIApp, list[str], Parts]) -> None:
    app, ids, parts = served
    cities = [m.city for m in MARKETS]
    cases = {
        "listing(id)": lambda i: {"query": LISTING, "variables": {"id": ids[i % len(ids)]}},
        "_entities Listing x10": lambda i: {
            "query": ENTITIES,
            "variables": {
                "r": [
                    {"__typename": "Listing", "id": ids[(i * 10 + k) % len(ids)]} for k in range(10)
                ]
            },
        },
        "listings(city) first 20": lambda i: {
            "query": SEARCH,
            "variables": {"f": {"city": cities[i % len(cities)]}, "first": 20},
        },
    }
    print("\nlistings, CPU per request (shared machine: compare CPU ms, not wall time)")
    for name, body in cases.items():
        figures = await cpu_per_request(app, body)
        print(figures.line(name))
        print("    where: " + profile_line(await where_cpu_goes(app, body)))
        for entry in await top_entries(app, body):
            print("      " + entry)
    ab = await entities_batched_side_by_side(app, cases["_entities Listing x10"], "Listing")
    print(
        f"  _entities Listing x10, alternated: batched {ab['batched']:.3f} ms"
        f"   per item {ab['per item']:.3f} ms CPU/request"
    )
    await reads_side_by_side(parts, ids)
