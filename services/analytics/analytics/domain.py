"""Analytics' rules: what a recorded event is, how a frontend's event is checked against the
tracking plan, which ids make retries and replays idempotent, when a Property View counts.

Pure Python (stdlib and servicekit.vocabulary only): the stores and adapters apply these
rules, they never restate them.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from servicekit.vocabulary import BadUserInput

from analytics.plan import CLIENT_EVENTS, PLAN, PlannedEvent, Property, PropertyType
from analytics.reports import FUNNEL, OUTCOMES

# Bounds of what a frontend may send (Mixpanel's and GA4's own limits are far above these).
MAX_PROPERTIES = 25
MAX_STRING = 255
MAX_LIST = 20
MAX_ANSWERS = 30
MAX_PROPERTIES_BYTES = 8_000
MAX_ANONYMOUS_ID = 128
MAX_IDEMPOTENCY_KEY = 128
# A frontend's clock may be off, and a queued event may be sent late; beyond this, refused.
MAX_CLOCK_AHEAD = timedelta(minutes=10)
MAX_CLOCK_BEHIND = timedelta(days=7)
# Two views of one listing by one visitor within this window are one view.
VIEW_WINDOW = timedelta(minutes=30)
PROPERTY_VIEW = "Property View"
USER_REGISTRATION = "User Registration"
# The tour events the rollups count, each tour once per step (its first event of the step).
TOUR_STEPS = frozenset(FUNNEL[1:] + OUTCOMES)
# The events that make a signed-in user an active buyer of the platform's figures (not on
# their own listing), and the platform's daily measure of the video meetings' durations.
BUYING = frozenset({PROPERTY_VIEW, "Tour Booking", "Tour Requested"})
VIDEO_SECONDS = "video seconds"
# Rollups are keyed by realtor; a view of a listing whose realtor is not known yet waits
# under this id until the listing arrives.
NOBODY = uuid.UUID(int=0)

# Fixed namespaces: the same inputs give the same ids on every replica, forever.
_CLIENT_IDS = uuid.UUID("6f1c4a52-3d0e-4c7b-9a55-0c1f1d2b7e01")
_REGISTRATIONS = uuid.UUID("6f1c4a52-3d0e-4c7b-9a55-0c1f1d2b7e02")


@dataclass(slots=True)
class Recorded:
    """One event of the tracking plan as analytics stores it.

    `id` is the source event's id for events from the streams, and derived from the
    client's own id (or random) for events from a frontend: storing the same id twice
    changes nothing.
    """

    id: uuid.UUID
    name: str
    occurred_at: datetime
    source: str
    user_id: uuid.UUID | None = None
    anonymous_id: str | None = None
    listing_id: uuid.UUID | None = None
    realtor_id: uuid.UUID | None = None
    tour_id: uuid.UUID | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def counted_view(self) -> bool:
        """A Property View of a listing: one more view in the listing's rollups."""
        return self.name == PROPERTY_VIEW and self.listing_id is not None

    @property
    def tour_step(self) -> bool:
        """A step of a tour the rollups count (once per tour and step)."""
        return (
            self.name in TOUR_STEPS
            and self.tour_id is not None
            and self.realtor_id is not None
            and self.listing_id is not None
        )

    @property
    def reason(self) -> str:
        """The reason an outcome gives ('' when none), as the rollups group it."""
        value = self.properties.get("reason")
        return value if isinstance(value, str) else ""

    @property
    def visitor(self) -> str | None:
        """Who a view is counted for: the user when known, else the anonymous visitor."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"anon:{self.anonymous_id}" if self.anonymous_id else None


@dataclass(frozen=True, slots=True)
class ListingFacts:
    """What analytics keeps of a listing: whose it is and its zone."""

    id: uuid.UUID
    realtor_id: uuid.UUID
    time_zone: str


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What analytics keeps of a user: their zone."""

    id: uuid.UUID
    time_zone: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """What one event from the streams tells analytics."""

    recorded: Recorded | None = None
    listing: ListingFacts | None = None
    person: PersonFacts | None = None
    deleted_user: uuid.UUID | None = None


