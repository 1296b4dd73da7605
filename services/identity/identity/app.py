"""Identity's composition root: everything is built here from settings, nothing at import.

`assemble` wires the parts (tests pass their own infrastructure and clock), `runtime` makes
the process of them, `build` opens the infrastructure and does both, `main` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from realty.identity.v1 import identity_pb2_grpc as pb_grpc
from servicekit.auth import JwtVerifier
from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.revocation import RevocationList
from servicekit.runtime import Runtime, run
from starlette.applications import Starlette

from identity.breached import RangeApi
from identity.events import outgoing
from identity.graphql import Services, build_schema
from identity.jwks import JWKS_PATH, jwks_route
from identity.keys import KeyRing
from identity.mailer import AccountMailer
from identity.passwords import Argon2Parameters, PasswordHasher
from identity.queries import IdentityQueries
from identity.rpc import ACCESS, IdentityServicer
from identity.service import IdentityService, utcnow
from identity.settings import Settings
from identity.workers import ErasureConfirmations, SignInRetention

MIGRATIONS_DIR = migrations_dir("identity")


@dataclass
class Parts:
    """Everything identity is made of, wired; tests build the same with other settings."""

    infra: Infrastructure
    settings: Settings
    queries: IdentityQueries
    identity: IdentityService
    # Identity's own tokens, checked against its JWKS in-process (see `local_verifier`).
    verifier: JwtVerifier
    services: Services


def local_verifier(
    service: IdentityService, settings: Settings, revocations: RevocationList | None
) -> JwtVerifier:
    """Identity verifies its own tokens with the same code as every other service, reading
    its JWKS in-process instead of over the network, and refusing ended sessions from the
    same revocation list: the one `Infrastructure` keeps fed from the bus (its
    `RevocationFeed` worker runs in identity's runtime like in every service's), so a
    logged-out token stops working here as quickly as anywhere else."""
    app = Starlette(routes=[jwks_route(service)])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity")
    return JwtVerifier(
        f"http://identity{JWKS_PATH}",
        issuer=settings.infra.jwt_issuer,
        audience=settings.infra.jwt_audience,
        http=http,
        cache_ttl=settings.key_cache_seconds,
        max_lifetime_seconds=settings.infra.jwt_max_lifetime_seconds,
        revocations=revocations,
    )


def assemble(
    settings: Settings, infra: Infrastructure, *, clock: Callable[[], datetime] = utcnow
) -> Parts:
    queries = IdentityQueries(infra.db)
    keys = KeyRing(
        queries.published_keys,
        access_ttl=settings.access_token_ttl,
        cache_seconds=settings.key_cache_seconds,
        passphrase=settings.signing_key_passphrase,
    )
    hasher = PasswordHasher(
        Argon2Parameters(
            memory_cost=settings.argon2_memory_cost,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        ),
        workers=settings.argon2_workers or None,
    )
    mail = AccountMailer(
        infra.mailer,
        sender=settings.infra.mail_from,
        frontend_url=settings.frontend_url,
        reset_minutes=settings.reset_token_ttl // 60,
    )
    range_api = (
        RangeApi(
            settings.hibp_url,
            http=httpx.AsyncClient(headers={"User-Agent": "realty-identity"}),
            timeout=settings.hibp_timeout_seconds,
        )
        if settings.hibp_url
        else None
    )
    identity = IdentityService(
        db=infra.db,
        settings=settings,
        queries=queries,
        keys=keys,
        hasher=hasher,
        mailer=mail,
        clock=clock,
        range_api=range_api,
    )
    return Parts(
        infra=infra,
        settings=settings,
        queries=queries,
        identity=identity,
        verifier=local_verifier(identity, settings, infra.verifier.revocations),
        services=Services(identity=identity, queries=queries),
    )


def runtime(parts: Parts) -> Runtime:
    servicer = IdentityServicer(parts.queries)
    app = SubgraphApp(build_schema(), verifier=parts.verifier, services=parts.services)
    result = parts.infra.runtime(
        graphql=app,
        grpc_registrations=[
            lambda server: pb_grpc.add_IdentityServicer_to_server(servicer, server)
        ],
        grpc_service_names=["realty.identity.v1.Identity"],
        grpc_access=[ACCESS],
        routes=[jwks_route(parts.identity)],
        workers=[ErasureConfirmations(parts.identity).run, SignInRetention(parts.identity).run],
    )
    result.on_shutdown.insert(0, parts.identity.mail.drain)
    result.on_shutdown.insert(1, parts.verifier.aclose)
    if parts.identity.range_api is not None:
        result.on_shutdown.insert(2, parts.identity.range_api.aclose)
    return result


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR, events=outgoing)
    parts = assemble(settings, infra)
    await parts.identity.ensure_signing_key()  # the first key, when there is none
    return runtime(parts)


def main() -> None:
    run(build)
