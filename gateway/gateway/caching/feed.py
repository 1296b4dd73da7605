"""The events that drop cached answers: our own services' changes, heard from JetStream.

Every gateway process keeps its own cache, so every process must hear every event: each
follows the subjects with an ordered push consumer of its own (ephemeral, no ack, flow
control and heartbeats; it re-creates itself from the last stream sequence it saw after
a gap or a reconnection, so nothing is skipped). A durable or queue-group consumer would
hand each event to one process only, and a plain core subscription would silently miss
the events sent while it was disconnected. Delivery starts with new events: a process's
cache starts empty, so nothing older can be stale in it.

Each subject maps to the type whose entity the event names by its envelope's
`subject_id` (`listings.listing.updated` → `Listing`); the cache drops the answers tagged
with that entity or with the whole type. While the feed is not subscribed, or NATS is
disconnected, the cache answers nothing (`live`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from servicekit.bus.connection import Bus
from servicekit.bus.events import Event

__all__ = ["InvalidationFeed", "parse_invalidations"]

log = logging.getLogger(__name__)


def parse_invalidations(text: str) -> dict[str, str]:
    """`subject=Type,subject=Type` → {subject: type}."""
    mapping: dict[str, str] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        subject, _, type_name = entry.partition("=")
        if not subject.strip() or not type_name.strip():
            raise ValueError(f"an invalidation is subject=Type, not {entry!r}")
        mapping[subject.strip()] = type_name.strip()
    return mapping


class InvalidationFeed:
    """Follows the configured subjects into `invalidate(type, id)` (run as a task)."""

    def __init__(
        self,
        bus: Bus,
        subjects: Mapping[str, str],
        invalidate: Callable[[str, str], int],
    ) -> None:
        self.bus = bus
        self.subjects = dict(subjects)
        self._invalidate = invalidate
        self._subscribed = False
        self.heard = 0

    @property
    def live(self) -> bool:
        """True while every subject is followed and the connection is up."""
        return self._subscribed and self.bus.connected

    @property
    def watched_types(self) -> frozenset[str]:
        return frozenset(self.subjects.values())

    def apply(self, logical_subject: str, event: Event) -> None:
        type_name = self.subjects.get(logical_subject)
        if type_name is None or not event.subject_id:
            return
        self.heard += 1
        self._invalidate(type_name, event.subject_id)

    async def run(self) -> None:
        """Subscribe to every subject and follow them until cancelled."""
        js = await self.bus.connect()
        subscriptions = []
        try:
            for logical in self.subjects:
                stream = await self.bus.ensure_stream_for(logical)

                async def on_message(msg: Msg, logical: str = logical) -> None:
                    try:
                        self.apply(logical, Event.from_envelope(msg.data))
                    except Exception as exc:  # a malformed event must not stop the feed
                        log.warning(
                            "cache invalidation event on %s ignored: %s",
                            msg.subject,
                            str(exc)[:200],
                        )

                subscriptions.append(
                    await js.subscribe(
                        self.bus.subject(logical),
                        stream=stream,
                        cb=on_message,
                        ordered_consumer=True,
                        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
                    )
                )
            self._subscribed = True
            await asyncio.Event().wait()
        finally:
            self._subscribed = False
            for sub in subscriptions:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
