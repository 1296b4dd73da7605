"""The Redis the APQ store and rate limiter tests run against: real when reachable, else fake.

`REDIS_URL` (default redis://127.0.0.1:6379/0) is used when a PING answers; otherwise an
in-process fakeredis server with Lua scripting stands in, so the Redis paths run in
every test run. Each test gets a key prefix of its own, and its keys are deleted after.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import fakeredis
import redis as sync_redis
from redis.asyncio import Redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable(url: str) -> bool:
    client = sync_redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except sync_redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class RedisBackend:
    """Clients of one Redis (real or fake) and this test's key prefix."""

    prefix: str
    url: str | None  # None: the fake server
    server: fakeredis.FakeServer | None = None

    @classmethod
    def start(cls) -> RedisBackend:
        prefix = f"test-gateway-{uuid.uuid4().hex}:"
        if reachable(REDIS_URL):
            return cls(prefix, REDIS_URL)
        return cls(prefix, None, fakeredis.FakeServer())

    @property
    def fake(self) -> bool:
        return self.url is None

    def app_options(self) -> dict[str, Any]:
        """`make_client` options pointing a gateway at this Redis under this prefix.

        A real Redis is named by URL, so the gateway opens and closes its own client.
        """
        if self.url is not None:
            return {"redis_url": self.url, "redis_prefix": self.prefix}
        return {"redis": self.client(), "redis_prefix": self.prefix}

    def client(self) -> Redis:
        """A new asyncio client; use it in one event loop only."""
        if self.url is not None:
            return Redis.from_url(self.url)
        fake: Any = fakeredis.FakeAsyncRedis(server=self.server)
        return fake  # type: ignore[no-any-return]

    def sync(self) -> sync_redis.Redis:
        if self.url is not None:
            return sync_redis.Redis.from_url(self.url)
        fake: Any = fakeredis.FakeRedis(server=self.server)
        return fake  # type: ignore[no-any-return]

    def clean(self) -> None:
        with self.sync() as client:
            keys = list(client.scan_iter(match=f"{self.prefix}*"))
            if keys:
                client.delete(*keys)
