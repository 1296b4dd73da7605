"""Analytics' configuration: environment variables prefixed `ANALYTICS_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
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
