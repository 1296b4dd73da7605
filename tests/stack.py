"""The real stack for cross-service tests: every service and the gateway, started by the same
supervisor as `make dev`, on free ports, with databases and a bus namespace of their own.

The end-to-end tests use it as it is; the chaos tests put a switchable proxy between the
services and their databases and NATS (`database_servers`, `service_nats_url`) so that a
dependency can go down and come back while the real servers, shared with other tests, stay
up.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from servicekit.devstack import Child, DevStack
from servicekit.embedded import free_port
from servicekit.mail import MailCatcher
from servicekit.settings import InfraSettings
from sqlalchemy.engine import make_url

SERVICES = tuple(
    sorted(entry.name for entry in importlib.metadata.entry_points(group="realty.services"))
)


@dataclass(frozen=True)
class Stack:
    graphql_url: str
    ws_url: str
    mail: MailCatcher
    devstack: DevStack
    ports: Mapping[str, tuple[int, int]]  # service -> (http, grpc)

    def child(self, service: str) -> Child:
        return next(c for c in self.devstack.children if c.name == service)

    def stop_service(self, service: str) -> None:
        """Stop one service process, as a crash or an eviction would."""
        child = self.child(service)
        child.proc.terminate()
        child.proc.wait(timeout=30)
        self.devstack.children.remove(child)

    def start_service(self, service: str) -> None:
        """Start a stopped service again and wait until it is ready."""
        child = self.devstack.spawn(service, [sys.executable, "-m", service])
        http = self.ports[service][0]
        self.devstack.wait_ready(child, f"http://127.0.0.1:{http}/readyz")


def database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def running_stack(
    *,
    postgres_url: str,
    nats_url: str,
    aws_endpoint: str,
    data_dir: Path,
    name: str = "e2e",
    database_servers: Mapping[str, str] | None = None,
    service_nats_url: str | None = None,
) -> Iterator[Stack]:
    """Every service and the gateway, up and ready; everything stopped and dropped after.

    `database_servers` names, per service, the server its database is reached through
    (default: `postgres_url`); `service_nats_url` the NATS the services use (default:
    `nats_url`)."""
    run = uuid.uuid4().hex[:8]
    mail = MailCatcher(data_dir / "mail", port=free_port())
    mail.start()
    ports = {service: (free_port(), free_port()) for service in SERVICES}
    identity_http, identity_grpc = ports["identity"]
    env = {
        "DATABASE_URL": postgres_url,
        "NATS_URL": service_nats_url or nats_url,
        "REALTY_BUS_NAMESPACE": f"{name}{run}",
        "REALTY_DATA_DIR": str(data_dir),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "AWS_ENDPOINT_URL": aws_endpoint,
        "IDENTITY_JWKS_URL": f"http://127.0.0.1:{identity_http}/.well-known/jwks.json",
        "GATEWAY_JWKS_URL": f"http://127.0.0.1:{identity_http}/.well-known/jwks.json",
        "GATEWAY_PORT": str(free_port()),
        "SCHEDULING_IDENTITY_GRPC": f"127.0.0.1:{identity_grpc}",
        "SCHEDULING_LISTINGS_GRPC": f"127.0.0.1:{ports['listings'][1]}",
        "MEDIA_IDENTITY_GRPC": f"127.0.0.1:{identity_grpc}",
    }
    databases = []
    for service, (http_port, grpc_port) in ports.items():
        prefix = service.upper()
        database = f"{name}_{run}_{service}"
        databases.append(database)
        server = (database_servers or {}).get(service, postgres_url)
        env[f"{prefix}_HTTP_PORT"] = str(http_port)
        env[f"{prefix}_GRPC_PORT"] = str(grpc_port)
        env[f"{prefix}_DATABASE_URL"] = database_url(server, database)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    devstack = DevStack(InfraSettings())
    try:
        services = devstack.start_services()
        url = devstack.start_gateway(services)
        assert url is not None, "the gateway is not installed"
        yield Stack(
            graphql_url=url,
            ws_url=url.replace("http://", "ws://"),
            mail=mail,
            devstack=devstack,
            ports=ports,
        )
    finally:
        devstack.stop()
        mail.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with psycopg.connect(database_url(postgres_url, "postgres"), autocommit=True) as conn:
            for database in databases:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
