"""pytest fixtures for every service's tests (registered through the `pytest11` entry point).

Servers: `TEST_DATABASE_URL` and `NATS_URL` when set, otherwise an embedded PostgreSQL and
NATS started once per test session. Each test gets its own database (`database_factory`)
and its own bus namespace (`bus`), so tests never see each other's rows or events. gRPC
speaks mutual TLS as in `make dev`, with certificates from a CA made once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from servicekit.bus.connection import Bus
from servicekit.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from servicekit.mail import MailCatcher
from servicekit.testing.databases import DatabaseFactory
from servicekit.testing.tokens import TokenIssuer
from servicekit.tls import DevAuthority


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"), free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("NATS_URL")
    if configured:
        yield configured
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"), free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_factory(postgres_url: str) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(postgres_url)
    try:
        yield factory
    finally:
        await factory.drop_all()


@pytest_asyncio.fixture(loop_scope="session")
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    """A connected bus in a namespace of its own; its streams are deleted afterwards."""
    namespace = f"t{uuid.uuid4().hex[:10]}"
    the_bus = Bus(nats_url, namespace=namespace, name=f"test-{namespace}")
    await the_bus.connect()
    try:
        yield the_bus
    finally:
        js = await the_bus.connect()
        for name in await js.streams_info():
            if name.config.name and name.config.name.startswith(namespace.upper()):
                await js.delete_stream(name.config.name)
        await the_bus.close()


@pytest.fixture
def mail_catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    catcher = MailCatcher(tmp_path / "mail", port=free_port())
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A moto server (S3, KMS, SES…) on loopback; boto3 clients take it as `endpoint_url`."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[TokenIssuer]:
    """Signs access tokens and serves their JWKS on loopback (`issuer.verifier()` checks them)."""
    issuer = TokenIssuer()
    issuer.start()
    try:
        yield issuer
    finally:
        issuer.stop()


@pytest.fixture(scope="session", autouse=True)
def grpc_authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevAuthority]:
    """The session's development CA (`grpc_authority.material("scheduling")`); services
    built from settings find their certificates in it too (`GRPC_TLS_DIR`)."""
    directory = tmp_path_factory.mktemp("tls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRPC_TLS_DIR", str(directory))
        yield DevAuthority(directory)