def erasure_subjects(
    destination: str, user_id: uuid.UUID, anonymous_ids: list[str]
) -> list[tuple[str, str]]:
    """Every identifier a destination may hold a deleted user's data under, as sent by the
    forwarders: Mixpanel's distinct ids (the user, the visitor ids joined to them); GA4's
    user id and client ids (the web's visitor ids, and the one derived from the user)."""
    if destination == "mixpanel":
        return [("distinct_id", str(user_id)), *(("distinct_id", a) for a in anonymous_ids)]
    clients = [*anonymous_ids, f"server.{user_id}"]
    return [("USER_ID", str(user_id)), *(("CLIENT_ID", c) for c in clients)]


# Price buckets of a Property View, in major units of the listing's currency.
_PRICE_BUCKETS = ((100_000, "<100k"), (250_000, "100k-250k"), (500_000, "250k-500k"),
                  (750_000, "500k-750k"), (1_000_000, "750k-1M"), (2_000_000, "1M-2M"))  # fmt: skip


def price_range(price_cents: int, currency: str) -> str | None:
    """The bucket a listing's price falls in, with its currency ("500k-750k USD"); None for
    a listing without a price."""
    if price_cents <= 0:
        return None
    major = price_cents / 100
    bucket = next((name for top, name in _PRICE_BUCKETS if major < top), "2M+")
    return f"{bucket} {currency}".strip()


def location(*parts: str) -> str | None:
    """Where a home is, as a Property View carries it: "Austin, TX, US"."""
    return ", ".join(p for p in parts if p) or None


def registration_id(user_id: uuid.UUID) -> uuid.UUID:
    """One User Registration per user, whether identity's event or the web's arrives first."""
    return uuid.uuid5(_REGISTRATIONS, str(user_id))


def client_event_id(sender: str, supplied: str | None) -> uuid.UUID:
    """The stored id of a frontend's event: the sender's own id scoped to the sender (two
    visitors choosing the same id never collide), or a fresh one when it sent none."""
    if supplied is None:
        return uuid.uuid4()
    return uuid.uuid5(_CLIENT_IDS, f"{sender}\x1f{supplied}")


def counts_as_view(last_counted: datetime | None, at: datetime) -> bool:
    """A view counts unless the visitor's last counted view of the listing is this close."""
    return last_counted is None or abs(at - last_counted) >= VIEW_WINDOW


def check_anonymous_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_ANONYMOUS_ID or not value.isprintable():
        raise BadUserInput(
            f"anonymousId must be 1 to {MAX_ANONYMOUS_ID} printable characters",
            field="input.anonymousId",
        )
    return value


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_IDEMPOTENCY_KEY or not value.isprintable():
        raise BadUserInput(
            f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            field="input.idempotencyKey",
        )
    return value


def check_time(occurred_at: datetime | None, now: datetime) -> datetime:
    """When the event happened: the frontend's time when plausible, else refused."""
    if occurred_at is None:
        return now
    if occurred_at.tzinfo is None:
        raise BadUserInput("occurredAt needs a time zone offset", field="input.occurredAt")
    if occurred_at > now + MAX_CLOCK_AHEAD or occurred_at < now - MAX_CLOCK_BEHIND:
        raise BadUserInput(
            "occurredAt must be within the last 7 days (and not in the future)",
            field="input.occurredAt",
        )
    return occurred_at


def planned_for_client(name: str) -> PlannedEvent:
    """The plan's entry for an event a frontend sends; anything else is refused by name."""
    planned = PLAN.get(name)
    if planned is None or not planned.from_client:
        raise BadUserInput(
            f"unknown event {name[:64]!r}; a frontend may send: {', '.join(CLIENT_EVENTS)}",
            field="input.name",
            allowed=list(CLIENT_EVENTS),
        )
    return planned


def check_properties(planned: PlannedEvent, properties: object) -> dict[str, Any]:
    """The properties a frontend sent, checked key by key against the plan."""
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise BadUserInput("properties must be a JSON object", field="input.properties")
    allowed = {k: p for k, p in planned.properties.items() if p.client}
    if len(properties) > MAX_PROPERTIES:
        raise BadUserInput(f"at most {MAX_PROPERTIES} properties", field="input.properties")
    checked: dict[str, Any] = {}
    for key, value in properties.items():
        where = f"input.properties.{str(key)[:64]}"
        spec = allowed.get(key)
        if spec is None:
            names = ", ".join(f"{k} ({p.type.value})" for k, p in allowed.items()) or "none"
            raise BadUserInput(
                f"{planned.name} has no property {str(key)[:64]!r}; allowed: {names}",
                field=where,
                allowed=sorted(allowed),
            )
        if value is None:
            continue
        checked[key] = _value(spec, value, where)
    if len(json.dumps(checked, separators=(",", ":"))) > MAX_PROPERTIES_BYTES:
        raise BadUserInput(
            f"properties must serialise to at most {MAX_PROPERTIES_BYTES} bytes",
            field="input.properties",
        )
    return checked


