"""Configuration: environment variables with working local defaults (12-factor).

Shared infrastructure is named without a prefix (`DATABASE_URL`, `NATS_URL`, `REDIS_URL`,
`REALTY_DATA_DIR`) so one variable points every service at the same servers; each service's
own settings use its prefix (`IDENTITY_…`), and `<PREFIX>DATABASE_URL` overrides the shared
server URL with a complete one. Defaults match what `make dev` starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:44222"


def repo_root() -> Path:
    """The checkout this code runs from (where `Makefile` is), else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Makefile").exists() and (parent / "libs").is_dir():
            return parent
    return Path.cwd()


def default_data_dir() -> Path:
    return repo_root() / ".dev"


class InfraSettings(BaseSettings):
    """Where the shared servers are. Read by every service and by the dev stack."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    nats_url: str = Field(DEFAULT_NATS_URL, validation_alias="NATS_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="REALTY_DATA_DIR")
    environment: str = Field("development", validation_alias="REALTY_ENV")
    bus_namespace: str = Field("", validation_alias="REALTY_BUS_NAMESPACE")
    # Copies JetStream keeps of each stream a service provisions: 1 on one server, 3 on a
    # three-node cluster (a stream survives the loss of one node).
    nats_stream_replicas: int = Field(1, ge=1, le=5, validation_alias="NATS_STREAM_REPLICAS")
    aws_endpoint_url: str | None = Field(
        "http://127.0.0.1:4566", validation_alias="AWS_ENDPOINT_URL"
    )
    aws_region: str = Field("us-east-1", validation_alias="AWS_REGION")
    jwks_url: str = Field(
        "http://127.0.0.1:4001/.well-known/jwks.json", validation_alias="IDENTITY_JWKS_URL"
    )
    jwt_issuer: str = Field("https://identity.realtyforyou.com", validation_alias="JWT_ISSUER")
    jwt_audience: str = Field("realtyforyou", validation_alias="JWT_AUDIENCE")
    # Longest access-token lifetime accepted; also how far back revocations are followed.
    jwt_max_lifetime_seconds: int = Field(3600, gt=0, validation_alias="JWT_MAX_LIFETIME_SECONDS")
    smtp_host: str = Field("127.0.0.1", validation_alias="SMTP_HOST")
    smtp_port: int = Field(1025, validation_alias="SMTP_PORT")
    mail_backend: str = Field("smtp", validation_alias="MAIL_BACKEND")
    mail_from: str = Field("RealtyForYou <no-reply@realtyforyou.com>", validation_alias="MAIL_FROM")
    # Published outbox rows are kept this long; inbox rows must outlive every redelivery.
    outbox_retention_hours: float = Field(168.0, gt=0, validation_alias="OUTBOX_RETENTION_HOURS")
    inbox_retention_hours: float = Field(720.0, gt=0, validation_alias="INBOX_RETENTION_HOURS")
    # Internal gRPC over mutual TLS: the CA every service trusts and this service's
    # certificate and key (PEM). Unset outside production: a development CA in
    # `grpc_tls_dir` issues them (servicekit.tls).
    grpc_tls_ca_file: Path | None = Field(None, validation_alias="GRPC_TLS_CA_FILE")
    grpc_tls_cert_file: Path | None = Field(None, validation_alias="GRPC_TLS_CERT_FILE")
    grpc_tls_key_file: Path | None = Field(None, validation_alias="GRPC_TLS_KEY_FILE")
    grpc_tls_dir: Path | None = Field(None, validation_alias="GRPC_TLS_DIR")

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def resolved_grpc_tls_dir(self) -> Path:
        """Where the development CA and certificates live: `GRPC_TLS_DIR`, else `<data dir>/tls`."""
        return self.grpc_tls_dir or self.data_dir / "tls"

    @model_validator(mode="after")
    def _real_aws_in_production(self) -> InfraSettings:
        """The local emulator is a development default: production talks to AWS itself."""
        if self.production and "aws_endpoint_url" not in self.model_fields_set:
            object.__setattr__(self, "aws_endpoint_url", None)
        return self


class ServiceSettings(BaseSettings):
    """Base of every service's settings; subclasses set `env_prefix` and their own fields.

    Example: `class Settings(ServiceSettings): model_config = service_config("IDENTITY_")`.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50050
    # Requests in flight past which the next ones get 503 UNAVAILABLE at once (0: no limit).
    max_in_flight: int = 256
    # A request running longer is cancelled (its resources freed) and answered UNAVAILABLE.
    request_timeout_seconds: float = 30.0
    # How long a request may wait for a pooled database connection before UNAVAILABLE.
    db_pool_timeout_seconds: float = 5.0
    database_name: str = ""
    database_url: str | None = Field(None)
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # Pooled connections each process opens at start and keeps fresh (Database.keep_warm).
    db_pool_warm: int = Field(0, ge=0)
    # Processes serving this service on the same ports; 0: one per core in production,
    # one elsewhere. The background work runs in one of them (servicekit.leadership).
    processes: int = Field(0, ge=0)
    # Container allocations between two young collections of the cyclic collector, once the
    # process has started (Python's default is 700; see servicekit.collector); 0: defaults.
    gc_young_threshold: int = Field(100_000, ge=0)
    # How long a thread holding the GIL keeps it while another waits (Python's default is
    # 5 ms): the event loop's thread comes back from each socket call by taking the GIL
    # from whichever worker thread holds it, so threads running Python (boto3, say) add up
    # to that much to every step of every request on the loop.
    gil_switch_interval_ms: float = Field(5.0, gt=0)
    infra: InfraSettings = Field(default_factory=InfraSettings)

    def resolved_processes(self) -> int:
        """How many processes to run: the setting, else one per usable core in production."""
        if self.processes:
            return self.processes
        return len(os.sched_getaffinity(0)) if self.infra.production else 1

    def resolved_database_url(self) -> str:
        """This service's own database: `<PREFIX>DATABASE_URL`, else its database on DATABASE_URL."""
        if self.database_url:
            return self.database_url
        url = make_url(self.infra.database_url)
        name = self.database_name or f"realty_{self.service_name}"
        return url.set(database=name).render_as_string(hide_password=False)


def service_config(prefix: str) -> SettingsConfigDict:
    """Settings config for a service with env prefix `prefix` (e.g. `"IDENTITY_"`)."""
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True)
