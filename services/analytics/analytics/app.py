"""Composition root: builds analytics from its settings and runs it.

`assemble(settings, infra, clock=...)` wires every part (nothing is created at import time,
so tests pass other settings, infrastructure or a clock they move by hand); `runtime(parts)`
makes the process (subgraph, the stream consumers, a forwarder per configured destination;
analytics serves no gRPC); `build`
opens the infrastructure and does both; `main` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.runtime import Runtime, run

from analytics.consumers import Consumers
from analytics.erasure import Ga4Deletions, MixpanelDeletions, ServiceAccount
from analytics.ga4 import Ga4
from analytics.graphql import Services, build_schema
from analytics.limits import RateLimiter
from analytics.mixpanel import Mixpanel
from analytics.queries import AnalyticsQueries
from analytics.reads import Reports
from analytics.service import Analytics, Destination, Eraser, utcnow
from analytics.settings import Settings
from analytics.workers import Erasing, Forwarder, PartitionKeeper

MIGRATIONS_DIR = migrations_dir("analytics")


@dataclass
class Parts:
    """Everything analytics is made of, wired; tests build the same with other settings."""

    infra: Infrastructure
    analytics: Analytics
    reports: Reports
    consumers: Consumers
    services: Services
    forwarders: list[Forwarder]
    erasing: list[Erasing]
    keeper: PartitionKeeper
    http: httpx.AsyncClient


def destinations(settings: Settings, http: httpx.AsyncClient) -> list[Destination]:
    """The destinations configured: none unless their secrets are set."""
    found: list[Destination] = []
    if settings.mixpanel_enabled:
        if settings.mixpanel_api_secret is not None:
            user, password = settings.mixpanel_api_secret.get_secret_value(), ""
        else:
            assert settings.mixpanel_service_account and settings.mixpanel_service_secret
            user = settings.mixpanel_service_account
            password = settings.mixpanel_service_secret.get_secret_value()
        found.append(
            Mixpanel(
                http,
                url=settings.mixpanel_url,
                username=user,
                password=password,
                project_id=settings.mixpanel_project_id,
                batch=settings.mixpanel_batch,
            )
        )
    if settings.ga4_enabled:
        assert settings.ga4_measurement_id and settings.ga4_api_secret
        found.append(
            Ga4(
                http,
                url=settings.ga4_url,
                measurement_id=settings.ga4_measurement_id,
                api_secret=settings.ga4_api_secret.get_secret_value(),
                batch=settings.ga4_batch,
            )
        )
    return found


def erasers(settings: Settings, http: httpx.AsyncClient) -> list[Eraser]:
    """The destinations deletion requests go to: none unless their credentials are set."""
    found: list[Eraser] = []
    if settings.mixpanel_erasure_enabled:
        assert settings.mixpanel_project_token and settings.mixpanel_gdpr_token
        found.append(
            MixpanelDeletions(
                http,
                url=settings.mixpanel_gdpr_url,
                project_token=settings.mixpanel_project_token,
                oauth_token=settings.mixpanel_gdpr_token.get_secret_value(),
            )
        )
    if settings.ga4_erasure_enabled:
        assert settings.ga4_property_id and settings.ga4_deletion_credentials
        found.append(
            Ga4Deletions(
                http,
                url=settings.ga4_deletion_url,
                property_id=settings.ga4_property_id,
                account=ServiceAccount.from_file(settings.ga4_deletion_credentials),
            )
        )
    return found


def assemble(
    settings: Settings,
    infra: Infrastructure,
    *,
    clock: Callable[[], datetime] = utcnow,
    http: httpx.AsyncClient | None = None,
) -> Parts:
    http = http or httpx.AsyncClient(timeout=settings.forward_timeout_seconds)
    targets = destinations(settings, http)
    deleting = erasers(settings, http)
    analytics = Analytics(
        infra.db,
        per_client=RateLimiter(per_minute=settings.events_per_client_minute),
        per_address=RateLimiter(per_minute=settings.events_per_address_minute),
        clock=clock,
        destinations=[d.name for d in targets],
        erasers=[e.name for e in deleting],
    )
    reports = Reports(AnalyticsQueries(infra.db), clock=clock)
    return Parts(
        infra=infra,
        analytics=analytics,
        reports=reports,
        consumers=Consumers(analytics, fetch=settings.consumer_batch),
        services=Services(analytics=analytics, reports=reports),
        forwarders=[
            Forwarder(analytics, d, poll_seconds=settings.forward_poll_seconds) for d in targets
        ],
        erasing=[
            Erasing(analytics, e, poll_seconds=settings.forward_poll_seconds) for e in deleting
        ],
        keeper=PartitionKeeper(
            analytics,
            ahead_months=settings.partitions_ahead_months,
            retention_months=settings.raw_retention_months,
            check_seconds=settings.partition_check_seconds,
        ),
        http=http,
    )


def runtime(parts: Parts) -> Runtime:
    app = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    result = parts.infra.runtime(
        graphql=app,
        subscriptions=parts.consumers.subscriptions(),
        workers=[
            parts.keeper.run,
            *(f.run for f in parts.forwarders),
            *(e.run for e in parts.erasing),
        ],
    )
    result.on_shutdown.insert(0, parts.http.aclose)
    return result


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR)
    return runtime(assemble(settings, infra))


def main() -> None:
    run(build)
