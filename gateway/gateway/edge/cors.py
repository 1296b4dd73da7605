"""CORS for browser clients on other origins (GATEWAY_CORS_ORIGINS)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollographql-client-name",
    "apollographql-client-version",
    "traceparent",
    "tracestate",
    "x-request-id",
)


def cors_middleware(origins: Sequence[str]) -> Middleware | None:
    """The middleware for these origins, or None when no cross-origin client is allowed.

    `*` allows any origin but then without credentials, as browsers require; listed
    origins may send credentials (cookies are not used by this API, tokens travel in
    `Authorization`, which a preflight covers).
    """
    if not origins:
        return None
    wildcard = "*" in origins
    return Middleware(
        CORSMiddleware,
        allow_origins=["*"] if wildcard else list(origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=list(ALLOWED_HEADERS),
        allow_credentials=not wildcard,
        expose_headers=["retry-after"],
        max_age=600,
    )
