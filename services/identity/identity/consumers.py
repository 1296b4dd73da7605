"""Events identity reacts to: none. Identity is the source of user facts; it publishes
`identity.user.*` and depends on no other service's events, so nothing here subscribes."""

from __future__ import annotations

from servicekit.bus import Subscription


def subscriptions() -> list[Subscription]:
    return []
