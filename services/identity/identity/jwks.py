"""`GET /.well-known/jwks.json`: the public keys access tokens verify with, over HTTP.

Every service's token verifier reads it; identity's own subgraph reads it in-process (see
`app.local_verifier`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from identity.service import IdentityService

JWKS_PATH = "/.well-known/jwks.json"


def jwks_route(service: IdentityService) -> Route:
    async def jwks(_: Request) -> Response:
        body = await service.jwks()
        # Caches must not outlive the delay before a new key signs (see keys.py).
        max_age = int(service.settings.key_cache_seconds)
        return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})

    return Route(JWKS_PATH, jwks, methods=["GET"])
