"""RFC 5545 calendars: invitations attached to emails, and each user's subscription feed.

A tour is one VEVENT whose UID never changes; its SEQUENCE is the tour's own counter,
raised on every change, so calendar apps replace the older copy. Times carry the tour's
IANA zone as TZID with a matching VTIMEZONE (generated for the years around the tour, so
the block stays small); cancellations use METHOD:CANCEL with STATUS:CANCELLED.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, vCalAddress, vText

from scheduling.domain import Tour, TourStatus

PRODID = "-//RealtyForYou//Tours//EN"
UID_DOMAIN = "realtyforyou.com"


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"
    PUBLISH = "PUBLISH"


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str


def tour_uid(tour: Tour) -> str:
    return f"tour-{tour.id}@{UID_DOMAIN}"


def _zone(tour: Tour) -> ZoneInfo:
    try:
        return ZoneInfo(tour.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.name or person.email)
    for key, value in params.items():
        address.params[key.upper()] = value
    return address


def _status(tour: Tour, cancelled: bool) -> str:
    if cancelled or tour.status in (TourStatus.CANCELLED, TourStatus.DECLINED):
        return "CANCELLED"
    if tour.status is TourStatus.REQUESTED:
        return "TENTATIVE"
    return "CONFIRMED"


def tour_event(
    tour: Tour,
    *,
    now: datetime,
    organizer: Person | None,
    attendee: Person | None,
    cancelled: bool = False,
    url: str | None = None,
) -> Event:
    zone = _zone(tour)
    event = Event()
    event.add("uid", tour_uid(tour))
    event.add("dtstamp", now)
    event.add("sequence", tour.sequence)
    event.add("dtstart", tour.starts_at.astimezone(zone))
    event.add("dtend", tour.ends_at.astimezone(zone))
    event.add("summary", f"Video tour: {tour.listing_title or 'property'}")
    if tour.location:
        event.add("location", tour.location)
    lines = [f"Live video tour of {tour.listing_title or 'the property'}."]
    if tour.note:
        lines.append(f"Note from the buyer: {tour.note}")
    if tour.status_reason and (cancelled or tour.status is not TourStatus.SCHEDULED):
        lines.append(f"Reason: {tour.status_reason}")
    event.add("description", "\n".join(lines))
    event.add("status", _status(tour, cancelled))
    event.add("last-modified", tour.updated_at)
    event.add("created", tour.created_at)
    if url:
        event.add("url", url)
    if organizer is not None:
        event.add("organizer", _address(organizer))
    if attendee is not None:
        partstat = "DECLINED" if cancelled else "NEEDS-ACTION"
        event.add(
            "attendee",
            _address(attendee, role="REQ-PARTICIPANT", partstat=partstat, rsvp="FALSE"),
        )
    return event


def _calendar(method: Method, events: Iterable[Event], *, name: str | None = None) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method.value)
    if name:
        cal.add("x-wr-calname", name)
    days: list[date] = []
    for event in events:
        cal.add_component(event)
        days.append(event.decoded("dtstart").date())
    if days:
        cal.add_missing_timezones(
            first_date=min(days) - timedelta(days=400), last_date=max(days) + timedelta(days=400)
        )
    data: bytes = cal.to_ical()
    return data


def invitation(
    tour: Tour,
    *,
    method: Method,
    now: datetime,
    organizer: Person | None,
    attendee: Person | None,
) -> bytes:
    """One tour as an iTIP message (REQUEST for new/updated, CANCEL for cancelled)."""
    event = tour_event(
        tour,
        now=now,
        organizer=organizer,
        attendee=attendee,
        cancelled=method is Method.CANCEL,
    )
    return _calendar(method, [event])


def feed(tours: Iterable[Tour], *, now: datetime, name: str) -> bytes:
    """A subscribable calendar of tours (METHOD:PUBLISH; ended ones keep their status)."""
    events = [tour_event(t, now=now, organizer=None, attendee=None) for t in tours]
    return _calendar(Method.PUBLISH, events, name=name)
