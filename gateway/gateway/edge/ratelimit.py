"""Per-client rate limiting with a token bucket.

A client (the authenticated principal, else the peer address) holds `burst` tokens that
refill at `rate` per second; each operation takes one. When the bucket is empty the
request is refused with HTTP 429, RATE_LIMITED and a Retry-After saying when one token
will be back. With `REDIS_URL` set the buckets live in Redis, updated by one Lua script so
that replicas share them and concurrent requests cannot both take the last token; the
clock is Redis's own, so replicas with skewed clocks agree. If Redis is unreachable the
limiter lets requests through rather than take the API down with it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from cachetools import LRUCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.edge.errors import EdgeError

log = logging.getLogger(__name__)

RATE_LIMITED = "RATE_LIMITED"


class RateLimiter(Protocol):
    async def acquire(self, client: str) -> float | None:
        """Take one token; None when allowed, else the seconds until a token is back."""
        ...


class MemoryRateLimiter:
    """Token buckets in this process, at most `max_clients` of them (least recent evicted).

    `clock` is monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(max(burst, 1))
        self._clock = clock
        # An LRU rather than a TTL cache: a TTL cache costs three times as much per
        # request, and an evicted bucket comes back full, as a long-idle one would be.
        self._buckets: LRUCache[str, list[float]] = LRUCache(max(max_clients, 1))

    async def acquire(self, client: str) -> float | None:
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = [self._burst, now]
        else:
            bucket[0] = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return None
        return (1.0 - bucket[0]) / self._rate


_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every gateway replica."""

    def __init__(self, redis: Redis, rate: float, burst: int, *, prefix: str) -> None:
        self._rate = rate
        self._burst = max(burst, 1)
        self._prefix = f"{prefix}ratelimit:"
        self._script: Any = redis.register_script(_TOKEN_BUCKET)

    async def acquire(self, client: str) -> float | None:
        try:
            allowed, wait = await self._script(
                keys=[self._prefix + client], args=[self._rate, self._burst]
            )
        except RedisError:
            log.warning("rate limiting in Redis failed; letting the request through", exc_info=True)
            return None
        if int(allowed) == 1:
            return None
        return float(wait.decode() if isinstance(wait, bytes) else wait)


def rate_limited(wait_seconds: float) -> EdgeError:
    retry_after = max(1, math.ceil(wait_seconds))
    return EdgeError(
        f"Too many requests; retry in {retry_after} s.",
        code=RATE_LIMITED,
        status=429,
        headers={"retry-after": str(retry_after)},
        retryAfter=retry_after,
    )
