"""The composition root wires a working process: subgraph, JWKS, probes, gRPC, relay."""

from __future__ import annotations

import logging

import httpx
from identity.app import MIGRATIONS_DIR, build
from servicekit.mail import MailCatcher
from servicekit.testing import DatabaseFactory

from .conftest import make_settings


async def test_build_serves_the_subgraph_and_the_jwks(
    database_factory: DatabaseFactory, mail_catcher: MailCatcher, nats_url: str
) -> None:
    url = await database_factory.create(MIGRATIONS_DIR)
    settings = make_settings(url, mail_catcher.port)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # build() configures process logging
    try:
        runtime = await build(settings)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    try:
        assert runtime.grpc is not None and runtime.workers  # gRPC server and outbox relay
        transport = httpx.ASGITransport(app=runtime.http_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as http:
            keys = (await http.get("/.well-known/jwks.json")).json()["keys"]
            assert len(keys) == 1 and keys[0]["alg"] == "EdDSA"
            assert (await http.get("/healthz")).status_code == 200
            body = (await http.post("/graphql", json={"query": "{ me { id } }"})).json()
            assert body == {"data": {"me": None}}
    finally:
        for hook in runtime.on_shutdown:
            await hook()
