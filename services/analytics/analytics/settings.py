"""Analytics' configuration: environment variables prefixed `ANALYTICS_`."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from servicekit.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    model_config = service_config("ANALYTICS_")

    service_name: str = "analytics"
    http_port: int = 4005
    # No gRPC surface: no other service asks analytics anything (so no gRPC port is served).
    serves_grpc: ClassVar[bool] = False

    # `trackEvent` per minute from one visitor (user or anonymous id), and from one address
    # (a household or office shares one; a script rotating anonymous ids does too).
    events_per_client_minute: int = Field(120, ge=1)
    events_per_address_minute: int = Field(1200, ge=1)

    # Mixpanel /import: off unless a project secret (or service account) is set.
    mixpanel_url: str = "https://api.mixpanel.com"
    mixpanel_api_secret: SecretStr | None = None  # Basic auth user (project API secret)
    mixpanel_service_account: str | None = None  # or a service account: user ...
    mixpanel_service_secret: SecretStr | None = None  # ... its secret ...
    mixpanel_project_id: str | None = None  # ... and the project
    mixpanel_batch: int = Field(2000, ge=1, le=2000)

    # GA4 Measurement Protocol: off unless both are set.
    ga4_url: str = "https://www.google-analytics.com"
    ga4_measurement_id: str | None = None
    ga4_api_secret: SecretStr | None = None
    ga4_batch: int = Field(25, ge=1, le=25)

    # Raw events are kept in monthly partitions: months made ahead, months kept (the rollups
    # the dashboards read are kept for good), how often the keeper looks.
    partitions_ahead_months: int = Field(3, ge=1, le=24)
    raw_retention_months: int = Field(13, ge=1)
    partition_check_seconds: float = Field(3600.0, gt=0)

    # Deletion requests when a user is deleted: Mixpanel's GDPR API (the project token and
    # the project's GDPR OAuth token), GA4's User Deletion API (the GA4 property and a
    # service account key file with the analytics.user.deletion scope). Off unless set.
    mixpanel_gdpr_url: str = "https://mixpanel.com"
    mixpanel_project_token: str | None = None
    mixpanel_gdpr_token: SecretStr | None = None
    ga4_deletion_url: str = "https://www.googleapis.com"
    ga4_property_id: str | None = None
    ga4_deletion_credentials: Path | None = None

    # Events a stream consumer fetches at once and records in one transaction (its durable
    # holds up to four batches unacknowledged: one recorded, one committing, one arriving).
    consumer_batch: int = Field(1000, ge=1, le=5000)

    forward_poll_seconds: float = Field(5.0, gt=0)
    forward_timeout_seconds: float = Field(10.0, gt=0)

    @property
    def mixpanel_enabled(self) -> bool:
        return self.mixpanel_api_secret is not None or (
            self.mixpanel_service_account is not None and self.mixpanel_service_secret is not None
        )

    @property
    def mixpanel_erasure_enabled(self) -> bool:
        return self.mixpanel_project_token is not None and self.mixpanel_gdpr_token is not None

    @property
    def ga4_erasure_enabled(self) -> bool:
        return self.ga4_property_id is not None and self.ga4_deletion_credentials is not None

    @property
    def ga4_enabled(self) -> bool:
        return self.ga4_measurement_id is not None and self.ga4_api_secret is not None

    @model_validator(mode="after")
    def _service_account_names_its_project(self) -> Settings:
        if self.mixpanel_service_account and not self.mixpanel_project_id:
            raise ValueError("ANALYTICS_MIXPANEL_PROJECT_ID is needed with a service account")
        return self
