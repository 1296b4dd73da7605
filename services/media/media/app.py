"""Composition root: builds media from its settings and runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.runtime import Runtime, run

from media.chime import ChimeMeetings
from media.clients import IdentityClient
from media.consumers import Consumers
from media.domain import JoinWindow
from media.events import outgoing
from media.graphql import Services, build_schema
from media.invitations import Invitations
from media.queries import MediaQueries
from media.queue import ChimeEventQueue
from media.service import Media, Policy, utcnow
from media.settings import Settings
from media.workers import EmptyMeetingWorker

MIGRATIONS_DIR = migrations_dir("media")


@dataclass
class Parts:
    """Everything media is made of, wired; tests build the same with other settings."""

    infra: Infrastructure
    identity: IdentityClient
    chime: ChimeMeetings
    media: Media
    queries: MediaQueries
    consumers: Consumers
    queue: ChimeEventQueue
    empty_meetings: EmptyMeetingWorker
    services: Services


def policy_of(settings: Settings) -> Policy:
    return Policy(
        window=JoinWindow(
            before=timedelta(minutes=settings.join_opens_minutes),
            after=timedelta(minutes=settings.join_closes_minutes),
        ),
        guest_limit=settings.guest_limit,
        empty_grace=timedelta(seconds=settings.empty_grace_seconds),
    )


def assemble(
    settings: Settings,
    infra: Infrastructure,
    *,
    clock: Callable[[], datetime] = utcnow,
    chime: ChimeMeetings | None = None,
) -> Parts:
    """`chime`: another Chime client (tests); by default boto3 at the configured endpoint."""
    region = settings.infra.aws_region
    identity = IdentityClient.connect(
        settings.identity_grpc, tls=infra.grpc_tls, timeout=settings.grpc_timeout_seconds
    )
    chime = chime or ChimeMeetings(
        region=region,
        media_region=settings.media_region,
        endpoint_url=settings.chime_endpoint(),
        max_attempts=settings.chime_max_attempts,
        concurrency=settings.chime_concurrency,
    )
    invitations = Invitations(
        infra.mailer,
        sender=settings.infra.mail_from,
        web_url=settings.web_url,
        opens_minutes=settings.join_opens_minutes,
    )
    media = Media(infra.db, chime, identity, invitations, policy=policy_of(settings), clock=clock)
    queries = MediaQueries(infra.db)
    consumers = Consumers(media)
    queue = ChimeEventQueue(
        queue_name=settings.events_queue_name,
        region=region,
        handler=consumers.on_chime,
        endpoint_url=settings.sqs_endpoint(),
        wait_seconds=settings.events_wait_seconds,
    )
    return Parts(
        infra=infra,
        identity=identity,
        chime=chime,
        media=media,
        queries=queries,
        consumers=consumers,
        queue=queue,
        empty_meetings=EmptyMeetingWorker(media, poll_seconds=settings.empty_poll_seconds),
        services=Services(media=media, queries=queries),
    )


def runtime(parts: Parts) -> Runtime:
    app = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    result = parts.infra.runtime(
        graphql=app,
        subscriptions=parts.consumers.subscriptions(),
        workers=[parts.queue.run, parts.empty_meetings.run],
    )
    result.on_shutdown.insert(0, parts.identity.close)
    result.on_shutdown.append(parts.chime.close)
    return result


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR, events=outgoing)
    return runtime(assemble(settings, infra))


def main() -> None:
    run(build)
