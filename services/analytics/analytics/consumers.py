"""The services' events, recorded as the tracking plan's.

One durable consumer per source subject; each handler runs in the consumer's unit of work
with the inbox row, so an event redelivered or replayed is recorded once (and its id, the
events table's key, would refuse it a second time even without the inbox).
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
            Subscription(subject, self._handler(mapper), durable=durable)
            for subject, (durable, mapper) in INCOMING.items()
        ]
