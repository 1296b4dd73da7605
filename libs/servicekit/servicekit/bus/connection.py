"""The connection to NATS JetStream, and how logical subjects map onto streams.

Each service publishes into one stream named after it (`IDENTITY` holds `identity.>`), so
the stream can be provisioned by whoever touches it first, publisher or consumer, with the
same configuration. A namespace prefix (`REALTY_BUS_NAMESPACE`) isolates test runs and
environments sharing one NATS server: subjects become `<ns>.identity.…`, streams `<NS>_IDENTITY`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoServersError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

log = logging.getLogger(__name__)

DLQ_STREAM = "DLQ"
DUPLICATE_WINDOW_SECONDS = 600.0


class Bus:
    """A lazily connected, self-reconnecting NATS client with JetStream."""

    def __init__(
        self, url: str, *, namespace: str = "", name: str = "realty", replicas: int = 1
    ) -> None:
        self.url = url
        self.replicas = replicas
        self.namespace = namespace.strip(".")
        self.name = name
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()
        self._streams: set[str] = set()

    # -- naming -------------------------------------------------------------------------
    def subject(self, logical: str) -> str:
        return f"{self.namespace}.{logical}" if self.namespace else logical

    def logical(self, subject: str) -> str:
        prefix = f"{self.namespace}." if self.namespace else ""
        return subject[len(prefix) :] if prefix and subject.startswith(prefix) else subject

    def stream_for(self, logical_subject: str) -> str:
        base = logical_subject.split(".", 1)[0].upper()
        return f"{self.namespace.upper().replace('.', '_')}_{base}" if self.namespace else base

    def dlq_subject(self, service: str, durable: str) -> str:
        return self.subject(f"dlq.{service}.{durable}")

    # -- connection -----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(
        self, *, retry_delay: float = 0.5, max_delay: float = 5.0
    ) -> JetStreamContext:
        """Connect, waiting for the server as long as it takes; returns the JetStream context."""
        if self._js is not None and self._nc is not None and not self._nc.is_closed:
            return self._js  # every publish passes here: no lock once connected
        async with self._lock:
            if self._js is not None and self._nc is not None and not self._nc.is_closed:
                return self._js
            delay = retry_delay
            while True:
                try:
                    self._nc = await nats.connect(
                        self.url,
                        name=self.name,
                        connect_timeout=2,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.5,
                        drain_timeout=2,
                        allow_reconnect=True,
                        error_cb=self._on_error,
                    )
                    break
                except (NoServersError, OSError, TimeoutError) as exc:
                    log.warning(
                        "NATS at %s not reachable (%s); retrying in %.1fs", self.url, exc, delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, max_delay)
            self._js = self._nc.jetstream(timeout=5)
            return self._js

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS connection error: %s", exc)

    @property
    def nc(self) -> Client:
        if self._nc is None:
            raise RuntimeError("bus not connected")
        return self._nc

    async def jetstream(self) -> JetStreamContext:
        return await self.connect()

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()
        self._nc = None
        self._js = None

    # -- streams ----------------------------------------------------------------------------
    async def ensure_stream_for(self, logical_subject: str) -> str:
        """Provision the stream that holds `logical_subject` (idempotent); returns its name."""
        name = self.stream_for(logical_subject)
        if name in self._streams:
            return name
        base = logical_subject.split(".", 1)[0]
        await self._ensure_stream(name, [self.subject(f"{base}.>")])
        return name

    async def ensure_dlq_stream(self) -> str:
        name = f"{self.namespace.upper()}_{DLQ_STREAM}" if self.namespace else DLQ_STREAM
        if name not in self._streams:
            await self._ensure_stream(name, [self.subject("dlq.>")])
        return name

    async def _ensure_stream(self, name: str, subjects: list[str]) -> None:
        js = await self.connect()
        config = StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=7 * 24 * 3600,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=self.replicas,
        )
        try:
            await js.stream_info(name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError as exc:  # created concurrently by another process
                if "already in use" not in str(exc):
                    raise
        self._streams.add(name)

    async def publish(
        self,
        logical_subject: str,
        data: bytes,
        *,
        msg_id: str,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish and wait for JetStream's ack (deduplicated by `msg_id`)."""
        js = await self.connect()
        await self.ensure_stream_for(logical_subject)
        await js.publish(
            self.subject(logical_subject),
            data,
            headers={"Nats-Msg-Id": msg_id, **(headers or {})},
        )
