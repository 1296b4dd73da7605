"""The real stack for end-to-end tests: every service and the gateway, started by the same
supervisor as `make dev`, on free ports, with databases and a bus namespace of their own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from servicekit.devstack import DevStack
from servicekit.embedded import free_port
from servicekit.mail import MailCatcher
from servicekit.settings import InfraSettings
from sqlalchemy.engine import make_url

SERVICES = ("identity", "listings", "scheduling", "media")


@dataclass(frozen=True)
class Stack:
    graphql_url: str
    ws_url: str
    mail: MailCatcher


def _database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def stack(
    postgres_url: str, nats_url: str, aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    run = uuid.uuid4().hex[:8]
    data_dir: Path = tmp_path_factory.mktemp("stack")
    mail = MailCatcher(data_dir / "mail", port=free_port())
    mail.start()
    ports = {name: (free_port(), free_port()) for name in SERVICES}
    gateway_port = free_port()
    identity_http = ports["identity"][0]
    env = {
        "DATABASE_URL": postgres_url,
        "NATS_URL": nats_url,
        "REALTY_BUS_NAMESPACE": f"e2e{run}",
        "REALTY_DATA_DIR": str(data_dir),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "AWS_ENDPOINT_URL": aws_endpoint,
        "IDENTITY_JWKS_URL": f"http://127.0.0.1:{identity_http}/.well-known/jwks.json",
        "GATEWAY_JWKS_URL": f"http://127.0.0.1:{identity_http}/.well-known/jwks.json",
        "GATEWAY_PORT": str(gateway_port),
        "SCHEDULING_IDENTITY_GRPC": f"127.0.0.1:{ports['identity'][1]}",
        "SCHEDULING_LISTINGS_GRPC": f"127.0.0.1:{ports['listings'][1]}",
        "MEDIA_IDENTITY_GRPC": f"127.0.0.1:{ports['identity'][1]}",
    }
    databases = []
    for name, (http_port, grpc_port) in ports.items():
        prefix = name.upper()
        database = f"e2e_{run}_{name}"
        databases.append(database)
        env[f"{prefix}_HTTP_PORT"] = str(http_port)
        env[f"{prefix}_GRPC_PORT"] = str(grpc_port)
        env[f"{prefix}_DATABASE_URL"] = _database_url(postgres_url, database)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    devstack = DevStack(InfraSettings())
    try:
        services = devstack.start_services()
        url = devstack.start_gateway(services)
        assert url is not None, "the gateway is not installed"
        yield Stack(graphql_url=url, ws_url=url.replace("http://", "ws://"), mail=mail)
    finally:
        devstack.stop()
        mail.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with psycopg.connect(_database_url(postgres_url, "postgres"), autocommit=True) as conn:
            for database in databases:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
