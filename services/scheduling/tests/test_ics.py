"""Calendar output read back with `icalendar`: invitations by email and the secret feed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from scheduling.domain import Actor, Tour
from scheduling.events import outgoing
from scheduling.feeds import CalendarFeeds, fingerprint
from scheduling.graphql import Services, build_schema
from scheduling.ics import Method, Person, invitation
from scheduling.queries import TourQueries
from scheduling.routes import feed_route
from scheduling.service import Scheduling
from servicekit.db import Database
from servicekit.graphql import SubgraphApp
from servicekit.vocabulary import Principal, Role
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette

TUESDAY_10AM = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)


def parse(data: bytes | str) -> tuple[Calendar, Any]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_invitation_carries_zone_uid_sequence_and_method() -> None:
    tour = Tour.request(
        listing_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        realtor_id=uuid.uuid4(),
        starts_at=TUESDAY_10AM,
        duration_minutes=45,
        time_zone="America/New_York",
        buffer_minutes=0,
        now=NOW,
        listing_title="Loft on 5th",
        location="5 Fifth Ave, New York, NY 10003, US",
    )
    organizer, attendee = Person("r@example.com", "Rita"), Person("b@example.com", "Ben")
    sent = []
    for step in (
        lambda: None,
        lambda: tour.confirm(Actor(tour.realtor_id), NOW),
        lambda: tour.reschedule(Actor(tour.realtor_id), TUESDAY_10AM + timedelta(hours=1), NOW),
    ):
        step()
        sent.append(
            parse(
                invitation(
                    tour, method=Method.REQUEST, now=NOW, organizer=organizer, attendee=attendee
                )
            )
        )
    tour.cancel(Actor(tour.buyer_id), "found another home", NOW)
    sent.append(
        parse(
            invitation(tour, method=Method.CANCEL, now=NOW, organizer=organizer, attendee=attendee)
        )
    )

    uids = {str(event["UID"]) for _, event in sent}
    assert uids == {f"tour-{tour.id}@realtyforyou.com"}
    sequences = [int(event["SEQUENCE"]) for _, event in sent]
    assert sequences == sorted(sequences) and len(set(sequences)) == 4
    assert [str(cal["METHOD"]) for cal, _ in sent] == ["REQUEST"] * 3 + ["CANCEL"]
    assert [str(event["STATUS"]) for _, event in sent] == [
        "TENTATIVE",
        "CONFIRMED",
        "CONFIRMED",
        "CANCELLED",
    ]
    calendar, event = sent[2]
    start = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert start == TUESDAY_10AM + timedelta(hours=1)
    assert start.utcoffset() == timedelta(hours=-5)
    assert event.decoded("DTEND") - start == timedelta(minutes=45)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    assert "DTSTAMP" in event
    assert str(event["ORGANIZER"]) == "mailto:r@example.com"
    assert str(event["ATTENDEE"]) == "mailto:b@example.com"


async def test_emailed_invitations_track_the_tour(stack: Any) -> None:
    stack.start_relay()
    stack.start_consumers()
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    tour = (await stack.request(buyer, listing, TUESDAY_10AM))["data"]["requestTour"]
    fields = "id status"
    moved = TUESDAY_10AM + timedelta(hours=2)
    await stack.ok(
        f"mutation($id: ID!, $at: DateTime!) {{ rescheduleTour(id: $id, startsAt: $at) {{ {fields} }} }}",
        {"id": tour["id"], "at": moved.isoformat()},
        as_=buyer,
    )
    await stack.ok(
        f'mutation($id: ID!) {{ cancelTour(id: $id, reason: "sold") {{ {fields} }} }}',
        {"id": tour["id"]},
        as_=realtor,
    )
    invitations = []
    for subject in ("requested", "rescheduled", "cancelled"):
        mails = await stack.mail.wait_for(to=buyer.email, subject_contains=subject)
        assert mails, subject
        attachment = next(mails[0].iter_attachments())
        invitations.append(parse(attachment.get_content()))

    assert len({str(event["UID"]) for _, event in invitations}) == 1
    sequences = [int(event["SEQUENCE"]) for _, event in invitations]
    assert sequences[0] < sequences[1] < sequences[2]
    assert [str(cal["METHOD"]) for cal, _ in invitations] == ["REQUEST", "REQUEST", "CANCEL"]
    assert str(invitations[2][1]["STATUS"]) == "CANCELLED"
    assert invitations[1][1].decoded("DTSTART") == moved
    # The realtor was told too.
    assert await stack.mail.wait_for(to=realtor.email, subject_contains="cancelled")


async def test_calendar_feed_is_secret_stable_and_revocable(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    tour = (await stack.request(buyer, listing, TUESDAY_10AM))["data"]["requestTour"]
    query = "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { calendarFeedUrl } } }"
    reps = {"reps": [{"__typename": "User", "id": str(buyer.id)}]}
    url = (await stack.ok(query, reps, as_=buyer))["_entities"][0]["calendarFeedUrl"]
    assert url.startswith("http://scheduling.test/calendar/") and url.endswith(".ics")
    assert (await stack.ok(query, reps, as_=buyer))["_entities"][0]["calendarFeedUrl"] == url
    # Someone else asking about the buyer learns nothing.
    assert (await stack.ok(query, reps, as_=realtor))["_entities"][0]["calendarFeedUrl"] is None

    app = Starlette(routes=[feed_route(stack.parts.scheduling)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        path = url.removeprefix("http://scheduling.test")
        response = await http.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(response.content)
        assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == [
            f"tour-{tour['id']}@realtyforyou.com"
        ]
        assert (await http.get("/calendar/not-a-token.ics")).status_code == 404

        # Resetting revokes the old URL.
        reset = await stack.ok("mutation { resetCalendarFeed }", as_=buyer)
        assert reset["resetCalendarFeed"] != url
        assert (await http.get(path)).status_code == 404
        fresh = reset["resetCalendarFeed"].removeprefix("http://scheduling.test")
        assert (await http.get(fresh)).status_code == 200

    # The database holds no usable token.
    async with stack.db.session() as session:
        stored = (await session.execute(text("SELECT nonce, token_hash FROM calendar_feeds"))).all()
    token = fresh.removeprefix("/calendar/").removesuffix(".ics")
    assert all(token.encode() not in bytes(row.token_hash) + bytes(row.nonce) for row in stored)


FEED_QUERY = (
    "query($reps: [_Any!]!) { _entities(representations: $reps) "
    "{ ... on User { calendarFeedUrl } } }"
)


async def test_reading_the_feed_url_writes_nothing(stack: Any) -> None:
    _, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    tour = (await stack.request(buyer, listing, TUESDAY_10AM))["data"]["requestTour"]
    # Scheduling over a connection where PostgreSQL refuses every write: reading the URL
    # succeeds there, so it cannot have written anything.
    own = stack.parts.scheduling
    read_only = Database(
        f"{stack.db.url}?options=-c%20default_transaction_read_only%3Don",
        source="scheduling",
        events=outgoing,
    )
    queries = TourQueries(read_only)
    replica = Scheduling(read_only, queries, own.directory, own.feeds, clock=own.clock)
    services = Services(scheduling=replica, queries=queries, live=stack.parts.live)
    app = SubgraphApp(build_schema(), verifier=stack.parts.infra.verifier, services=services)
    reps = {"reps": [{"__typename": "User", "id": str(buyer.id)}]}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            answers = [
                (
                    await client.post(
                        "/graphql",
                        json={"query": FEED_QUERY, "variables": reps},
                        headers=stack.issuer.headers(buyer.id, Role.BUYER),
                    )
                ).json()
                for _ in range(2)
            ]
        with pytest.raises(DBAPIError, match="read-only"):
            await replica.reset_calendar_feed(Principal(buyer.id, Role.BUYER))
    finally:
        await read_only.dispose()
    urls = [answer["data"]["_entities"][0]["calendarFeedUrl"] for answer in answers]
    assert urls[0] == urls[1] and urls[0].startswith("http://scheduling.test/calendar/")
    # The same URL from the writable service, and it opens the buyer's calendar.
    assert (await stack.ok(FEED_QUERY, reps, as_=buyer))["_entities"][0]["calendarFeedUrl"] == urls[
        0
    ]
    async with stack.db.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM calendar_feeds"))).scalar() == 0
    calendar = await fetch(stack, urls[0])
    assert calendar is not None
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == [
        f"tour-{tour['id']}@realtyforyou.com"
    ]


async def fetch(stack: Any, url: str) -> Calendar | None:
    app = Starlette(routes=[feed_route(stack.parts.scheduling)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        response = await http.get(url.removeprefix("http://scheduling.test"))
    if response.status_code == 404:
        return None
    assert response.status_code == 200
    return Calendar.from_ical(response.content)


async def test_feed_tokens_cannot_be_forged_and_older_ones_keep_working(stack: Any) -> None:
    buyer, other = stack.peers.person(Role.BUYER), stack.peers.person(Role.BUYER)
    reps = {"reps": [{"__typename": "User", "id": str(buyer.id)}]}
    url = (await stack.ok(FEED_QUERY, reps, as_=buyer))["_entities"][0]["calendarFeedUrl"]
    token = url.removeprefix("http://scheduling.test/calendar/").removesuffix(".ics")
    assert await fetch(stack, url) is not None
    # Another user's id with the buyer's MAC, or a token made under another secret: nobody's.
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    swapped = base64.urlsafe_b64encode(other.id.bytes + raw[16:]).decode().rstrip("=")
    assert await fetch(stack, f"/calendar/{swapped}.ics") is None
    forged = CalendarFeeds(secret="guessed", public_url="http://scheduling.test")
    assert await fetch(stack, forged.url(buyer.id, None)) is None
    assert await fetch(stack, "/calendar/" + "A" * 101 + ".ics") is None

    # A URL issued before feeds were derived (its token's hash stored with a nonce) still
    # opens the calendar, until the user rotates the feed.
    nonce = b"n" * 16
    secret = stack.settings.feed_secret.encode()
    mac = hmac.new(secret, other.id.bytes + nonce, hashlib.sha256).digest()
    legacy = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    async with stack.db.session() as session:
        await session.execute(
            text("INSERT INTO calendar_feeds (user_id, nonce, token_hash) VALUES (:u, :n, :h)"),
            {"u": other.id, "n": nonce, "h": fingerprint(legacy)},
        )
        await session.commit()
    assert await fetch(stack, f"/calendar/{legacy}.ics") is not None
    await stack.ok("mutation { resetCalendarFeed }", as_=other)
    assert await fetch(stack, f"/calendar/{legacy}.ics") is None
