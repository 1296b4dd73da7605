"""The tracking plan: every event analytics records, who may send it, and its properties.

This module is the one place the plan is written down: the README's table is
`markdown_table()`, and a test keeps the two equal. Server events are built from the services' streams and are never accepted
from a frontend; client events come from `trackEvent` and are validated against their
property types here. Pure Python: it is part of the domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Origin(StrEnum):
    """Who records an event: the services' streams, the frontends, or both."""

    SERVER = "server"
    CLIENT = "client"
    BOTH = "both"


class PropertyType(StrEnum):
    STRING = "String"
    INTEGER = "Int"
    NUMBER = "Float"
    BOOLEAN = "Boolean"
    DATETIME = "DateTime"
    STRING_LIST = "[String]"
    # A flat object of short answers (string, number or boolean values): the feedback widget.
    ANSWERS = "Answers"


@dataclass(frozen=True, slots=True)
class Property:
    type: PropertyType
    description: str
    # Properties a frontend may send; server-only ones are filled from the streams.
    client: bool = True
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    name: str
    origin: Origin
    description: str
    properties: dict[str, Property] = field(default_factory=dict)
    # The event is about one listing: `listingId` is required from a frontend.
    needs_listing: bool = False

    @property
    def from_client(self) -> bool:
        return self.origin in (Origin.CLIENT, Origin.BOTH)


S, INT, N, D = PropertyType.STRING, PropertyType.INTEGER, PropertyType.NUMBER, PropertyType.DATETIME


def _server(**properties: Property) -> dict[str, Property]:
    """Properties only the services fill in."""
    return {key: Property(p.type, p.description, client=False) for key, p in properties.items()}


