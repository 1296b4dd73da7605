"""Which media type to answer a GraphQL-over-HTTP request with, from its `Accept` header.

`application/graphql-response+json` is the spec's own type: request errors are 400 with
it. `application/json` is what older clients expect: every well-formed request gets 200.
A request without `Accept` is answered in `application/json`, as the spec asks for
clients that predate the new type; wildcards prefer `application/json` for the same
reason, unless the client names `application/graphql-response+json` explicitly.
"""

from __future__ import annotations

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"

_cache: dict[str, str | None] = {}
_CACHE_LIMIT = 256


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither (406)."""
    if not accept:
        return APPLICATION_JSON
    cached = _cache.get(accept, "")
    if cached != "":
        return cached
    chosen = _choose(accept)
    if len(_cache) < _CACHE_LIMIT:
        _cache[accept] = chosen
    return chosen


def accepts_html(accept: str | None) -> bool:
    return accept is not None and "text/html" in accept.lower()


def _choose(accept: str) -> str | None:
    explicit: dict[str, float] = {}
    wildcard = -1.0
    for part in accept.split(","):
        pieces = part.split(";")
        kind = pieces[0].strip().lower()
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if kind in (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON):
            explicit[kind] = max(explicit.get(kind, -1.0), quality)
        elif kind in ("*/*", "application/*"):
            wildcard = max(wildcard, quality)
    graphql_q = explicit.get(GRAPHQL_RESPONSE_JSON, wildcard)
    json_q = explicit.get(APPLICATION_JSON, wildcard)
    if graphql_q <= 0 and json_q <= 0:
        return None
    if graphql_q > json_q:
        return GRAPHQL_RESPONSE_JSON
    if json_q > graphql_q:
        return APPLICATION_JSON
    return GRAPHQL_RESPONSE_JSON if GRAPHQL_RESPONSE_JSON in explicit else APPLICATION_JSON
