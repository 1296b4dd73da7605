"""Automatic persisted queries (Apollo APQ): clients send a sha256 instead of the document.

The protocol, as Apollo clients speak it: a request whose `extensions.persistedQuery` is
`{"version": 1, "sha256Hash": h}` and carries no `query` is served from the store, or
answered with PERSISTED_QUERY_NOT_FOUND, after which the client sends the hash together
with the document; the gateway checks that the hash matches, runs the document and
remembers it. Only documents that parsed and passed the limits are remembered, so the
store never fills with garbage. The store is Redis when `REDIS_URL` is set (shared by
every gateway replica) and a bounded in-memory LRU otherwise, both with the same TTL.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.edge.errors import EdgeError

log = logging.getLogger(__name__)

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"


class APQStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, query: str) -> None: ...


class MemoryAPQStore:
    """A bounded LRU of documents by hash for a single gateway process, each kept `ttl_seconds`.

    `clock` is monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        ttl_seconds: float = 86_400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: TTLCache[str, str] = TTLCache(
            maxsize=max(max_entries, 1), ttl=ttl_seconds, timer=clock
        )

    async def get(self, sha256: str) -> str | None:
        return self._entries.get(sha256)

    async def put(self, sha256: str, query: str) -> None:
        self._entries[sha256] = query


class RedisAPQStore:
    """Documents by hash in Redis, shared by every replica; Redis trouble reads as a miss."""

    def __init__(self, redis: Redis, *, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}apq:"
        self._ttl = ttl_seconds

    async def get(self, sha256: str) -> str | None:
        try:
            value: Any = await self._redis.get(self._prefix + sha256)
        except RedisError:
            log.warning("APQ look-up in Redis failed; treating it as a miss", exc_info=True)
            return None
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def put(self, sha256: str, query: str) -> None:
        try:
            await self._redis.set(self._prefix + sha256, query, ex=self._ttl)
        except RedisError:
            log.warning("could not store a persisted query in Redis", exc_info=True)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The document to run, and the hash to remember it under once it passed the edge."""

    query: str
    register: str | None = None


class PersistedQueries:
    """Resolves `extensions.persistedQuery`; with no store, APQ is answered as unsupported."""

    def __init__(self, store: APQStore | None) -> None:
        self._store = store

    async def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None
    ) -> Resolved | None:
        """The document for this request; None when it carries neither query nor APQ hash."""
        persisted = extensions.get("persistedQuery") if extensions else None
        if persisted is None:
            return Resolved(query) if query is not None else None
        if self._store is None:
            raise EdgeError("PersistedQueryNotSupported", code=NOT_SUPPORTED, status=200)
        if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
            raise EdgeError(
                "Unsupported persisted query version: only version 1 is supported.",
                code="BAD_REQUEST",
                status=400,
            )
        sha = persisted.get("sha256Hash")
        if not isinstance(sha, str) or len(sha) != 64:
            raise EdgeError(
                "persistedQuery.sha256Hash must be a hex sha256.", code="BAD_REQUEST", status=400
            )
        sha = sha.lower()
        if query is not None:
            if hashlib.sha256(query.encode()).hexdigest() != sha:
                raise EdgeError("provided sha does not match query", code="BAD_REQUEST", status=400)
            return Resolved(query, register=sha)
        stored = await self._store.get(sha)
        if stored is None:
            raise EdgeError("PersistedQueryNotFound", code=NOT_FOUND, status=200)
        return Resolved(stored)

    async def register(self, sha256: str, query: str) -> None:
        if self._store is not None:
            await self._store.put(sha256, query)
