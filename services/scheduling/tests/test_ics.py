"""Calendar output read back with `icalendar`: invitations by email and the secret feed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from icalendar import Calendar
from scheduling.domain import Actor, Tour
from scheduling.routes import feed_route
from scheduling.ics import Method, Person, invitation
from servicekit.auth import Role
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
        from sqlalchemy import text

        stored = (await session.execute(text("SELECT nonce, token_hash FROM calendar_feeds"))).all()
    token = fresh.removeprefix("/calendar/").removesuffix(".ics")
    assert all(token.encode() not in bytes(row.token_hash) + bytes(row.nonce) for row in stored)
