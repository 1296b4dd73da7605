"""What realtors and admins see, through the subgraph, from events that came in through the
streams and `trackEvent`: every step of the funnel, outcomes with reasons, timings, rows per
listing and day, the previous period, and who may see which figures."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from realty.media.v1 import media_pb2
from realty.scheduling.v1 import scheduling_pb2
from servicekit.auth import Role

DAY1 = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)  # midnight, 1 March, in New York
PERIOD = {"from": DAY1.isoformat(), "to": (DAY1 + timedelta(days=2)).isoformat()}

DASHBOARD = """
query($id: ID!, $from: DateTime!, $to: DateTime!) {
  _entities(representations: [{__typename: "User", id: $id}]) {
    ... on User { dashboard(from: $from, to: $to) {
      timeZone
      current { from funnel { name count conversion }
                cancellations { count reasons { reason count } }
                declines { count reasons { reason count } } noShows { count }
                medianResponseMinutes averageTourMinutes }
      previous { from funnel { name count } }
      listings { listing { id } counts { views requested scheduled started completed } }
      daily { date counts { views requested completed } }
    } }
  }
}"""
STATS = """
query($id: ID!) {
  _entities(representations: [{__typename: "Listing", id: $id}]) {
    ... on Listing { stats { views requests tours completionRate daily { date views tours } } }
  }
}"""
PLATFORM = """
query($from: DateTime!, $to: DateTime!) {
  platformStats(from: $from, to: $to) {
    figures { funnel { name count } }
    activeRealtors activeBuyers videoMinutes toursPerDay { date count }
  }
}"""


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


@dataclass
class Scene:
    realtor: uuid.UUID
    listing: uuid.UUID


async def tour(
    stack: Any,
    scene: Scene,
    steps: list[tuple[str, timedelta, str]],
    at: datetime,
    buyer: uuid.UUID | None = None,
) -> None:
    """One tour of the scene's listing going through `steps` (verb, offset, reason)."""
    buyer = buyer or uuid.uuid4()
    ident = uuid.uuid4()
    record = scheduling_pb2.Tour(
        id=str(ident),
        listing_id=str(scene.listing),
        buyer_id=str(buyer),
        realtor_id=str(scene.realtor),
        starts_at=stamp(at + timedelta(days=1)),
        ends_at=stamp(at + timedelta(days=1, minutes=45)),
    )
    for verb, offset, reason in steps:
        actor = buyer if verb in ("requested", "cancelled") else scene.realtor
        changed = scheduling_pb2.TourChanged(tour=record, reason=reason, actor_id=str(actor))
        await stack.publish(f"scheduling.tour.{verb}", changed, at=at + offset)


async def scene(stack: Any) -> Scene:
    stack.start_consumers()
    realtor, listing = uuid.uuid4(), uuid.uuid4()
    await stack.publish(
        "identity.user.registered",
        identity_pb2.UserRegistered(
            user_id=str(realtor), role=identity_pb2.ROLE_REALTOR, time_zone="America/New_York"
        ),
    )
    created = listings_pb2.Listing(
        id=str(listing), realtor_id=str(realtor), time_zone="America/New_York"
    )
    await stack.publish("listings.listing.created", listings_pb2.ListingCreated(listing=created))
    the_scene = Scene(realtor, listing)
    # Four visitors view the listing (one twice within 30 minutes, counted once): three on
    # day 1, one on day 2.
    for visitor, minute in (("v1", 600), ("v2", 610), ("v1", 620), ("v3", 720), ("v4", 2040)):
        stack.clock.now = DAY1 + timedelta(minutes=minute)
        await stack.track(name="Property View", listingId=str(listing), anonymousId=visitor)
    ten = DAY1 + timedelta(hours=10)
    minutes = timedelta(minutes=1)
    await tour(stack, the_scene, [("requested", 0 * minutes, ""), ("confirmed", 30 * minutes, ""),
                                  ("started", 60 * minutes, ""), ("completed", 105 * minutes, "")],
               ten)  # fmt: skip
    await tour(stack, the_scene, [("requested", 0 * minutes, ""),
                                  ("declined", 90 * minutes, "fully booked")], ten)  # fmt: skip
    await tour(stack, the_scene, [("requested", 0 * minutes, ""), ("confirmed", 10 * minutes, ""),
                                  ("cancelled", 20 * minutes, "sick")], ten)  # fmt: skip
    # The period before: one request.
    await tour(stack, the_scene, [("requested", 0 * minutes, "")], DAY1 - timedelta(days=1))
    await stack.publish(
        "media.meeting.ended",
        media_pb2.MeetingEnded(tour_id=str(uuid.uuid4()), meeting_id="m", duration_seconds=2700),
        at=ten + 100 * minutes,
    )
    await stack.consumed()
    return the_scene


