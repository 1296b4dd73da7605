"""Composition root: builds media from its settings and runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.runtime import Runtime, run

from media.chime import ChimeMeetings, ChimePipelines
from media.clients import IdentityClient
from media.consumers import Consumers
from media.domain import JoinWindow
from media.events import outgoing
from media.graphql import Services, build_schema
from media.invitations import Invitations
from media.live import LiveCalls
from media.queries import MediaQueries
from media.queue import ChimeEventQueue
from media.service import Media, Policy, RecordingPolicy, Recordings, utcnow
from media.settings import Settings
from media.storage import CloudFront, RecordingStorage
from media.summaries import BedrockSummariser, ExtractiveSummariser, Summariser
from media.workers import EmptyMeetingWorker, RecordingWorker

MIGRATIONS_DIR = migrations_dir("media")


@dataclass
class Parts:
    """Everything media is made of, wired; tests build the same with other settings."""

    infra: Infrastructure
    identity: IdentityClient
    chime: ChimeMeetings
    pipelines: ChimePipelines
    storage: RecordingStorage
    media: Media
    recordings: Recordings
    queries: MediaQueries
    consumers: Consumers
    queue: ChimeEventQueue
    empty_meetings: EmptyMeetingWorker
    recording_worker: RecordingWorker
    live: LiveCalls
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


def recording_policy_of(settings: Settings) -> RecordingPolicy:
    return RecordingPolicy(
        language=settings.transcription_language,
        sink_role_arn=settings.recordings_sink_role_arn,
        retention=timedelta(days=settings.recordings_retention_days),
    )


def summariser_of(settings: Settings) -> Summariser:
    """Bedrock when a model is configured; else the offline extractive summariser."""
    if settings.bedrock_model_id:
        return BedrockSummariser(
            model_id=settings.bedrock_model_id,
            region=settings.bedrock_region or settings.infra.aws_region,
            endpoint_url=settings.bedrock_endpoint_url,
        )
    return ExtractiveSummariser()


def assemble(
    settings: Settings,
    infra: Infrastructure,
    *,
    clock: Callable[[], datetime] = utcnow,
    chime: ChimeMeetings | None = None,
    summariser: Summariser | None = None,
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
    pipelines = ChimePipelines(
        region=region,
        endpoint_url=settings.chime_endpoint(),
        max_attempts=settings.chime_max_attempts,
        concurrency=max(4, settings.chime_concurrency // 4),
    )
    distribution = settings.cloudfront()
    storage = RecordingStorage(
        bucket=settings.recordings_bucket,
        kms_key=settings.recordings_kms_key,
        region=region,
        endpoint_url=settings.s3_endpoint(),
        playback_seconds=settings.playback_url_seconds,
        provision=settings.recordings_provision,
        cloudfront=CloudFront(*distribution) if distribution else None,
    )
    recordings = Recordings(
        infra.db,
        chime,
        pipelines,
        storage,
        identity,
        summariser or summariser_of(settings),
        policy=recording_policy_of(settings),
        clock=clock,
    )
    invitations = Invitations(
        infra.mailer,
        sender=settings.infra.mail_from,
        web_url=settings.web_url,
        opens_minutes=settings.join_opens_minutes,
    )
    media = Media(
        infra.db,
        chime,
        identity,
        invitations,
        policy=policy_of(settings),
        clock=clock,
        recordings=recordings,
    )
    queries = MediaQueries(infra.db)
    live = LiveCalls(infra.bus)
    consumers = Consumers(media, recordings)
    queue = ChimeEventQueue(
        queue_name=settings.events_queue_name,
        region=region,
        handler=consumers.on_chime,
        endpoint_url=settings.sqs_endpoint(),
        wait_seconds=settings.events_wait_seconds,
        batch_window=settings.events_batch_window_seconds,
    )
    return Parts(
        infra=infra,
        identity=identity,
        chime=chime,
        pipelines=pipelines,
        storage=storage,
        media=media,
        recordings=recordings,
        queries=queries,
        consumers=consumers,
        queue=queue,
        empty_meetings=EmptyMeetingWorker(media, poll_seconds=settings.empty_poll_seconds),
        recording_worker=RecordingWorker(
            recordings,
            poll_seconds=settings.recordings_poll_seconds,
            retention_poll_seconds=settings.retention_poll_seconds,
        ),
        live=live,
        services=Services(
            media=media, queries=queries, recordings=recordings, storage=storage, live=live
        ),
    )


def runtime(parts: Parts) -> Runtime:
    app = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    result = parts.infra.runtime(
        graphql=app,
        subscriptions=parts.consumers.subscriptions(),
        workers=[
            parts.queue.run,
            parts.empty_meetings.run,
            parts.recording_worker.run,
            parts.recording_worker.run_retention,
            parts.live.run,
        ],
    )
    result.on_shutdown.insert(0, parts.identity.close)
    result.on_shutdown.append(parts.chime.close)
    result.on_shutdown.append(parts.pipelines.close)
    return result


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR, events=outgoing)
    return runtime(assemble(settings, infra))


def main() -> None:
    run(build)
