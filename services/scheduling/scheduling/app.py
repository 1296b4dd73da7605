"""Composition root: builds scheduling from its settings and runs it.

`assemble(settings, infra, clock=...)` wires every part (nothing is created at import
time, so tests pass other settings, infrastructure or a clock they move by hand);
`runtime(parts)` makes the process (subgraph, gRPC, consumers, workers, the feed route);
`build` opens the infrastructure, whose database announces tracked tours' events through
`events.outgoing`, and does both; `main` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from realty.scheduling.v1 import scheduling_pb2_grpc
from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.runtime import Runtime, run

from scheduling.clients import Directory
from scheduling.consumers import Consumers
from scheduling.events import outgoing
from scheduling.feeds import CalendarFeeds
from scheduling.graphql import Services, build_schema
from scheduling.live import LiveTours
from scheduling.notifications import Notifier
from scheduling.queries import TourQueries
from scheduling.routes import feed_route
from scheduling.rpc import ACCESS, SchedulingServicer
from scheduling.service import Policy, Scheduling, utcnow
from scheduling.settings import Settings
from scheduling.workers import NoShowWorker, ReminderWorker

MIGRATIONS_DIR = migrations_dir("scheduling")


@dataclass
class Parts:
    """Everything scheduling is made of, wired; tests build the same with other settings."""

    infra: Infrastructure
    directory: Directory
    scheduling: Scheduling
    queries: TourQueries
    feeds: CalendarFeeds
    live: LiveTours
    notifier: Notifier
    consumers: Consumers
    reminders: ReminderWorker
    no_shows: NoShowWorker
    services: Services


def assemble(
    settings: Settings, infra: Infrastructure, *, clock: Callable[[], datetime] = utcnow
) -> Parts:
    if infra.db.events is None:
        # Without it the first committed change would fail: say so before serving anything.
        raise ValueError("scheduling's database needs its event mapper (events=outgoing)")
    directory = Directory.connect(
        listings_target=settings.listings_grpc,
        identity_target=settings.identity_grpc,
        timeout=settings.grpc_timeout_seconds,
        tls=infra.grpc_tls,
    )
    policy = Policy(
        reminder_offsets_minutes=tuple(settings.reminder_offsets_minutes),
        no_show_grace=timedelta(minutes=settings.no_show_grace_minutes),
        slot_step=timedelta(minutes=settings.slot_step_minutes),
    )
    queries = TourQueries(infra.db)
    feeds = CalendarFeeds(secret=settings.feed_secret, public_url=settings.public_url)
    scheduling = Scheduling(infra.db, queries, directory, feeds, policy=policy, clock=clock)
    live = LiveTours(infra.bus)
    notifier = Notifier(
        directory.identity, infra.mailer, sender=settings.infra.mail_from, clock=clock
    )
    return Parts(
        infra=infra,
        directory=directory,
        scheduling=scheduling,
        queries=queries,
        feeds=feeds,
        live=live,
        notifier=notifier,
        consumers=Consumers(scheduling, notifier),
        reminders=ReminderWorker(scheduling, notifier, poll_seconds=settings.reminder_poll_seconds),
        no_shows=NoShowWorker(scheduling, poll_seconds=settings.no_show_poll_seconds),
        services=Services(scheduling=scheduling, queries=queries, live=live),
    )


def runtime(parts: Parts) -> Runtime:
    servicer = SchedulingServicer(parts.queries)
    app = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    result = parts.infra.runtime(
        graphql=app,
        grpc_registrations=[
            lambda server: scheduling_pb2_grpc.add_SchedulingServicer_to_server(servicer, server)
        ],
        grpc_service_names=["realty.scheduling.v1.Scheduling"],
        grpc_access=[ACCESS],
        subscriptions=parts.consumers.subscriptions(),
        routes=[feed_route(parts.scheduling)],
        workers=[parts.reminders.run, parts.no_shows.run],
        process_workers=[parts.live.run],  # each process feeds its own subscribers
    )
    result.on_shutdown.insert(0, parts.directory.close)
    return result


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR, events=outgoing)
    return runtime(assemble(settings, infra))


def main() -> None:
    run(build)
