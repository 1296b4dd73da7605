"""Identity's composition root: everything is built here from settings, nothing at import."""

from __future__ import annotations

import httpx
from realty.identity.v1 import identity_pb2_grpc as pb_grpc
from servicekit.auth import JwtVerifier
from servicekit.db import Database
from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.mail import Mailer
from servicekit.runtime import Runtime, run
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from identity import MIGRATIONS_DIR
from identity.consumers import subscriptions
from identity.graphql import Services, build_schema
from identity.keys import KeyRing
from identity.mailer import AccountMailer
from identity.passwords import Argon2Parameters, PasswordHasher
from identity.rpc import ACCESS, IdentityServicer
from identity.service import IdentityService
from identity.settings import Settings

JWKS_PATH = "/.well-known/jwks.json"


def build_service(settings: Settings, db: Database, mailer: Mailer) -> IdentityService:
    """The use cases with their collaborators (also how tests and commands get them)."""
    keys = KeyRing(
        db,
        access_ttl=settings.access_token_ttl,
        cache_seconds=settings.key_cache_seconds,
        passphrase=settings.signing_key_passphrase,
    )
    hasher = PasswordHasher(
        Argon2Parameters(
            memory_cost=settings.argon2_memory_cost,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )
    )
    account_mail = AccountMailer(
        mailer,
        sender=settings.infra.mail_from,
        frontend_url=settings.frontend_url,
        reset_minutes=settings.reset_token_ttl // 60,
    )
    return IdentityService(db=db, settings=settings, keys=keys, hasher=hasher, mailer=account_mail)


def jwks_route(service: IdentityService) -> Route:
    """`GET /.well-known/jwks.json`: the public keys access tokens verify with."""

    async def jwks(_: Request) -> Response:
        body = await service.keys.jwks(service.clock())
        # Caches must not outlive the delay before a new key signs (see keys.py).
        max_age = int(service.settings.key_cache_seconds)
        return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})

    return Route(JWKS_PATH, jwks, methods=["GET"])


def local_verifier(service: IdentityService, settings: Settings) -> JwtVerifier:
    """Identity verifies its own tokens with the same code as every other service, reading
    its JWKS in-process instead of over the network."""
    from starlette.applications import Starlette

    app = Starlette(routes=[jwks_route(service)])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity")
    return JwtVerifier(
        f"http://identity{JWKS_PATH}",
        issuer=settings.infra.jwt_issuer,
        audience=settings.infra.jwt_audience,
        http=http,
        cache_ttl=settings.key_cache_seconds,
    )


def subgraph(service: IdentityService, verifier: JwtVerifier) -> SubgraphApp:
    return SubgraphApp(build_schema(), verifier=verifier, services=Services(identity=service))


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR)
    service = build_service(settings, infra.db, infra.mailer)
    await service.ensure_signing_key()
    verifier = local_verifier(service, settings)
    servicer = IdentityServicer(service)
    runtime = infra.runtime(
        graphql=subgraph(service, verifier),
        grpc_registrations=[
            lambda server: pb_grpc.add_IdentityServicer_to_server(servicer, server)
        ],
        grpc_service_names=["realty.identity.v1.Identity"],
        grpc_access=[ACCESS],
        subscriptions=subscriptions(),
        routes=[jwks_route(service)],
    )
    runtime.on_shutdown.insert(0, service.mail.drain)
    runtime.on_shutdown.insert(1, verifier.aclose)
    return runtime


def main() -> None:
    run(build)
