"""Property Views from the public listing pages (`listings.listing.viewed`): anonymous by the
page's visitor id, folded by the 30-minute rule, carrying the plan's properties, and counted
in the realtor's dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from servicekit.auth import Role

NOON = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)  # noon in New York
DAILY = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  _entities(representations: [{__typename: "User", id: $id}]) {
    ... on User { dashboard(from: $from, to: $to) {
      current { funnel { name count } } daily { date counts { views } } } } } }"""


def viewed(listing: uuid.UUID, realtor: uuid.UUID, visitor: str, at: datetime,
           **extra: Any) -> listings_pb2.ListingViewed:  # fmt: skip
    stamp = Timestamp()
    stamp.FromDatetime(at)
    fields = {"property_type": "CONDO", "price_cents": 62_500_000, "currency": "USD",
              "city": "Austin", "state": "TX", "country": "US", **extra}  # fmt: skip
    return listings_pb2.ListingViewed(listing_id=str(listing), realtor_id=str(realtor),
                                      visitor_id=visitor, viewed_at=stamp, **fields)  # fmt: skip


async def test_page_views_become_property_views_once_per_half_hour(stack: Any) -> None:
    stack.start_consumers()
    realtor, listing = uuid.uuid4(), uuid.uuid4()
    await stack.publish("identity.user.registered", identity_pb2.UserRegistered(
        user_id=str(realtor), role=identity_pb2.ROLE_REALTOR, time_zone="America/New_York"))  # fmt: skip
    await stack.consumed()
    views = [("cookie-a", 0), ("cookie-a", 10), ("cookie-b", 12), ("cookie-a", 45),
             ("cookie-a", 29)]  # fmt: skip
    for visitor, minutes in views:
        await stack.publish("listings.listing.viewed",
                            viewed(listing, realtor, visitor, NOON + timedelta(minutes=minutes)))  # fmt: skip
    # The next day (New York), a home without a price.
    tomorrow = viewed(listing, realtor, "cookie-c", NOON + timedelta(days=1), price_cents=0)
    replayed = await stack.publish("listings.listing.viewed", tomorrow)
    await stack.publish("listings.listing.viewed", tomorrow, event_id=replayed, copy="2")
    await stack.consumed()
    found = await stack.rows(
        "SELECT anonymous_id, occurred_at, realtor_id, properties, user_id FROM events "
        "WHERE listing_id = :l ORDER BY occurred_at", l=listing)  # fmt: skip
    assert [(r.anonymous_id, r.occurred_at - NOON) for r in found] == [
        ("cookie-a", timedelta(0)), ("cookie-b", timedelta(minutes=12)),
        ("cookie-a", timedelta(minutes=45)), ("cookie-c", timedelta(days=1)),
    ]  # fmt: skip
    assert {r.realtor_id for r in found} == {realtor} and {r.user_id for r in found} == {None}
    assert found[0].properties == {
        "propertyType": "condo", "priceRange": "500k-750k USD", "location": "Austin, TX, US"
    }  # fmt: skip
    assert "priceRange" not in found[-1].properties
    period = {"from": "2027-03-01T05:00:00+00:00", "to": "2027-03-03T05:00:00+00:00"}
    body = await stack.gql(DAILY, {"id": str(realtor), **period}, user=realtor,
                           role=Role.REALTOR)  # fmt: skip
    assert not body.get("errors"), body
    board = body["data"]["_entities"][0]["dashboard"]
    assert board["current"]["funnel"][0] == {"name": "Property View", "count": 4}
    assert board["daily"] == [{"date": "2027-03-01", "counts": {"views": 3}},
                              {"date": "2027-03-02", "counts": {"views": 1}}]  # fmt: skip


async def test_a_page_view_of_a_signed_in_visitor_is_theirs(stack: Any) -> None:
    stack.start_consumers()
    user, realtor, listing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # The web joined its visitor id to the user (identity stitching through trackEvent).
    await stack.track(user, name="Feedback", anonymousId="cookie-z", properties={"page": "/"})
    await stack.publish("listings.listing.viewed", viewed(listing, realtor, "cookie-z", NOON))
    await stack.consumed()
    [row] = await stack.rows("SELECT user_id FROM events WHERE listing_id = :l", l=listing)
    assert row.user_id == user
