"""Scheduling's domain: the tour aggregate (`tour.py`) and who may do what (`rules.py`).

The authorization rules live here once, and every adapter (GraphQL, gRPC, consumers,
workers) reaches them through the use cases. Pure Python: `import scheduling.domain` loads
the standard library and `servicekit.vocabulary` only.
"""

from __future__ import annotations

from scheduling.domain.rules import (
    TOURABLE,
    ListingStatus,
    accepts_tours,
    may_see_calendar_feed,
    no_longer_tourable,
    require_listing_realtor,
    require_may_publish_availability,
    require_may_request_tours,
    require_own_clients,
    require_self,
)
from scheduling.domain.tour import (
    ENDED_STATUSES,
    LIVE_STATUSES,
    MAX_DURATION_MINUTES,
    MAX_NOTE_LENGTH,
    MAX_REASON_LENGTH,
    MIN_DURATION_MINUTES,
    START_EARLY,
    Actor,
    Tour,
    TourEvent,
    TourStatus,
    Transition,
    Verb,
    check_aware,
    check_duration,
)

__all__ = [
    "ENDED_STATUSES",
    "LIVE_STATUSES",
    "MAX_DURATION_MINUTES",
    "MAX_NOTE_LENGTH",
    "MAX_REASON_LENGTH",
    "MIN_DURATION_MINUTES",
    "START_EARLY",
    "TOURABLE",
    "Actor",
    "ListingStatus",
    "Tour",
    "TourEvent",
    "TourStatus",
    "Transition",
    "Verb",
    "accepts_tours",
    "check_aware",
    "check_duration",
    "may_see_calendar_feed",
    "no_longer_tourable",
    "require_listing_realtor",
    "require_may_publish_availability",
    "require_may_request_tours",
    "require_own_clients",
    "require_self",
]
