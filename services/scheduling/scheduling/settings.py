"""Scheduling's configuration: environment variables prefixed `SCHEDULING_`."""

from __future__ import annotations

from pydantic import model_validator
from servicekit.settings import ServiceSettings, service_config

DEV_FEED_SECRET = "dev-only-calendar-feed-secret-change-me"


class Settings(ServiceSettings):
    model_config = service_config("SCHEDULING_")

    service_name: str = "scheduling"
    http_port: int = 4003
    grpc_port: int = 50053

    # Other services, reached over gRPC with a deadline on every call.
    listings_grpc: str = "127.0.0.1:50052"
    identity_grpc: str = "127.0.0.1:50051"
    grpc_timeout_seconds: float = 2.0

    # Where the secret calendar feeds are served from (`<public_url>/calendar/<token>.ics`).
    public_url: str = "http://127.0.0.1:4003"
    # Key from which feed tokens are derived; must be set in production.
    feed_secret: str = DEV_FEED_SECRET

    # Reminders: minutes before the start at which each reminder goes out.
    reminder_offsets_minutes: tuple[int, ...] = (24 * 60, 60)
    reminder_poll_seconds: float = 15.0
    no_show_poll_seconds: float = 60.0
    # A scheduled tour nobody started becomes NO_SHOW this long after its end.
    no_show_grace_minutes: int = 15

    # Candidate slots start every this many minutes (local wall-clock time).
    slot_step_minutes: int = 30

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.infra.production and self.feed_secret == DEV_FEED_SECRET:
            raise ValueError("SCHEDULING_FEED_SECRET must be set in production")
        return self
