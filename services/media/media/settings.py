"""Media's configuration: environment variables prefixed `MEDIA_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from servicekit.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("MEDIA_")

    service_name: str = "media"
    http_port: int = 4004
    grpc_port: int = 50054  # reserved: media is a gRPC client (identity), not a server
    # No gRPC surface: nothing asks media over gRPC, so no gRPC port is served or exposed.
    serves_grpc: ClassVar[bool] = False

    # A join batch holds its connection across its Chime calls, and a device joining again
    # reads with one of its own: as many joins at once as the pool keeps (50 people in 25
    # tours), before the overflow opens and closes connections of its own — a few ms of CPU
    # each, the database's included — every time such a crowd comes.
    db_pool_size: int = 50
    db_max_overflow: int = 25
    # Tours starting on the hour are joined together: one connection per tour's first join
    # batch, opened before the crowd comes rather than on its requests.
    db_pool_warm: int = 25
    # The Chime calls run boto3 in threads: each would otherwise keep the GIL from the
    # event loop for up to 5 ms at every socket call of every join.
    gil_switch_interval_ms: float = 0.5

    # Identity, asked for the e-mail address of a caller who may be an invited guest.
    identity_grpc: str = "127.0.0.1:50051"
    grpc_timeout_seconds: float = 2.0

    # Amazon Chime SDK: `MEDIA_CHIME_ENDPOINT_URL`, else `CHIME_ENDPOINT_URL` (the emulator
    # `make dev` starts), else the shared AWS endpoint; unset in production (AWS itself).
    chime_endpoint_url: str | None = Field(
        None, validation_alias=AliasChoices("MEDIA_CHIME_ENDPOINT_URL", "CHIME_ENDPOINT_URL")
    )
    media_region: str = "us-east-1"
    # Attempts per Chime call (botocore's standard retries, throttling included).
    chime_max_attempts: int = Field(3, ge=1)
    # Chime calls in flight at once (worker threads and HTTP connections).
    chime_concurrency: int = Field(8, ge=1)
    # The SQS queue an EventBridge rule fills with Chime's events.
    events_queue_name: str = "chime-events"
    sqs_endpoint_url: str | None = None
    events_wait_seconds: int = Field(20, ge=0, le=20)
    # A receive that is not a full batch waits this long for more (ChimeEventQueue.gather).
    events_batch_window_seconds: float = Field(0.25, ge=0, le=5)

    # A SCHEDULED tour's call opens this long before its start and closes this long after its end.
    join_opens_minutes: int = Field(10, ge=0)
    join_closes_minutes: int = Field(30, ge=0)
    # An empty meeting is deleted after this long (a capture bot would keep it alive).
    empty_grace_seconds: float = Field(120.0, ge=0)
    empty_poll_seconds: float = Field(15.0, gt=0)

    guest_limit: int = Field(8, ge=0)
    # Where invitations link to: `<web_url>/tours/<id>/join`.
    web_url: str = "http://127.0.0.1:3000"

    # Recordings: the bucket Chime's capture writes to, encrypted (SSE-KMS) under this
    # customer-managed key (id, ARN or alias), written by Chime with the sink role.
    recordings_bucket: str = "realty-recordings"
    recordings_kms_key: str = "alias/realty-recordings"
    recordings_sink_role_arn: str = "arn:aws:iam::123456789012:role/realty-media-capture-sink"
    # Create the bucket and key when missing (development); off where they are provisioned.
    recordings_provision: bool = True
    recordings_retention_days: int = Field(365, ge=1)
    playback_url_seconds: int = Field(300, ge=1, le=604800)
    s3_endpoint_url: str | None = None
    # Playback through CloudFront when set: the distribution's domain, the public key's id in
    # its key group, and the PEM file of the private key that signs the URLs.
    cloudfront_domain: str | None = None
    cloudfront_key_pair_id: str | None = None
    cloudfront_private_key_file: str | None = None
    # Amazon Transcribe's language for live transcription.
    transcription_language: str = "en-US"
    # Amazon Bedrock (Converse) writes summaries when a model is set; else an offline
    # extractive summariser does.
    bedrock_model_id: str | None = None
    bedrock_endpoint_url: str | None = None
    bedrock_region: str | None = None
    recordings_poll_seconds: float = Field(5.0, gt=0)
    retention_poll_seconds: float = Field(3600.0, gt=0)

    def chime_endpoint(self) -> str | None:
        return self.chime_endpoint_url or self.infra.aws_endpoint_url

    def sqs_endpoint(self) -> str | None:
        return self.sqs_endpoint_url or self.infra.aws_endpoint_url

    def s3_endpoint(self) -> str | None:
        return self.s3_endpoint_url or self.infra.aws_endpoint_url

    def cloudfront(self) -> tuple[str, str, bytes] | None:
        """The CloudFront domain, key id and private key, when all three are configured."""
        if not self.cloudfront_domain:
            return None
        if not (self.cloudfront_key_pair_id and self.cloudfront_private_key_file):
            raise ValueError(
                "MEDIA_CLOUDFRONT_DOMAIN needs MEDIA_CLOUDFRONT_KEY_PAIR_ID and "
                "MEDIA_CLOUDFRONT_PRIVATE_KEY_FILE"
            )
        with open(self.cloudfront_private_key_file, "rb") as pem:
            return self.cloudfront_domain, self.cloudfront_key_pair_id, pem.read()
