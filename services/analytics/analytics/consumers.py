"""The services' events, recorded as the tracking plan's.

One durable consumer per source subject; each handler runs in the consumer's unit of work
with the inbox rows, so an event redelivered or replayed is recorded once (and its id, kept in
`event_keys`, would refuse it a second time even without the inbox). The subscriptions take
a fetched batch whole: its new events are recorded in one transaction with statements over
the whole batch (servicekit's consumer delivers it again one event at a time when anything
in it fails, so a poison event is alone).
"""

from __future__ import annotations

from servicekit.bus import Event, Subscription
from servicekit.bus.consumer import BatchHandler, Handler
from servicekit.db import UnitOfWork

from analytics.events import INCOMING, Mapper
from analytics.service import Analytics


class Consumers:
    def __init__(self, analytics: Analytics, *, fetch: int = 1000) -> None:
        self.analytics = analytics
        self.fetch = fetch

    def _handler(self, mapper: Mapper) -> Handler:
        async def handle(event: Event, uow: UnitOfWork) -> None:
            await self.analytics.receive(uow, mapper(event))

        return handle

    def _batch_handler(self, mapper: Mapper) -> BatchHandler:
        async def handle(events: list[Event], uow: UnitOfWork) -> None:
            await self.analytics.receive_all(uow, [mapper(event) for event in events])

        return handle

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                subject,
                self._handler(mapper),
                durable=durable,
                batched=True,
                batch_handler=self._batch_handler(mapper),
                fetch=self.fetch,
                ack_through=True,
                overlap=1,  # two batches at a time; three were no faster (alternated)
            )
            for subject, (durable, mapper) in INCOMING.items()
        ]
