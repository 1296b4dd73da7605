"""Entity caching: single entities' answers to public queries, kept across requests.

The response cache keeps whole answers, so two listing pages with the same realtor share
nothing, and every miss asks identity again for a user it answered a moment ago. This
cache keeps what a subgraph answered for one entity: per supergraph, subgraph, type and
selection (the `_entities` field the plan sends), by representation. A query whose
answers miss the response cache still finds its realtors here and sends identity nothing.

What may be kept follows the response cache's rules, and two of its own:
- only for a public operation (asked anonymously, every field public: `policy.analyse`),
  so an entity answer kept here is what every anonymous caller is answered, and nothing
  asked with credentials is read or written;
- only entities of a watched type (one the invalidation events name: `Listing`, `User`),
  tagged by their representation's `id` (by the whole type when it has no string `id`),
  so the event that changes one drops its answers at once, as it drops whole answers;
- only answers of leaves (`{displayName avatarUrl}`): they hold no other entity an event
  could change, and sharing them between requests shares nothing mutable;
- only from a fetch that came back without errors.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from gateway.caching.policy import ANY, Tag
from gateway.caching.store import TaggedCache

__all__ = ["EntityCache", "EntityView"]


class EntityCache:
    """The kept entity answers of one gateway process (`watched`: the types events name)."""

    def __init__(self, cache: TaggedCache[dict[str, Any]], watched: frozenset[str]) -> None:
        self.cache = cache
        self.watched = watched

    def view(self, scope: Hashable) -> EntityView | None:
        """What one public operation on the supergraph `scope` reads and writes; None
        while the cache cannot answer (its events are not heard)."""
        cache = self.cache
        if not self.watched or not cache.usable():
            return None
        return EntityView(cache, self.watched, scope, cache.epoch)

    def invalidate(self, type_name: str, identity: str) -> int:
        return self.cache.invalidate(type_name, identity)

    def __len__(self) -> int:
        return len(self.cache)


class EntityView:
    """One operation's access to the entity cache, from the invalidation count at its
    start: what it fetched is kept only when no event since may have changed it."""

    __slots__ = ("_cache", "_epoch", "_scope", "_watched", "hits", "misses")

    def __init__(
        self,
        cache: TaggedCache[dict[str, Any]],
        watched: frozenset[str],
        scope: Hashable,
        epoch: int,
    ) -> None:
        self._cache = cache
        self._watched = watched
        self._scope = scope
        self._epoch = epoch
        self.hits = 0
        self.misses = 0

    def known(
        self, batch: Hashable, identities: Sequence[Any], reps: Sequence[dict[str, Any]]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """The kept answers among a batch's representations: (identity, answer) pairs."""
        cache = self._cache
        watched = self._watched
        scope = self._scope
        found: list[tuple[Any, dict[str, Any]]] = []
        for identity, rep in zip(identities, reps, strict=True):
            if rep.get("__typename") not in watched:
                continue
            answer = cache.get((scope, batch, identity))
            if answer is None:
                self.misses += 1
            else:
                self.hits += 1
                found.append((identity, answer))
        return found

    def keep(
        self,
        batch: Hashable,
        identities: Sequence[Any],
        reps: Sequence[dict[str, Any]],
        results: Sequence[Any],
    ) -> int:
        """Keep the answers of leaves of watched entities (a fetch without errors);
        returns how many were kept."""
        kept = 0
        for identity, rep, result in zip(identities, reps, results, strict=True):
            type_name = rep.get("__typename")
            if type_name not in self._watched or result.__class__ is not dict or not result:
                continue
            if not _leaves(result):
                continue
            tag: Tag = (type_name, _tag_id(rep))
            if self._cache.put((self._scope, batch, identity), result, {tag}, self._epoch):
                kept += 1
        return kept


def _leaves(answer: dict[str, Any]) -> bool:
    for value in answer.values():
        kind = value.__class__
        if kind is dict or kind is list:
            return False
    return True


def _tag_id(rep: dict[str, Any]) -> str:
    identity = rep.get("id")
    return identity if isinstance(identity, str) else ANY
