"""What scheduling counts for its service level: how tour requests end.

The seed's booking objective (more than 98% of bookings succeed) is about the platform, not
about buyers asking for a taken time: a coded refusal is the rule working, so the rate that
alerts is booked / (booked + failed).
"""

from __future__ import annotations

from prometheus_client import Counter

TOUR_REQUESTS = Counter(
    "realty_tour_requests",
    "requestTour outcomes: booked (a tour made, or found by its idempotency key), refused "
    "(a coded answer such as CONFLICT or BAD_USER_INPUT), failed (anything else)",
    ["outcome"],
)
BOOKED = TOUR_REQUESTS.labels("booked")
REFUSED = TOUR_REQUESTS.labels("refused")
FAILED = TOUR_REQUESTS.labels("failed")