def _p(
    kind: PropertyType,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Property:
    return Property(kind, description, minimum=minimum, maximum=maximum)


_EVENTS = (
    PlannedEvent(
        "User Registration",
        Origin.BOTH,
        "An account was created. The service records it from identity; the web or app adds "
        "where the visitor came from (one event per user, whichever arrives first).",
        {
            "role": Property(S, "BUYER or REALTOR, from identity.", client=False),
            "source": _p(S, "Acquisition source (utm_source or referrer domain)."),
            "device": _p(S, "desktop, mobile or tablet."),
            "location": _p(S, "Coarse location: city, region or country."),
        },
    ),
    PlannedEvent(
        "Listing Created",
        Origin.SERVER,
        "A realtor created a listing (from listings).",
        _server(city=_p(S, "City of the home."), state=_p(S, "State or region.")),
    ),
    PlannedEvent(
        "Listing Published",
        Origin.SERVER,
        "A listing became ACTIVE for the first time or again (from listings).",
        _server(fromStatus=_p(S, "The status it left.")),
    ),
    PlannedEvent(
        "Property View",
        Origin.BOTH,
        "A visitor opened a listing's page: the public page tells (listings.listing.viewed), "
        "or the web or app does. Counted once per visitor and listing per 30 minutes.",
        {
            "propertyType": _p(S, "House, condo, townhouse, land..."),
            "priceRange": _p(S, "The price bucket shown, e.g. 500k-750k."),
            "location": _p(S, "City or neighbourhood of the home."),
        },
        needs_listing=True,
    ),
    PlannedEvent(
        "Tour Booking",
        Origin.CLIENT,
        "A buyer submitted the booking form for a tour.",
        {
            "propertyId": _p(S, "The listing booked (also `listingId`)."),
            "scheduledTime": _p(D, "The slot chosen."),
            "userType": _p(S, "buyer, or guest for a visitor not signed in."),
        },
        needs_listing=True,
    ),
    PlannedEvent(
        "Tour Requested",
        Origin.SERVER,
        "A buyer asked for a tour (scheduling.tour.requested).",
        _server(scheduledTime=_p(D, "The requested start.")),
    ),
    PlannedEvent(
        "Tour Scheduled",
        Origin.SERVER,
        "The realtor confirmed the tour (scheduling.tour.confirmed).",
        _server(scheduledTime=_p(D, "The confirmed start.")),
    ),
    PlannedEvent(
        "Tour Declined",
        Origin.SERVER,
        "The realtor declined the request (scheduling.tour.declined).",
        _server(reason=_p(S, "The reason given.")),
    ),
    PlannedEvent(
        "Tour Rescheduled",
        Origin.SERVER,
        "The tour moved to another time (scheduling.tour.rescheduled).",
        _server(
            scheduledTime=_p(D, "The new start."),
            previousTime=_p(D, "The start it had before."),
        ),
    ),
    PlannedEvent(
        "Tour Cancelled",
        Origin.SERVER,
        "The tour was cancelled (scheduling.tour.cancelled).",
        _server(
            reason=_p(S, "The reason given."),
            cancelledBy=_p(S, "buyer, realtor, admin or system."),
        ),
    ),
    PlannedEvent(
        "Tour Started",
        Origin.SERVER,
        "The tour began (scheduling.tour.started).",
        _server(scheduledTime=_p(D, "The planned start.")),
    ),
    PlannedEvent(
        "Tour Completed",
        Origin.SERVER,
        "The tour ended as held (scheduling.tour.completed).",
        _server(plannedMinutes=_p(INT, "Length of the booked slot.")),
    ),
    PlannedEvent(
        "Tour No Show",
        Origin.SERVER,
        "Nobody started the tour in its window (scheduling.tour.no_show).",
        _server(reason=_p(S, "Why it was marked.")),
    ),
    PlannedEvent(
        "Video Call Start",
        Origin.SERVER,
        "The tour's video meeting began (media.meeting.started).",
        _server(meetingId=_p(S, "Chime's meeting id.")),
    ),
    PlannedEvent(
        "Video Call Join",
        Origin.SERVER,
        "A participant's device joined the call (media.attendee.joined).",
        _server(
            meetingId=_p(S, "Chime's meeting id."),
            first=_p(PropertyType.BOOLEAN, "The first participant in the meeting."),
        ),
    ),
    PlannedEvent(
        "Video Call Leave",
        Origin.SERVER,
        "A participant's device left the call (media.attendee.left).",
        _server(
            meetingId=_p(S, "Chime's meeting id."),
            secondsPresent=_p(INT, "How long this device was in the call."),
            last=_p(PropertyType.BOOLEAN, "Nobody is left in the call."),
        ),
    ),
    PlannedEvent(
        "Video Call End",
        Origin.SERVER,
        "The tour's video meeting ended (media.meeting.ended).",
        _server(
            meetingId=_p(S, "Chime's meeting id."),
            durationSeconds=_p(INT, "How long the meeting lasted."),
            attendeeMinutes=_p(INT, "Attendee-minutes of the tour so far."),
        ),
    ),
    PlannedEvent(
        "Recording Available",
        Origin.SERVER,
        "The tour call's recording can be played back (media.recording.available).",
        _server(
            recordingId=_p(S, "The recording's id in media."),
            durationSeconds=_p(INT, "How long the recording runs."),
        ),
    ),
    PlannedEvent(
        "Tour Completion",
        Origin.CLIENT,
        "The buyer's closing screen after a tour: how it went.",
        {
            "duration": _p(N, "Minutes the buyer spent in the tour.", minimum=0, maximum=1440),
            "satisfactionScore": _p(INT, "1 (poor) to 5 (excellent).", minimum=1, maximum=5),
            "followUpActions": _p(
                PropertyType.STRING_LIST, "What the buyer chose next: offer, second tour..."
            ),
        },
    ),
    PlannedEvent(
        "Feedback",
        Origin.CLIENT,
        "The answers of the web's feedback widget (heatmaps and recordings stay in Hotjar).",
        {
            "answers": _p(PropertyType.ANSWERS, "Question key -> answer."),
            "page": _p(S, "The path the widget was shown on."),
        },
    ),
)

PLAN: dict[str, PlannedEvent] = {event.name: event for event in _EVENTS}
CLIENT_EVENTS: tuple[str, ...] = tuple(e.name for e in _EVENTS if e.from_client)


def markdown_table() -> str:
    """The plan as the README shows it (a server-only property is marked so)."""
    lines = ["| event | sent by | properties | meaning |", "| --- | --- | --- | --- |"]
    for event in _EVENTS:
        properties = ", ".join(
            f"`{key}` {p.type.value}{'' if p.client else ' (server)'}"
            for key, p in event.properties.items()
        )
        listing = " Needs `listingId`." if event.needs_listing else ""
        lines.append(
            f"| {event.name} | {event.origin.value} | {properties or '—'} "
            f"| {event.description}{listing} |"
        )
    return "\n".join(lines)
