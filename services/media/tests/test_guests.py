"""Guests: invited by email by a participant, recognised by the address they sign in with."""

from __future__ import annotations

from typing import Any

from servicekit.auth import Role

from .conftest import Stack
from .test_join import JOIN, join

INVITE = """
mutation($tourId: ID!, $email: String!) {
  inviteTourGuest(tourId: $tourId, email: $email) {
    id email status invitedAt invitedBy { id } user { id }
  }
}
"""
REMOVE = (
    "mutation($tourId: ID!, $guestId: ID!) { removeTourGuest(tourId: $tourId, guestId: $guestId) }"
)
GUESTS = """
query($reps: [_Any!]!) {
  _entities(representations: $reps) {
    ... on Tour { id guests { email status user { id } invitedBy { id } } }
  }
}
"""


def reps(*ids: Any) -> dict[str, Any]:
    return {"reps": [{"__typename": "Tour", "id": str(i)} for i in ids]}


async def test_an_invited_guest_is_emailed_a_link_and_joins_once_signed_in(stack: Stack) -> None:
    tour, buyer, _ = await stack.tour()
    invited = await stack.ok(
        INVITE, {"tourId": str(tour.id), "email": " Partner@Example.com "}, as_=buyer
    )
    guest = invited["inviteTourGuest"]
    assert (guest["email"], guest["status"], guest["user"]) == (
        "partner@example.com",
        "INVITED",
        None,
    )
    assert guest["invitedBy"]["id"] == str(buyer.id)
    mails = await stack.mail.wait_for(to="partner@example.com", subject_contains="video tour")
    assert len(mails) == 1
    body = mails[0].get_body(preferencelist=("plain",))
    assert body is not None
    assert f"https://app.realty.test/tours/{tour.id}/join" in body.get_content()
    assert buyer.name in str(mails[0]["Subject"])

    partner = stack.person(Role.BUYER, email="PARTNER@example.com")
    joined = await join(stack, tour.id, partner)
    assert joined["attendee"]["ExternalUserId"].startswith(str(partner.id))
    listed = await stack.ok(GUESTS, reps(tour.id), as_=partner)
    [seen] = listed["_entities"][0]["guests"]
    assert (seen["status"], seen["user"]["id"]) == ("JOINED", str(partner.id))
    # Recognised by account from now on: identity is not asked again.
    calls = stack.identity.calls
    await join(stack, tour.id, partner, device="phone")
    assert stack.identity.calls == calls


async def test_who_may_invite_and_the_guest_limit(stack: Stack) -> None:
    tour, buyer, realtor = await stack.tour()
    stranger = stack.person(Role.REALTOR)
    refused = await stack.error(
        INVITE, {"tourId": str(tour.id), "email": "a@example.com"}, as_=stranger
    )
    assert refused["code"] == "FORBIDDEN"
    bad = await stack.error(INVITE, {"tourId": str(tour.id), "email": "not-an-email"}, as_=buyer)
    assert (bad["code"], bad["field"]) == ("BAD_USER_INPUT", "email")
    for n in range(stack.settings.guest_limit):
        host = buyer if n % 2 else realtor
        await stack.ok(INVITE, {"tourId": str(tour.id), "email": f"g{n}@example.com"}, as_=host)
    twice = await stack.error(
        INVITE, {"tourId": str(tour.id), "email": "g0@example.com"}, as_=buyer
    )
    assert twice["code"] == "CONFLICT"
    full = await stack.error(
        INVITE, {"tourId": str(tour.id), "email": "more@example.com"}, as_=buyer
    )
    assert (full["code"], full["reason"]) == ("CONFLICT", "GUEST_LIMIT")
    assert (await stack.ok(GUESTS, reps(tour.id), as_=stranger))["_entities"][0]["guests"] == []


async def test_a_removed_guest_is_taken_out_of_the_call_and_cannot_join_again(
    stack: Stack,
) -> None:
    tour, buyer, realtor = await stack.tour()
    invited = await stack.ok(
        INVITE, {"tourId": str(tour.id), "email": "kid@example.com"}, as_=realtor
    )
    kid = stack.person(Role.BUYER, email="kid@example.com")
    joined = await join(stack, tour.id, kid)
    meeting_id = joined["meeting"]["MeetingId"]
    guest_id = invited["inviteTourGuest"]["id"]
    removed = await stack.ok(REMOVE, {"tourId": str(tour.id), "guestId": guest_id}, as_=buyer)
    assert removed["removeTourGuest"] is True
    assert joined["attendee"]["AttendeeId"] not in stack.chime.attendees[meeting_id]
    again = await stack.error(JOIN, {"tourId": str(tour.id)}, as_=kid)
    assert again["code"] == "FORBIDDEN"
    # The address can be invited again.
    await stack.ok(INVITE, {"tourId": str(tour.id), "email": "kid@example.com"}, as_=buyer)
    stranger = stack.person(Role.BUYER, email="other@example.com")
    assert (await stack.error(JOIN, {"tourId": str(tour.id)}, as_=stranger))["code"] == "FORBIDDEN"
