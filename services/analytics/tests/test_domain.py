"""The tracking plan's rules alone: what a frontend may send, ids, the 30-minute view rule,
the rate limits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from analytics.domain import (
    MAX_PROPERTIES_BYTES,
    TrackEvent,
    client_event,
    counts_as_view,
    registration_id,
)
from analytics.limits import RateLimiter
from analytics.plan import CLIENT_EVENTS, PLAN, Origin
from servicekit.vocabulary import BadUserInput, RateLimited

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LISTING = uuid.UUID("00000000-0000-4000-8000-000000000001")
USER = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


def refused(command: TrackEvent, user: uuid.UUID | None = USER) -> BadUserInput:
    with pytest.raises(BadUserInput) as caught:
        client_event(command, user, NOW)
    return caught.value


def view(**properties: Any) -> TrackEvent:
    return TrackEvent("Property View", properties, listing_id=LISTING)


def test_the_plan_names_every_event_of_the_seed() -> None:
    for name in (
        "Tour Requested", "Tour Scheduled", "Tour Started", "Tour Completed", "Tour Cancelled",
        "User Registration", "Property View", "Tour Booking", "Video Call Start",
        "Tour Completion", "Feedback",
    ):  # fmt: skip
        assert name in PLAN
    assert set(CLIENT_EVENTS) == {
        "User Registration", "Property View", "Tour Booking", "Tour Completion", "Feedback"
    }  # fmt: skip
    assert PLAN["Tour Started"].origin is Origin.SERVER


def test_an_unknown_name_is_refused_listing_what_is_allowed() -> None:
    error = refused(TrackEvent("Property Viewed"))
    assert error.field == "input.name"
    assert "Property View" in str(error) and "Feedback" in str(error)
    assert error.details["allowed"] == list(CLIENT_EVENTS)


def test_a_server_event_cannot_be_sent_by_a_frontend() -> None:
    assert refused(TrackEvent("Tour Completed")).field == "input.name"


def test_a_property_of_the_wrong_type_names_the_property_and_its_type() -> None:
    error = refused(view(propertyType=3))
    assert error.field == "input.properties.propertyType"
    assert "String" in str(error)
    error = refused(TrackEvent("Tour Completion", {"satisfactionScore": "5"}))
    assert error.field == "input.properties.satisfactionScore"
    assert error.details["expected"] == "Int"


def test_an_unknown_property_lists_the_allowed_ones() -> None:
    error = refused(view(colour="red"))
    assert error.field == "input.properties.colour"
    assert error.details["allowed"] == ["location", "priceRange", "propertyType"]


def test_server_only_properties_are_refused_from_a_frontend() -> None:
    error = refused(TrackEvent("User Registration", {"role": "ADMIN"}))
    assert error.field == "input.properties.role"


def test_numbers_are_bounded_and_booleans_are_not_numbers() -> None:
    assert refused(TrackEvent("Tour Completion", {"satisfactionScore": 6})).field == (
        "input.properties.satisfactionScore"
    )
    assert refused(TrackEvent("Tour Completion", {"satisfactionScore": True})).field == (
        "input.properties.satisfactionScore"
    )
    ok = client_event(
        TrackEvent("Tour Completion", {"duration": 31.5, "satisfactionScore": 5,
                                       "followUpActions": ["offer"]}),
        USER,
        NOW,
    )  # fmt: skip
    assert ok.properties == {"duration": 31.5, "satisfactionScore": 5, "followUpActions": ["offer"]}


def test_sizes_are_bounded() -> None:
    assert refused(view(location="x" * 256)).field == "input.properties.location"
    answers = {f"{i:064d}": "y" * 250 for i in range(30)}
    error = refused(TrackEvent("Feedback", {"answers": answers, "page": "/"}))
    assert error.field == "input.properties"
    assert str(MAX_PROPERTIES_BYTES) in str(error)
    assert refused(TrackEvent("Feedback", {"answers": {"q": [1]}})).field == (
        "input.properties.answers.q"
    )


def test_datetimes_need_an_offset() -> None:
    booking = TrackEvent("Tour Booking", {"scheduledTime": "2027-03-02T10:00"}, listing_id=LISTING)
    assert refused(booking).field == "input.properties.scheduledTime"
    fine = TrackEvent(
        "Tour Booking", {"scheduledTime": "2027-03-02T10:00:00-05:00"}, listing_id=LISTING
    )
    assert client_event(fine, USER, NOW).properties["scheduledTime"] == "2027-03-02T10:00:00-05:00"


def test_listing_events_need_the_listing_and_anonymous_ones_an_id() -> None:
    assert refused(TrackEvent("Property View")).field == "input.listingId"
    assert refused(view(), user=None).field == "input.anonymousId"
    anonymous = client_event(
        TrackEvent("Property View", None, listing_id=LISTING, anonymous_id="a-1"), None, NOW
    )
    assert anonymous.user_id is None and anonymous.visitor == "anon:a-1"


def test_the_client_time_is_kept_when_plausible() -> None:
    late = TrackEvent("Feedback", occurred_at=NOW - timedelta(days=8))
    assert refused(late).field == "input.occurredAt"
    ahead = TrackEvent("Feedback", occurred_at=NOW + timedelta(hours=1))
    assert refused(ahead).field == "input.occurredAt"
    earlier = NOW - timedelta(hours=2)
    assert client_event(TrackEvent("Feedback", occurred_at=earlier), USER, NOW).occurred_at == (
        earlier
    )


def test_an_idempotency_key_gives_the_same_id_to_the_same_sender_only() -> None:
    once = client_event(TrackEvent("Feedback", idempotency_key="k1"), USER, NOW)
    again = client_event(TrackEvent("Feedback", idempotency_key="k1"), USER, NOW)
    other = client_event(TrackEvent("Feedback", idempotency_key="k1"), uuid.uuid4(), NOW)
    keyless = client_event(TrackEvent("Feedback"), USER, NOW)
    assert once.id == again.id
    assert other.id != once.id and keyless.id != once.id
    assert refused(TrackEvent("Feedback", idempotency_key="")).field == "input.idempotencyKey"


def test_a_signed_in_registration_shares_the_id_of_identitys() -> None:
    event = client_event(TrackEvent("User Registration", {"device": "mobile"}), USER, NOW)
    assert event.id == registration_id(USER)


def test_two_views_within_thirty_minutes_are_one() -> None:
    assert counts_as_view(None, NOW)
    assert not counts_as_view(NOW, NOW + timedelta(minutes=29, seconds=59))
    assert not counts_as_view(NOW, NOW - timedelta(minutes=10))  # arrived out of order
    assert counts_as_view(NOW, NOW + timedelta(minutes=30))


def test_the_rate_limit_weighs_the_previous_minute() -> None:
    limiter = RateLimiter(per_minute=10)
    start = datetime(2027, 3, 1, 12, 0, 50, tzinfo=UTC)
    for _ in range(10):
        limiter.take("a", start)
    with pytest.raises(RateLimited) as caught:
        limiter.take("a", start)
    assert caught.value.details["retryAfterSeconds"] == 10
    limiter.take("b", start)  # another client has its own allowance
    # 15 s into the next minute three quarters of the last minute still count: 7.5 of 10.
    later = start + timedelta(seconds=25)
    for _ in range(2):
        limiter.take("a", later)
    with pytest.raises(RateLimited):
        limiter.take("a", later)
    limiter.take("a", start + timedelta(minutes=2))
