"""Per-client rate limiting: 429 + RATE_LIMITED + Retry-After, in memory and in Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from gateway.edge.ratelimit import MemoryRateLimiter, RedisRateLimiter
from redis.asyncio import Redis

from .conftest import REDIS_URL

HEADERS = {"content-type": "application/json"}
BODY = json.dumps({"query": "{ hello }"})


def exhaust(client: Any, allowed: int, **headers: str) -> Any:
    for _ in range(allowed):
        response = client.post("/graphql", content=BODY, headers={**HEADERS, **headers})
        assert response.status_code == 200, response.text
    return client.post("/graphql", content=BODY, headers={**HEADERS, **headers})


def assert_limited(response: Any) -> None:
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"


def test_memory_limiter_refuses_past_the_burst(
    make_client: Callable[..., Any], engines: dict[str, Any]
) -> None:
    client = make_client(rate_limit_per_second=0.01, rate_limit_burst=3)
    assert_limited(exhaust(client, 3))
    assert len(engines["v1"].calls) == 3


def test_clients_are_limited_separately(make_client: Callable[..., Any]) -> None:
    client = make_client(rate_limit_per_second=0.01, rate_limit_burst=2)
    assert_limited(exhaust(client, 2))
    user = {"authorization": "Bearer good-u1-BUYER"}
    assert_limited(exhaust(client, 2, **user))
    other = {"authorization": "Bearer good-u2-BUYER"}
    assert client.post("/graphql", content=BODY, headers={**HEADERS, **other}).status_code == 200


def test_redis_limiter_is_shared_between_gateways(
    make_client: Callable[..., Any], redis_prefix: str
) -> None:
    settings = {
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "rate_limit_per_second": 0.01,
        "rate_limit_burst": 3,
    }
    first = make_client(**settings)
    second = make_client(**settings)
    for _ in range(2):
        assert first.post("/graphql", content=BODY, headers=HEADERS).status_code == 200
    assert_limited(exhaust(second, 1))
    assert_limited(first.post("/graphql", content=BODY, headers=HEADERS))


async def test_memory_bucket_refills() -> None:
    limiter = MemoryRateLimiter(rate=50.0, burst=1)
    assert await limiter.acquire("c") is None
    wait = await limiter.acquire("c")
    assert wait is not None and 0 < wait <= 0.02
    await asyncio.sleep(0.03)
    assert await limiter.acquire("c") is None


async def test_redis_bucket_is_atomic_under_concurrency(redis_prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        limiter = RedisRateLimiter(redis, rate=0.01, burst=5, prefix=redis_prefix)
        outcomes = await asyncio.gather(*(limiter.acquire("client") for _ in range(20)))
        assert sum(outcome is None for outcome in outcomes) == 5
        assert all(outcome is None or outcome > 1 for outcome in outcomes)
    finally:
        await redis.aclose()


async def test_redis_outage_lets_requests_through() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        limiter = RedisRateLimiter(redis, rate=1.0, burst=1, prefix="x:")
        assert await limiter.acquire("c") is None
        assert await limiter.acquire("c") is None
    finally:
        await redis.aclose()
