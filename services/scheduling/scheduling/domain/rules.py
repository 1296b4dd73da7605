"""Who may do what in scheduling, besides a tour's own transitions (see `tour.py`), and
which listings accept tours.

The rules follow the vocabulary's ADMIN rule: an admin passes every owner and participant
rule, but never becomes a party (only a buyer requests a tour, only a realtor publishes
availability). Pure Python: the standard library and `servicekit.vocabulary` only.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from servicekit.vocabulary import Forbidden, Principal, Role


class ListingStatus(StrEnum):
    """A listing's status as scheduling needs it (listings owns the listing)."""

    DRAFT = "DRAFT"
    COMING_SOON = "COMING_SOON"
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    CLOSED = "CLOSED"
    WITHDRAWN = "WITHDRAWN"
    UNKNOWN = "UNKNOWN"


# Listings in these statuses accept tour requests; leaving them cancels the live tours.
TOURABLE = frozenset({ListingStatus.ACTIVE, ListingStatus.COMING_SOON})


def accepts_tours(status: ListingStatus) -> bool:
    return status in TOURABLE


def no_longer_tourable(status: ListingStatus) -> str:
    """The reason given to the participants of tours cancelled because of `status`."""
    return f"the listing is no longer open for tours ({status.value.replace('_', ' ').lower()})"


def require_may_request_tours(who: Principal) -> None:
    """Requesting makes the caller the tour's buyer: a BUYER exactly (an admin is no party)."""
    who.require_exact_role(Role.BUYER)


def require_may_publish_availability(who: Principal) -> None:
    """Availability makes the caller a realtor taking tours: a REALTOR exactly."""
    who.require_exact_role(Role.REALTOR)


def require_self(who: Principal, user_id: uuid.UUID) -> None:
    """A user's own tours and clients: the user themself, or an admin."""
    if who.user_id != user_id and not who.is_admin:
        raise Forbidden("only the user themself may see this")


def require_own_clients(who: Principal, user_id: uuid.UUID) -> None:
    """A realtor's clients: the realtor themself, or an admin."""
    who.require_role(Role.REALTOR)
    require_self(who, user_id)


def require_listing_realtor(who: Principal, realtor_id: uuid.UUID) -> None:
    """The tours of a listing: its realtor, or an admin."""
    if who.user_id != realtor_id and not who.is_admin:
        raise Forbidden("only the listing's realtor may see its tours")


def may_see_calendar_feed(who: Principal | None, user_id: uuid.UUID) -> bool:
    """The secret feed URL is a credential, not data: only its owner ever gets it.

    An admin can read anyone's tours through the API; a feed URL handed to them would be a
    key that keeps working outside it, in the name of the user.
    """
    return who is not None and who.user_id == user_id
