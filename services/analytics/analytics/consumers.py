"""The services' events, recorded as the tracking plan's.

One durable consumer per source subject; each handler runs in the consumer's unit of work
with the inbox row, so an event redelivered or replayed is recorded once (and its id, kept in
`event_keys`, would refuse it a second time even without the inbox). The subscriptions are
batched: a fetched batch is recorded in one transaction (servicekit's consumer delivers it
again one event at a time when anything in it fails).
"""

from __future__ import annotations

from servicekit.bus import Event, Subscription
from servicekit.bus.consumer import Handler
from servicekit.db import UnitOfWork

from analytics.events import INCOMING, Mapper
from analytics.service import Analytics


class Consumers:
    def __init__(self, analytics: Analytics) -> None:
        self.analytics = analytics

    def _handler(self, mapper: Mapper) -> Handler:
        async def handle(event: Event, uow: UnitOfWork) -> None:
            await self.analytics.receive(uow, mapper(event))

        return handle

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(subject, self._handler(mapper), durable=durable, batched=True)
            for subject, (durable, mapper) in INCOMING.items()
        ]
