"""`python -m listings.seed [--count N]`: demo listings in the running stack (`make seed`).

Realtors come from identity through the public GraphQL contract: demo realtor accounts
are registered (or logged into, when they exist) so the listings point at real users.
Small counts go through the use case `import_listings`, so every listing is announced with
its `created` event by the unit of work like one a realtor created; large counts (`--bulk`,
or more than 2,000) are loaded with COPY (`store.copy_listings`, no events).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from typing import Any

import httpx
from servicekit.db import Database
from servicekit.migrations import migrate

from listings import store
from listings.app import MIGRATIONS_DIR, build_storage
from listings.demo import generate_listings
from listings.events import outgoing
from listings.service import ListingService
from listings.settings import Settings

log = logging.getLogger("listings.seed")

BULK_THRESHOLD = 2_000
DEMO_PASSWORD = "Harbor-Lantern-Quartz-1874"

REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { user { id } } }
"""
LOGIN = """
mutation($email: String!, $password: String!) { login(email: $email, password: $password) { user { id } } }
"""


async def demo_realtors(identity_url: str, count: int) -> list[uuid.UUID]:
    """Ids of `count` demo realtors registered with identity; random ids if it is not running."""
    ids: list[uuid.UUID] = []
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            for n in range(1, count + 1):
                email = f"realtor{n}@demo.realtyforyou.com"
                variables: dict[str, Any] = {
                    "input": {
                        "email": email,
                        "password": DEMO_PASSWORD,
                        "displayName": f"Demo Realtor {n}",
                        "role": "REALTOR",
                        "timeZone": "America/Los_Angeles",
                    }
                }
                body = (
                    await client.post(
                        identity_url, json={"query": REGISTER, "variables": variables}
                    )
                ).json()
                if body.get("errors"):
                    login = {"email": email, "password": DEMO_PASSWORD}
                    body = (
                        await client.post(identity_url, json={"query": LOGIN, "variables": login})
                    ).json()
                if body.get("errors") or not body.get("data"):
                    raise RuntimeError(
                        f"identity refused demo realtor {email}: {body.get('errors')}"
                    )
                payload = body["data"].get("register") or body["data"].get("login")
                ids.append(uuid.UUID(payload["user"]["id"]))
    except (httpx.HTTPError, RuntimeError, ValueError, KeyError) as exc:
        log.warning("identity unavailable (%s); listings get random realtor ids", exc)
        return [uuid.uuid4() for _ in range(count)]
    return ids


async def seed(
    count: int, *, bulk: bool, realtors: int, identity_url: str, seed_value: int
) -> None:
    settings = Settings()
    url = settings.resolved_database_url()
    await migrate(url, MIGRATIONS_DIR)
    realtor_ids = await demo_realtors(identity_url, realtors)
    listings = generate_listings(count, realtor_ids=realtor_ids, seed=seed_value)
    started = time.perf_counter()
    if bulk or count > BULK_THRESHOLD:
        loaded = await store.copy_listings(url, listings)
    else:
        db = Database(url, source=settings.service_name, events=outgoing)
        try:
            loaded = await ListingService(db, build_storage(settings)).import_listings(listings)
        finally:
            await db.dispose()
    elapsed = time.perf_counter() - started
    print(f"seeded {loaded} listings for {len(realtor_ids)} realtors in {elapsed:.1f}s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m listings.seed", description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="listings to create (default 300)")
    parser.add_argument("--realtors", type=int, default=8, help="demo realtors (default 8)")
    parser.add_argument("--bulk", action="store_true", help="COPY without events")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument(
        "--identity-url",
        default="http://127.0.0.1:4001/graphql",
        help="identity subgraph used to register the demo realtors",
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.realtors < 1:
        parser.error("--count and --realtors must be positive")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    seed_value = args.seed if args.seed is not None else time.time_ns()
    asyncio.run(
        seed(
            args.count,
            bulk=args.bulk,
            realtors=args.realtors,
            identity_url=args.identity_url,
            seed_value=seed_value,
        )
    )


if __name__ == "__main__":
    main()