def _wrong(spec: Property, where: str, detail: str = "") -> BadUserInput:
    return BadUserInput(
        f"{where.removeprefix('input.properties.')} must be {spec.type.value}{detail}",
        field=where,
        expected=spec.type.value,
    )


def _string(spec: Property, value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _wrong(spec, where)
    if len(value) > MAX_STRING:
        raise _wrong(spec, where, f" of at most {MAX_STRING} characters")
    return value


def _number(spec: Property, value: object, where: str, *, integer: bool) -> float | int:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok:
        raise _wrong(spec, where)
    assert isinstance(value, int | float)
    if not math.isfinite(value):
        raise _wrong(spec, where, " (finite)")
    low = -math.inf if spec.minimum is None else spec.minimum
    high = math.inf if spec.maximum is None else spec.maximum
    if not low <= value <= high:
        raise _wrong(spec, where, f" between {low:g} and {high:g}")
    return value


def _value(spec: Property, value: object, where: str) -> Any:
    kind = spec.type
    if kind is PropertyType.STRING:
        return _string(spec, value, where)
    if kind in (PropertyType.INTEGER, PropertyType.NUMBER):
        return _number(spec, value, where, integer=kind is PropertyType.INTEGER)
    if kind is PropertyType.BOOLEAN:
        if not isinstance(value, bool):
            raise _wrong(spec, where)
        return value
    if kind is PropertyType.DATETIME:
        text = _string(spec, value, where)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _wrong(spec, where, " (ISO 8601 with an offset)") from None
        if parsed.tzinfo is None:
            raise _wrong(spec, where, " (ISO 8601 with an offset)")
        return parsed.isoformat()
    if kind is PropertyType.STRING_LIST:
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise _wrong(spec, where, f" with at most {MAX_LIST} items")
        return [_string(spec, item, where) for item in value]
    if not isinstance(value, Mapping) or len(value) > MAX_ANSWERS:
        raise _wrong(spec, where, f" (an object of at most {MAX_ANSWERS} answers)")
    answers: dict[str, Any] = {}
    for key, answer in value.items():
        if not isinstance(key, str) or len(key) > 64:
            raise _wrong(spec, where, " (keys of at most 64 characters)")
        if isinstance(answer, str):
            answers[key] = _string(spec, answer, f"{where}.{key}")
        elif isinstance(answer, bool | int | float) and (
            isinstance(answer, bool) or math.isfinite(answer)
        ):
            answers[key] = answer
        else:
            raise _wrong(spec, f"{where}.{key}", " (a string, number or boolean answer)")
    return answers


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """What a frontend sends through `trackEvent`, before any checking."""

    name: str
    properties: object = None
    listing_id: uuid.UUID | None = None
    anonymous_id: str | None = None
    occurred_at: datetime | None = None
    idempotency_key: str | None = None


def client_event(command: TrackEvent, user_id: uuid.UUID | None, now: datetime) -> Recorded:
    """The event a frontend's `trackEvent` records, every rule of the plan applied."""
    planned = planned_for_client(command.name)
    anonymous_id = check_anonymous_id(command.anonymous_id)
    if user_id is None and anonymous_id is None:
        raise BadUserInput("sign in, or send the visitor's anonymousId", field="input.anonymousId")
    if planned.needs_listing and command.listing_id is None:
        raise BadUserInput(f"{planned.name} needs listingId", field="input.listingId")
    properties = check_properties(planned, command.properties)
    supplied = check_idempotency_key(command.idempotency_key)
    sender = f"user:{user_id}" if user_id is not None else f"anon:{anonymous_id}"
    return Recorded(
        id=registration_id(user_id)
        if planned.name == USER_REGISTRATION and user_id is not None
        else client_event_id(sender, supplied),
        name=planned.name,
        occurred_at=check_time(command.occurred_at, now),
        source="client",
        user_id=user_id,
        anonymous_id=anonymous_id,
        listing_id=command.listing_id,
        properties=properties,
    )
