"""Emails to the participants of a tour, each with the tour's calendar invitation attached.

Addresses, names and time zones come from identity over gRPC at sending time, so a user who
changed their email or zone gets the message where and when they expect it. Sending is
driven by scheduling's own events (see consumers.py) and by reminder jobs, never inline in
a request, so a slow mail server or identity outage delays mail but never a booking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from servicekit.mail import Attachment, Mailer, compose

from scheduling.clients import IdentityClient, UserInfo
from scheduling.domain import Tour, Verb
from scheduling.ics import Method, Person, invitation

log = logging.getLogger(__name__)

# What each change tells the participants, and the iTIP method of its invitation.
MESSAGES: dict[Verb, tuple[str, Method]] = {
    Verb.REQUESTED: ("Tour requested", Method.REQUEST),
    Verb.CONFIRMED: ("Tour confirmed", Method.REQUEST),
    Verb.RESCHEDULED: ("Tour rescheduled", Method.REQUEST),
    Verb.DECLINED: ("Tour declined", Method.CANCEL),
    Verb.CANCELLED: ("Tour cancelled", Method.CANCEL),
}


def _local(value: datetime, zone_name: str) -> str:
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%A %d %B %Y, %H:%M %Z")


def _span(minutes: int) -> str:
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"


def _person(user: UserInfo | None) -> Person | None:
    if user is None or user.deleted or not user.email:
        return None
    return Person(email=user.email, name=user.display_name)


class Notifier:
    def __init__(
        self,
        identity: IdentityClient,
        mailer: Mailer,
        *,
        sender: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.identity = identity
        self.mailer = mailer
        self.sender = sender
        self.clock = clock

    async def _people(self, tour: Tour) -> tuple[UserInfo | None, UserInfo | None]:
        users = await self.identity.users([tour.buyer_id, tour.realtor_id])
        return users.get(tour.buyer_id), users.get(tour.realtor_id)

    async def tour_changed(self, verb: Verb, tour: Tour, reason: str | None = None) -> int:
        """Tell both participants what happened; returns the number of emails sent."""
        if verb not in MESSAGES:
            return 0
        title, method = MESSAGES[verb]
        buyer, realtor = await self._people(tour)
        ics = invitation(
            tour,
            method=method,
            now=self.clock(),
            organizer=_person(realtor),
            attendee=_person(buyer),
        )
        sent = 0
        for user in (buyer, realtor):
            if _person(user) is None:
                continue
            assert user is not None
            lines = [
                f"Hello {user.display_name},",
                "",
                f"{title}: {tour.listing_title or 'a property'}"
                + (f" ({tour.location})" if tour.location else ""),
                f"When: {_local(tour.starts_at, user.time_zone or tour.time_zone)}",
                f"Status: {tour.status.value.replace('_', ' ').lower()}",
            ]
            if reason and verb is not Verb.RESCHEDULED:
                lines.append(f"Reason: {reason}")
            lines += ["", "The attached invitation keeps your calendar up to date."]
            await self._send(user, f"{title}: {tour.listing_title}", "\n".join(lines), ics, method)
            sent += 1
        return sent

    async def reminder(self, tour: Tour, offset_minutes: int) -> int:
        """Remind both participants that the tour starts soon."""
        buyer, realtor = await self._people(tour)
        ics = invitation(
            tour,
            method=Method.REQUEST,
            now=self.clock(),
            organizer=_person(realtor),
            attendee=_person(buyer),
        )
        when = _span(offset_minutes)
        sent = 0
        for user in (buyer, realtor):
            if _person(user) is None:
                continue
            assert user is not None
            text = "\n".join(
                [
                    f"Hello {user.display_name},",
                    "",
                    f"Your video tour of {tour.listing_title or 'the property'} starts in {when}:",
                    _local(tour.starts_at, user.time_zone or tour.time_zone),
                ]
            )
            await self._send(user, f"Reminder: tour in {when}", text, ics, Method.REQUEST)
            sent += 1
        return sent

    async def _send(
        self, user: UserInfo, subject: str, text: str, ics: bytes, method: Method
    ) -> None:
        message = compose(
            sender=self.sender,
            to=[user.email],
            subject=subject,
            text=text,
            attachments=[Attachment("invite.ics", f"text/calendar; method={method.value}", ics)],
        )
        await self.mailer.send(message)
        log.info("sent %r to user %s", subject, user.id)
