"""Per-client rate limiting: 429 + RATE_LIMITED + Retry-After, in memory and in Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from gateway.edge.ratelimit import MemoryRateLimiter, RedisRateLimiter
from redis.asyncio import Redis

from .redis_backend import RedisBackend

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
    make_client: Callable[..., Any], redis_backend: RedisBackend
) -> None:
    settings = {"rate_limit_per_second": 0.01, "rate_limit_burst": 3}
    first = make_client(**settings, **redis_backend.app_options())
    second = make_client(**settings, **redis_backend.app_options())
    for _ in range(2):
        assert first.post("/graphql", content=BODY, headers=HEADERS).status_code == 200
    assert_limited(exhaust(second, 1))
    assert_limited(first.post("/graphql", content=BODY, headers=HEADERS))


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_bucket_refills_at_the_rate() -> None:
    clock = Clock()  # steps of binary fractions: the arithmetic is exact
    limiter = MemoryRateLimiter(rate=4.0, burst=1, clock=clock)
    assert await limiter.acquire("c") is None
    assert await limiter.acquire("c") == 0.25
    clock.now += 0.125
    assert await limiter.acquire("c") == 0.125
    clock.now += 0.125
    assert await limiter.acquire("c") is None
    assert await limiter.acquire("c") == 0.25


async def test_an_active_client_keeps_its_bucket_past_the_refill_time() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(rate=1.0, burst=4, clock=clock)  # refilled after 4 s
    outcomes = []
    for _ in range(10):  # one take every half second, for longer than those 4 s
        outcomes.append(await limiter.acquire("c"))
        clock.now += 0.5
    # A bucket forgotten 4 s after it was made would hand out a fresh burst at the end.
    assert outcomes == [None] * 7 + [0.5, None, 0.5]


async def test_least_recent_clients_are_forgotten_past_max_clients() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(rate=0.001, burst=1, max_clients=2, clock=clock)
    for client in ("a", "b", "a", "c"):
        await limiter.acquire(client)
    assert await limiter.acquire("a") is not None  # kept, and empty
    assert await limiter.acquire("b") is None  # forgotten: a full bucket again


async def test_redis_bucket_is_atomic_under_concurrency(redis_backend: RedisBackend) -> None:
    redis = redis_backend.client()
    try:
        limiter = RedisRateLimiter(redis, rate=0.01, burst=5, prefix=redis_backend.prefix)
        outcomes = await asyncio.gather(*(limiter.acquire("client") for _ in range(20)))
        assert sum(outcome is None for outcome in outcomes) == 5
        assert all(outcome is None or outcome > 1 for outcome in outcomes)
        with redis_backend.sync() as raw:
            assert raw.exists(f"{redis_backend.prefix}ratelimit:client") == 1
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
