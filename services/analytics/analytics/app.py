"""Composition root: builds analytics from its settings and runs it.

`assemble(settings, infra, clock=...)` wires every part (nothing is created at import time,
so tests pass other settings, infrastructure or a clock they move by hand); `runtime(parts)`
makes the process (subgraph and the stream consumers; analytics serves no gRPC); `build`
opens the infrastructure and does both; `main` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.runtime import Runtime, run

from analytics.consumers import Consumers
from analytics.graphql import Services, build_schema
from analytics.limits import RateLimiter
from analytics.queries import AnalyticsQueries
from analytics.reads import Reports
from analytics.service import Analytics, utcnow
from analytics.settings import Settings

MIGRATIONS_DIR = migrations_dir("analytics")


@dataclass
class Parts:
    """Everything analytics is made of, wired; tests build the same with other settings."""

    infra: Infrastructure
    analytics: Analytics
    reports: Reports
    consumers: Consumers
    services: Services


def assemble(
    settings: Settings, infra: Infrastructure, *, clock: Callable[[], datetime] = utcnow
) -> Parts:
    analytics = Analytics(
        infra.db,
        per_client=RateLimiter(per_minute=settings.events_per_client_minute),
        per_address=RateLimiter(per_minute=settings.events_per_address_minute),
        clock=clock,
    )
    reports = Reports(AnalyticsQueries(infra.db), clock=clock)
    return Parts(
        infra=infra,
        analytics=analytics,
        reports=reports,
        consumers=Consumers(analytics),
        services=Services(analytics=analytics, reports=reports),
    )


def runtime(parts: Parts) -> Runtime:
    app = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    return parts.infra.runtime(graphql=app, subscriptions=parts.consumers.subscriptions())


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR)
    return runtime(assemble(settings, infra))


def main() -> None:
    run(build)
