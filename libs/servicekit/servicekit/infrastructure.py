"""The shared parts a service is built from, created once in its composition root.

`Infrastructure.open(settings, migrations_dir, events=mapper)` configures logging and tracing, creates and
migrates the service's database, and builds the engine, bus, token verifier, mailer and gRPC TLS material.
`runtime(...)` then assembles the process: subgraph + probes over HTTP, gRPC with health,
and the background work elected to run in one process of the service (the outbox relay and
its retention, the event consumers and the service's `workers`), next to the
`process_workers` every process runs (what keeps in-process state current: revocations,
live-update feeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from servicekit.access import Access
from servicekit.auth import JwtVerifier
from servicekit.backlog import Backlog
from servicekit.bus import Bus, BusRetention, ConsumerRunner, OutboxRelay, Subscription
from servicekit.db import Database, EventMapper
from servicekit.grpc import GrpcServer, Registration
from servicekit.http import service_app
from servicekit.leadership import Leadership
from servicekit.mail import Mailer, build_mailer
from servicekit.migrations import migrate
from servicekit.revocation import RevocationFeed, RevocationList
from servicekit.runtime import Runtime, Worker
from servicekit.settings import ServiceSettings
from servicekit.telemetry import configure_logging, instrument_database, setup_telemetry
from servicekit.tls import TlsMaterial, service_tls


@dataclass
class Infrastructure:
    settings: ServiceSettings
    db: Database
    bus: Bus
    verifier: JwtVerifier
    mailer: Mailer
    extras: dict[str, Any] = field(default_factory=dict)
    # This service's gRPC TLS material; None: read from the settings when first needed.
    tls: TlsMaterial | None = None
    # Who runs the background work among this service's processes (set by `runtime`).
    leadership: Leadership | None = None

    @property
    def grpc_tls(self) -> TlsMaterial:
        """What this service proves itself with on internal calls, as server and as client."""
        if self.tls is None:
            self.tls = service_tls(self.settings)
        return self.tls

    @classmethod
    async def open(
        cls,
        settings: ServiceSettings,
        migrations_dir: Path | None,
        *,
        events: EventMapper | None = None,
        configure_process: bool = True,
    ) -> Infrastructure:
        name = settings.service_name
        if configure_process:
            configure_logging(name, production=settings.infra.production)
            setup_telemetry(name)
        url = settings.resolved_database_url()
        if migrations_dir is not None:
            await migrate(url, migrations_dir)
        infra = settings.infra
        db = Database(
            url,
            source=name,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            events=events,
        )
        if configure_process:
            instrument_database(db)
        return cls(
            settings=settings,
            db=db,
            bus=Bus(
                infra.nats_url,
                namespace=infra.bus_namespace,
                name=name,
                replicas=infra.nats_stream_replicas,
            ),
            verifier=JwtVerifier(
                infra.jwks_url,
                issuer=infra.jwt_issuer,
                audience=infra.jwt_audience,
                max_lifetime_seconds=infra.jwt_max_lifetime_seconds,
                revocations=RevocationList(
                    horizon=timedelta(seconds=infra.jwt_max_lifetime_seconds)
                ),
            ),
            mailer=build_mailer(infra),
            tls=service_tls(settings),
        )

    async def bus_ready(self) -> bool:
        return self.bus.connected

    def runtime(
        self,
        *,
        graphql: ASGIApp,
        grpc_registrations: Sequence[Registration] = (),
        grpc_service_names: Sequence[str] = (),
        grpc_access: Sequence[Access] = (),
        subscriptions: Sequence[Subscription] = (),
        routes: Sequence[BaseRoute] = (),
        workers: Sequence[Worker] = (),
        process_workers: Sequence[Worker] = (),
    ) -> Runtime:
        s = self.settings
        relay = OutboxRelay(self.db, self.bus)
        retention = BusRetention(
            self.db,
            outbox_retention=timedelta(hours=s.infra.outbox_retention_hours),
            inbox_retention=timedelta(hours=s.infra.inbox_retention_hours),
        )
        elected: list[Worker] = [relay.run, retention.run, *workers]
        # Every process verifies tokens, so every process keeps identity's keys at hand.
        everywhere: list[Worker] = [*process_workers, self.verifier.keep_fresh]
        if s.db_pool_warm:
            everywhere.append(partial(self.db.keep_warm, s.db_pool_warm))
        if self.verifier.revocations is not None:
            everywhere.append(RevocationFeed(self.bus, self.verifier.revocations).run)
        checks = {"database": self.db.ping, "nats": self.bus_ready}
        # Every process reports what waits (outbox, consumers, its pool) to /metrics.
        everywhere.append(Backlog(self.db, self.bus, s.service_name, subscriptions).run)
        if subscriptions:
            consumers = ConsumerRunner(self.db, self.bus, s.service_name, subscriptions)
            elected.append(consumers.run)
            checks["consumers"] = consumers.healthy
        self.leadership = Leadership(self.db.url, s.service_name, elected)
        grpc_server = None
        if grpc_registrations:
            grpc_server = GrpcServer(
                host=s.grpc_host,
                port=s.grpc_port,
                registrations=grpc_registrations,
                service_names=grpc_service_names,
                readiness=self.db.ping,
                tls=self.grpc_tls,
                access=grpc_access,
                verifier=self.verifier,
            )
        return Runtime(
            name=s.service_name,
            http_app=service_app(
                service=s.service_name,
                graphql=graphql,
                checks=checks,
                routes=routes,
                max_in_flight=s.max_in_flight,
                request_timeout=s.request_timeout_seconds,
            ),
            http_host=s.http_host,
            http_port=s.http_port,
            grpc=grpc_server,
            workers=[self.leadership.run, *everywhere],
            on_shutdown=[self.close],
            processes=s.resolved_processes(),
            gc_young_threshold=s.gc_young_threshold,
            gil_switch_interval_ms=s.gil_switch_interval_ms,
        )

    async def close(self) -> None:
        await self.bus.close()
        await self.verifier.aclose()
        await self.db.dispose()