async def test_the_realtors_dashboard_shows_every_step_of_the_funnel(stack: Any) -> None:
    the_scene = await scene(stack)
    body = await stack.gql(
        DASHBOARD, {"id": str(the_scene.realtor), **PERIOD}, user=the_scene.realtor,
        role=Role.REALTOR,
    )  # fmt: skip
    assert not body.get("errors"), body
    board = body["data"]["_entities"][0]["dashboard"]
    assert board["timeZone"] == "America/New_York"
    current = board["current"]
    assert [(s["name"], s["count"], s["conversion"]) for s in current["funnel"]] == [
        ("Property View", 4, None),
        ("Tour Requested", 3, 0.75),
        ("Tour Scheduled", 2, 0.6667),
        ("Tour Started", 1, 0.5),
        ("Tour Completed", 1, 1.0),
    ]
    assert current["declines"] == {"count": 1, "reasons": [{"reason": "fully booked", "count": 1}]}
    assert current["cancellations"] == {"count": 1, "reasons": [{"reason": "sick", "count": 1}]}
    assert current["noShows"] == {"count": 0}
    assert current["medianResponseMinutes"] == 30.0  # of 30, 90 and 10 minutes
    assert current["averageTourMinutes"] == 45.0
    assert [s["count"] for s in board["previous"]["funnel"]] == [0, 1, 0, 0, 0]
    assert board["previous"]["from"] == (DAY1 - timedelta(days=2)).isoformat()
    assert board["listings"] == [
        {"listing": {"id": str(the_scene.listing)},
         "counts": {"views": 4, "requested": 3, "scheduled": 2, "started": 1, "completed": 1}}
    ]  # fmt: skip
    assert board["daily"] == [
        {"date": "2027-03-01", "counts": {"views": 3, "requested": 3, "completed": 1}},
        {"date": "2027-03-02", "counts": {"views": 1, "requested": 0, "completed": 0}},
    ]


async def test_only_the_realtor_or_an_admin_sees_the_dashboard(stack: Any) -> None:
    the_scene = await scene(stack)
    variables = {"id": str(the_scene.realtor), **PERIOD}
    for who, role in ((uuid.uuid4(), Role.REALTOR), (the_scene.realtor, Role.BUYER)):
        body = await stack.gql(DASHBOARD, variables, user=who, role=role)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await stack.gql(DASHBOARD, variables)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await stack.gql(DASHBOARD, variables, user=uuid.uuid4(), role=Role.ADMIN)
    assert not body.get("errors"), body
    backwards = {**variables, "from": PERIOD["to"], "to": PERIOD["from"]}
    body = await stack.gql(DASHBOARD, backwards, user=the_scene.realtor, role=Role.REALTOR)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}


async def test_a_listing_shows_its_owner_views_requests_and_tours(stack: Any) -> None:
    the_scene = await scene(stack)
    stack.clock.now = DAY1 + timedelta(days=2)
    body = await stack.gql(STATS, {"id": str(the_scene.listing)}, user=the_scene.realtor,
                           role=Role.REALTOR)  # fmt: skip
    assert not body.get("errors"), body
    stats = body["data"]["_entities"][0]["stats"]
    assert (stats["views"], stats["requests"], stats["tours"]) == (4, 4, 1)
    assert stats["completionRate"] == 0.5
    assert len(stats["daily"]) == 30  # the last 30 days, from and to a New York midnight
    assert {"date": "2027-03-01", "views": 3, "tours": 1} in stats["daily"]
    body = await stack.gql(STATS, {"id": str(the_scene.listing)}, user=uuid.uuid4(),
                           role=Role.REALTOR)  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_admins_see_the_platform(stack: Any) -> None:
    await scene(stack)
    body = await stack.gql(PLATFORM, PERIOD, user=uuid.uuid4(), role=Role.ADMIN)
    assert not body.get("errors"), body
    stats = body["data"]["platformStats"]
    assert [s["count"] for s in stats["figures"]["funnel"]] == [4, 3, 2, 1, 1]
    assert stats["activeRealtors"] == 1
    assert stats["activeBuyers"] == 3  # the three who requested tours (the viewers are anonymous)
    assert stats["videoMinutes"] == 45
    assert stats["toursPerDay"] == [
        {"date": "2027-03-01", "count": 1}, {"date": "2027-03-02", "count": 0},
        {"date": "2027-03-03", "count": 0},
    ]  # fmt: skip
    body = await stack.gql(PLATFORM, PERIOD, user=uuid.uuid4(), role=Role.REALTOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
