"""`trackEvent` through the subgraph: the plan's checks, idempotent retries, stitching, the
30-minute view rule and per-client limits, against a real database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from analytics.domain import registration_id
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2

VIEW = "Property View"


async def names_of(stack: Any, **where: Any) -> list[str]:
    column, value = next(iter(where.items()))
    found = await stack.rows(
        f"SELECT name FROM events WHERE {column} = :v ORDER BY occurred_at, name", v=value
    )
    return [r.name for r in found]


async def test_an_unknown_event_is_bad_user_input_naming_what_is_allowed(stack: Any) -> None:
    error = await stack.track_error(name="Page Scrolled", anonymousId="a-1")
    assert error["code"] == "BAD_USER_INPUT"
    assert error["field"] == "input.name"
    assert "Property View" in error["allowed"]


async def test_a_property_of_the_wrong_type_names_its_path(stack: Any) -> None:
    error = await stack.track_error(
        name=VIEW,
        listingId=str(uuid.uuid4()),
        anonymousId="a-2",
        properties={"priceRange": 500000},
    )
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", "input.properties.priceRange")
    assert error["expected"] == "String"
    assert await stack.rows("SELECT 1 FROM events") == []


async def test_a_retry_with_the_same_key_records_nothing_new(stack: Any) -> None:
    user = uuid.uuid4()
    first = {"name": "Feedback", "properties": {"answers": {"easy": 5}}, "idempotencyKey": "k-1"}
    assert await stack.track(user, **first) is True
    assert await stack.track(user, **first) is False
    assert await stack.track(user, **{**first, "idempotencyKey": "k-2"}) is True
    assert await names_of(stack, user_id=user) == ["Feedback", "Feedback"]


async def test_views_by_one_visitor_within_thirty_minutes_count_once(stack: Any) -> None:
    listing, other = str(uuid.uuid4()), str(uuid.uuid4())
    assert await stack.track(name=VIEW, listingId=listing, anonymousId="v-1") is True
    stack.clock.advance(timedelta(minutes=29))
    assert await stack.track(name=VIEW, listingId=listing, anonymousId="v-1") is False
    assert await stack.track(name=VIEW, listingId=other, anonymousId="v-1") is True
    assert await stack.track(name=VIEW, listingId=listing, anonymousId="v-2") is True
    stack.clock.advance(timedelta(minutes=1))
    assert await stack.track(name=VIEW, listingId=listing, anonymousId="v-1") is True
    counted = await stack.rows(
        "SELECT anonymous_id FROM events WHERE listing_id = :l ORDER BY occurred_at",
        l=uuid.UUID(listing),
    )
    assert [r.anonymous_id for r in counted] == ["v-1", "v-2", "v-1"]


async def test_anonymous_events_join_the_user_who_signs_in(stack: Any) -> None:
    user, listing = uuid.uuid4(), str(uuid.uuid4())
    await stack.track(name=VIEW, listingId=listing, anonymousId="s-1")
    stack.clock.advance(timedelta(minutes=1))
    await stack.track(name="Feedback", anonymousId="s-1", properties={"page": "/homes/x"})
    stack.clock.advance(timedelta(minutes=1))
    assert await names_of(stack, user_id=user) == []
    # Signed in, the same browser still sends its anonymous id: the two are one person now.
    await stack.track(user, name="User Registration", anonymousId="s-1",
                      properties={"source": "google", "device": "mobile"})  # fmt: skip
    assert await names_of(stack, user_id=user) == [VIEW, "Feedback", "User Registration"]
    # Later anonymous events of that browser (signed out) still belong to the user.
    stack.clock.advance(timedelta(hours=1))
    await stack.track(name="Feedback", anonymousId="s-1")
    assert len(await names_of(stack, user_id=user)) == 4
    # The anonymous id stays with its first user.
    stranger = uuid.uuid4()
    await stack.track(stranger, name="Feedback", anonymousId="s-1")
    assert await names_of(stack, user_id=stranger) == ["Feedback"]
    assert len(await names_of(stack, user_id=user)) == 4


async def test_the_webs_registration_and_identitys_are_one_event(stack: Any) -> None:
    stack.start_consumers()
    user = uuid.uuid4()
    await stack.track(user, name="User Registration", properties={"location": "Austin"})
    await stack.publish(
        "identity.user.registered",
        identity_pb2.UserRegistered(user_id=str(user), role=identity_pb2.ROLE_BUYER),
    )
    await stack.consumed()
    found = await stack.rows("SELECT id, properties FROM events WHERE user_id = :u", u=user)
    assert [(r.id, r.properties) for r in found] == [
        (registration_id(user), {"location": "Austin", "role": "BUYER"})
    ]


async def test_a_client_over_its_limit_is_rate_limited(stack: Any) -> None:
    user = uuid.uuid4()
    for _ in range(30):  # the stack allows 30 a minute per client
        await stack.track(user, name="Feedback")
    error = await stack.track_error(user, name="Feedback")
    assert error["code"] == "RATE_LIMITED"
    assert error["retryAfterSeconds"] >= 1
    assert await stack.track(uuid.uuid4(), name="Feedback") is True
    stack.clock.advance(timedelta(minutes=2))
    assert await stack.track(user, name="Feedback") is True


async def test_a_view_before_its_listing_is_known_is_credited_when_it_arrives(stack: Any) -> None:
    stack.start_consumers()
    listing, realtor = uuid.uuid4(), uuid.uuid4()
    await stack.track(name=VIEW, listingId=str(listing), anonymousId="early")
    created = listings_pb2.Listing(id=str(listing), realtor_id=str(realtor), time_zone="UTC")
    await stack.publish("listings.listing.created", listings_pb2.ListingCreated(listing=created))
    await stack.consumed()
    await stack.track(name=VIEW, listingId=str(listing), anonymousId="later")
    found = await stack.rows(
        "SELECT anonymous_id, realtor_id FROM events WHERE name = :n ORDER BY anonymous_id", n=VIEW
    )
    assert [(r.anonymous_id, r.realtor_id) for r in found] == [
        ("early", realtor), ("later", realtor)
    ]  # fmt: skip
