"""Events listings reacts to: parse the event (`events.py`), call the use case."""

from __future__ import annotations

from servicekit.bus import Event, Subscription
from servicekit.db import UnitOfWork

from listings.events import USER_DELETED, deleted_user
from listings.service import ListingService


class Consumers:
    def __init__(self, service: ListingService) -> None:
        self.service = service

    async def on_user_deleted(self, event: Event, uow: UnitOfWork) -> None:
        """A deleted account's listings leave the market (each announces status_changed),
        in the transaction that records the event as processed."""
        await self.service.withdraw_all_of(deleted_user(event), uow)

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(USER_DELETED, self.on_user_deleted, durable="user-deleted")]
