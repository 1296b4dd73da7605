"""Events listings reacts to."""

from __future__ import annotations

import uuid

from realty.identity.v1 import identity_pb2
from servicekit.bus import Event, Subscription
from servicekit.db import UnitOfWork

from listings.service import ListingService

USER_DELETED = "identity.user.deleted"


def subscriptions(service: ListingService) -> list[Subscription]:
    async def on_user_deleted(event: Event, uow: UnitOfWork) -> None:
        """A deleted account's listings leave the market (each emits status_changed)."""
        message = event.unpack(identity_pb2.UserDeleted)
        await service.withdraw_all_of(uuid.UUID(message.user_id), uow)

    return [Subscription(USER_DELETED, on_user_deleted, durable="user-deleted")]
