"""Cached values of public data under the tags of the entities they hold, dropped by the
events that name them: whole encoded answers (`ResponseCache`) and single entities'
answers (`caching.entities`).

Entries are kept in a bounded LRU with a time to live, each under the tags of the
entities it holds (`policy.tags`). `invalidate(type, id)` drops the entries tagged with
that entity or with the whole type.

A value fetched while an event about one of its entities arrived must not be stored: it
may predate the change. So a reader records the invalidation count when the fetch starts
(`epoch`), and `put` refuses a value when an invalidation since then touched one of its
tags (remembered for the last `recent` invalidations; older than that, the value is not
stored at all).

A cache only answers while `usable()` says its events are heard (the feed is subscribed
and connected); when they stop it is emptied, because what it missed meanwhile cannot be
known.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import TTLCache

from gateway.caching.policy import ANY, CachePolicy, Tag

__all__ = ["Lookup", "ResponseCache", "TaggedCache"]

V = TypeVar("V")


@dataclass(slots=True)
class Lookup:
    """One cacheable request: its key and policy, the body on a hit, the epoch on a miss."""

    key: Hashable
    policy: CachePolicy
    body: bytes | None
    epoch: int


class TaggedCache(Generic[V]):
    """Values under tags; see the module docstring."""

    def __init__(
        self,
        *,
        size: int = 10_000,
        ttl_seconds: float = 300.0,
        usable: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
        recent: int = 4096,
    ) -> None:
        self._entries: TTLCache[Hashable, tuple[V, frozenset[Tag]]] = TTLCache(
            max(1, size), ttl_seconds, timer=clock
        )
        self._by_tag: dict[Tag, set[Hashable]] = {}
        self._usable = usable
        self._was_usable = False
        self._epoch = 0
        self._recent: deque[tuple[int, Tag]] = deque(maxlen=recent)
        self._stores = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def usable(self) -> bool:
        """Whether the cache answers now; a return from unusable empties it first."""
        usable = self._usable()
        if usable != self._was_usable:
            self.clear()
            self._was_usable = usable
        return usable

    @property
    def epoch(self) -> int:
        """The invalidation count a fetch starting now hands back to `put`."""
        return self._epoch

    def get(self, key: Hashable) -> V | None:
        """The value kept under `key` (the caller has asked `usable()`), counted."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        return entry[0]

    def put(self, key: Hashable, value: V, tags: set[Tag], epoch: int) -> bool:
        """Keep a value unless an invalidation since `epoch` may have made it stale."""
        if not self.usable():
            return False
        if self._epoch != epoch:
            if self._epoch - epoch > len(self._recent):
                return False  # the record of what was dropped meanwhile is gone
            for since, tag in reversed(self._recent):
                if since <= epoch:
                    break
                if tag in tags or (tag[0], ANY) in tags:
                    return False
        frozen = frozenset(tags)
        self._entries[key] = (value, frozen)
        for tag in frozen:
            self._by_tag.setdefault(tag, set()).add(key)
        self._stores += 1
        if self._stores >= self._entries.maxsize:
            self._reindex()
        return True

    def invalidate(self, type_name: str, identity: str) -> int:
        """Drop every answer holding this entity, or any of its type; returns how many."""
        self._epoch += 1
        tag = (type_name, identity)
        self._recent.append((self._epoch, tag))
        keys = self._by_tag.pop(tag, set()) | self._by_tag.pop((type_name, ANY), set())
        dropped = 0
        for key in keys:
            if self._entries.pop(key, None) is not None:
                dropped += 1
        return dropped

    def clear(self) -> None:
        self._entries.clear()
        self._by_tag.clear()
        self._stores = 0
        self._epoch += 1
        self._recent.clear()

    def _reindex(self) -> None:
        """Rebuild the tag index from the live entries (expired and evicted ones leave it).

        Done once per `size` stores, so the index stays within a small multiple of the
        entries at an amortised constant cost per store.
        """
        self._stores = 0
        self._entries.expire()
        index: dict[Tag, set[Hashable]] = {}
        for key, (_, tags) in self._entries.items():
            for tag in tags:
                index.setdefault(tag, set()).add(key)
        self._by_tag = index


class ResponseCache(TaggedCache[bytes]):
    """Encoded response bodies of public queries (a hit costs no engine work and no JSON
    encode), looked up and stored once per request."""

    def lookup(self, key: Hashable, policy: CachePolicy) -> Lookup | None:
        if not self.usable():
            return None
        return Lookup(key, policy, self.get(key), self._epoch)

    def store(self, lookup: Lookup, body: bytes, tags: set[Tag]) -> bool:
        return self.put(lookup.key, body, tags, lookup.epoch)
