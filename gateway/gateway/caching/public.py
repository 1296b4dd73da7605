"""What the HTTP server asks about caching: is this request public, and is it answered already.

A request is public when it is an anonymous query (no principal, no `Authorization`)
whose every field is public (`policy.analyse`, once per supergraph, document and
operation name). Only public requests are looked up, stored, coalesced across clients and
marked cacheable for CDNs; nothing asked with credentials is ever cached, so nothing
depending on a principal can be served to another.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import orjson
from cachetools import LRUCache
from graphql import GraphQLError, GraphQLSchema, parse

from gateway.caching.entities import EntityCache, EntityView
from gateway.caching.policy import CachePolicy, PublicFields, analyse, tags
from gateway.caching.store import Lookup, ResponseCache
from gateway.types import GraphQLRequest, RequestContext

__all__ = ["PublicResponses"]


class PublicResponses:
    """Policies per operation, the response cache (`cache` None: CDN headers only) and
    the entity cache (`entities`)."""

    def __init__(
        self,
        *,
        public: PublicFields,
        watched: frozenset[str],
        cache: ResponseCache | None,
        cdn_max_age: int,
        policy_cache_size: int = 2048,
        entities: EntityCache | None = None,
    ) -> None:
        self._public = public
        self._watched = watched
        self.cache = cache
        self.entities = entities
        self.cdn_max_age = cdn_max_age
        self._policies: LRUCache[tuple[str, str, str | None], CachePolicy | None] = LRUCache(
            max(1, policy_cache_size)
        )

    @staticmethod
    def anonymous(ctx: RequestContext) -> bool:
        return (
            ctx.principal_id is None and ctx.claims is None and "authorization" not in ctx.headers
        )

    def policy(
        self, engine: object, fingerprint: str, request: GraphQLRequest
    ) -> CachePolicy | None:
        """The caching policy of a query on this supergraph, None when it is not public."""
        key = (fingerprint, request.query, request.operation_name)
        try:
            return self._policies[key]
        except KeyError:
            pass
        schema = _api_schema(engine)
        policy = None
        if schema is not None:
            try:
                document = parse(request.query)
            except GraphQLError:
                document = None
            if document is not None:
                policy = analyse(
                    schema, document, request.operation_name, self._public, self._watched
                )
        self._policies[key] = policy
        return policy

    def lookup(
        self, fingerprint: str, request: GraphQLRequest, policy: CachePolicy
    ) -> Lookup | None:
        """A hit, or the miss to store into; None when the cache is off or not usable."""
        if self.cache is None:
            return None
        key = _key(fingerprint, request)
        if key is None:
            return None
        return self.cache.lookup(key, policy)

    def entity_view(self, fingerprint: str) -> EntityView | None:
        """The entity cache's view for one public query on this supergraph, or None."""
        entities = self.entities
        return None if entities is None else entities.view(fingerprint)

    def store(self, lookup: Lookup, result: Mapping[str, Any], body: bytes) -> bool:
        """Keep a complete answer (one with errors is never kept)."""
        if self.cache is None or "errors" in result or result.get("data") is None:
            return False
        return self.cache.store(lookup, body, tags(lookup.policy, result["data"]))


def _key(fingerprint: str, request: GraphQLRequest) -> Hashable | None:
    variables = request.variables
    try:
        encoded = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS) if variables else b""
    except TypeError:
        return None
    return (fingerprint, request.query, request.operation_name, encoded)


def _api_schema(engine: object) -> GraphQLSchema | None:
    supergraph = getattr(engine, "supergraph", None)
    schema = getattr(supergraph, "api_schema", None)
    return schema if isinstance(schema, GraphQLSchema) else None
