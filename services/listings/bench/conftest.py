"""Fixtures the listings benchmarks share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from realty.identity.v1 import identity_pb2_grpc
from servicekit.access import Access, allow
from servicekit.grpc import GrpcServer
from servicekit.testing.identity import FakeIdentity
from servicekit.tls import TlsMaterial


async def ready() -> bool:
    return True


@pytest_asyncio.fixture(loop_scope="session")
async def identity(grpc_authority: Any, token_issuer: Any) -> AsyncIterator[str]:
    """identity's gRPC contract (a stand-in knowing no one) over mutual TLS: pages are
    rendered with the realtor's profile looked up, as in production."""
    verifier = token_issuer.verifier()
    cert, key = grpc_authority.issue(dns_names=["identity"], common_name="identity")
    access = Access(
        "realty.identity.v1.Identity", {"GetUser": allow("listings"), "BatchGetUsers": allow()}
    )
    fake = FakeIdentity()
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        registrations=[lambda s: identity_pb2_grpc.add_IdentityServicer_to_server(fake, s)],
        service_names=[access.service],
        readiness=ready,
        tls=TlsMaterial(grpc_authority.ca_file.read_bytes(), cert, key),
        access=[access],
        verifier=verifier,
    )
    await server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.stop(None)
        await verifier.aclose()
