"""CPU per public page request in this process, and where it goes: a first render (the
page's read and render), a page from the page cache, and a revalidation (304).

The app is the one `app.runtime` serves (every middleware), driven one request at a time
through `httpx.ASGITransport`; `time.process_time()` stays meaningful on a shared machine
where requests per second do not. The client's own CPU is in the figures too.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import pstats
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest_asyncio
from listings.app import MIGRATIONS_DIR, Parts, assemble, runtime
from listings.demo import generate_listings
from listings.events import outgoing
from listings.settings import Settings
from listings.store import copy_listings
from servicekit.bus import Bus
from servicekit.db import Database, libpq_url
from servicekit.infrastructure import Infrastructure
from servicekit.mail import build_mailer

COUNT = 2_000
REQUESTS = 400


@pytest_asyncio.fixture(loop_scope="session")
async def pages_app(
    database_factory: Any, aws_endpoint: str, nats_url: str, token_issuer: Any,
    grpc_authority: Any, identity: str,
) -> AsyncIterator[tuple[Parts, Any, list[str]]]:  # fmt: skip
    """The pages' HTTP app over COUNT listings, its page cache fed by a real bus, realtors'
    profiles from identity's gRPC contract over mutual TLS (without an identity to answer,
    no page would be cached: a page without its realtor is not kept)."""
    url = await database_factory.create(MIGRATIONS_DIR)
    rng = random.Random(3)
    realtors = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(20)]
    await copy_listings(url, generate_listings(COUNT, realtor_ids=realtors, seed=9))
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE listings")
        slugs = [
            str(r[0])
            for r in conn.execute(
                "SELECT slug FROM listings WHERE status IN ('ACTIVE','PENDING','COMING_SOON',"
                "'CLOSED') ORDER BY random()"
            )
        ]
    settings = Settings(
        database_url=url,
        photos_bucket=f"bench-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=aws_endpoint,
        identity_grpc=identity,
    )
    db = Database(url, source="listings", events=outgoing)
    bus = Bus(nats_url, namespace=f"bench{uuid.uuid4().hex[:8]}", name="listings-bench")
    infra = Infrastructure(
        settings=settings,
        db=db,
        bus=bus,
        verifier=token_issuer.verifier(),
        mailer=build_mailer(settings.infra),
        tls=grpc_authority.material("listings"),
    )
    parts = assemble(settings, infra)
    await parts.storage.ensure_ready()
    feed = asyncio.create_task(parts.page_feed.run())
    while not parts.page_feed.usable():
        await asyncio.sleep(0.05)
    try:
        yield parts, runtime(parts).http_app, slugs
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await bus.close()
        await infra.verifier.aclose()
        await db.dispose()


@contextlib.contextmanager
def parts_timed(parts: Parts) -> Iterator[dict[str, float]]:
    """CPU spent in the page's read (statement and rows) and in its template render, while
    the block runs (requests one at a time, so the process's CPU during a read is its own)."""
    spent = {"the read (public_page)": 0.0, "the render (Jinja2)": 0.0}
    queries, renderer = parts.page_source.queries, parts.page_source.renderer
    read, render = queries.public_page, renderer.render

    async def timed_read(slug: str) -> Any:
        started = time.process_time()
        try:
            return await read(slug)
        finally:
            spent["the read (public_page)"] += time.process_time() - started

    def timed_render(template: str, **context: Any) -> str:
        started = time.process_time()
        try:
            return render(template, **context)
        finally:
            spent["the render (Jinja2)"] += time.process_time() - started

    queries.public_page = timed_read  # type: ignore[method-assign]
    renderer.render = timed_render  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        del queries.public_page, renderer.render


async def requests(
    http: httpx.AsyncClient, slugs: list[str], tags: dict[str, str] | None = None
) -> None:
    for slug in slugs:
        headers = {"if-none-match": tags[slug]} if tags else {}
        response = await http.get(f"/homes/{slug}", headers=headers)
        assert response.status_code == (304 if tags else 200), response.status_code


async def measure(
    name: str, http: httpx.AsyncClient, slugs: list[str], tags: dict[str, str] | None = None
) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    await requests(http, slugs, tags)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"{name:<34} CPU {cpu * 1000 / len(slugs):6.3f} ms/request   "
        f"wall {wall * 1000 / len(slugs):6.3f} ms/request  (n={len(slugs)}, sequential)"
    )


def package(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    if "listings" in parts:
        return "listings." + parts[-1].removesuffix(".py")
    if "servicekit" in parts:
        return "servicekit." + parts[-1].removesuffix(".py")
    return "stdlib/builtins"


async def where(name: str, http: httpx.AsyncClient, slugs: list[str]) -> None:
    profile = cProfile.Profile()
    profile.enable()
    await requests(http, slugs)
    profile.disable()
    stats: Any = pstats.Stats(profile).stats
    own: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        own[package(filename)] += tottime
    total = sum(own.values()) or 1.0
    top = sorted(own.items(), key=lambda kv: -kv[1])[:9]
    print(f"  where {name} goes: " + "  ".join(f"{k} {v / total:.0%}" for k, v in top))


async def bench_page_cpu(pages_app):
    parts, app, slugs = pages_app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        await requests(http, slugs[:50])  # warm up
        print()
        cold = slugs[100 : 100 + REQUESTS]
        with parts_timed(parts) as spent:
            await measure("first render (read + render)", http, cold)
        for part, seconds in spent.items():
            print(f"  of which {part:<30} CPU {seconds * 1000 / len(cold):6.3f} ms/page")
        await where("a first render", http, slugs[600 : 600 + REQUESTS // 2])
        hot = slugs[100 : 100 + REQUESTS]
        await measure("from the page cache", http, hot)
        await where("a cached page", http, hot)
        tags = {s: (await http.get(f"/homes/{s}")).headers["etag"] for s in hot}
        await measure("revalidation (304)", http, hot, tags)
    print(f"  pages cached: {len(parts.page_source.cache)}")
