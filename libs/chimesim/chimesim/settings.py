"""Configuration, read once from `CHIMESIM_*` environment variables (and the shared
`AWS_ENDPOINT_URL` for the S3 and SQS it writes to)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4580
    region: str = "us-east-1"
    account: str = "123456789012"
    # S3 (artifacts) and SQS (events) endpoint: the moto server of the dev stack.
    aws_endpoint_url: str | None = None
    # Where events go, as an EventBridge rule for source aws.chime would deliver them.
    events_queue_url: str | None = None
    # Requests per second and burst per operation; a rate of 0 turns throttling off.
    throttle_rate: float = 10.0
    throttle_burst: int = 20
    max_chunks: int = 120
    # How long an idle client connection is kept. AWS's API endpoints keep one open for
    # tens of seconds; uvicorn's 5 s default would have every SDK client reconnect (a TCP
    # handshake, a socket and a thread's worth of setup) after any pause between calls.
    keep_alive_seconds: int = 60

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def number(name: str, default: float, kind: type[int] | type[float]) -> float:
            raw = env.get(f"CHIMESIM_{name}")
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError as exc:
                raise ValueError(f"CHIMESIM_{name}={raw!r} is not a {kind.__name__}") from exc
            if value < 0:
                raise ValueError(f"CHIMESIM_{name} must not be negative")
            return value

        return cls(
            host=env.get("CHIMESIM_HOST", cls.host),
            port=int(number("PORT", cls.port, int)),
            region=env.get("CHIMESIM_REGION", env.get("AWS_REGION", cls.region)),
            account=env.get("CHIMESIM_ACCOUNT", cls.account),
            aws_endpoint_url=env.get("CHIMESIM_AWS_ENDPOINT_URL", env.get("AWS_ENDPOINT_URL")),
            events_queue_url=env.get("CHIMESIM_EVENTS_QUEUE_URL") or None,
            throttle_rate=number("THROTTLE_RATE", cls.throttle_rate, float),
            throttle_burst=int(number("THROTTLE_BURST", cls.throttle_burst, int)),
            max_chunks=int(number("MAX_CHUNKS", cls.max_chunks, int)),
            keep_alive_seconds=int(number("KEEP_ALIVE_SECONDS", cls.keep_alive_seconds, int)),
        )
