"""How a recorded event leaves for Mixpanel and GA4: each destination's shape and limits,
what one attempt's result means, and when a failed delivery is tried again.

Pure Python: the HTTP clients (`mixpanel.py`, `ga4.py`) send what these functions build and
report a `Result`; the store applies it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from analytics.domain import Recorded

MIXPANEL = "mixpanel"
GA4 = "ga4"
MIXPANEL_BATCH = 2000  # /import's limit per request
GA4_BATCH = 25  # Measurement Protocol's limit of events per request
# A delivery failing for reasons not its own (429, 5xx, the network) is retried this often,
# waiting twice as long each time, then recorded as given up.
MAX_ATTEMPTS = 12
FIRST_WAIT = timedelta(seconds=5)
LONGEST_WAIT = timedelta(hours=1)

GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
GA4_MAX_PARAMS = 25
GA4_MAX_VALUE = 100
GA4_RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")


@dataclass(slots=True)
class Result:
    """One attempt: what the destination took, what it refused for good (and why), and,
    when it could not take the rest now, how long it asked us to wait (None: no advice)."""

    sent: list[uuid.UUID] = field(default_factory=list)
    rejected: dict[uuid.UUID, str] = field(default_factory=dict)
    retry: list[uuid.UUID] = field(default_factory=list)
    retry_after: float | None = None


def wait_before(attempts: int, advised: float | None = None) -> timedelta:
    """How long a delivery that failed `attempts` times waits (the destination's advice wins
    when longer)."""
    wait: timedelta = min(FIRST_WAIT * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
    if advised is not None:
        wait = max(wait, timedelta(seconds=advised))
    return wait


def distinct_id(event: Recorded) -> str:
    """Mixpanel's distinct_id: the user, else the anonymous visitor, else nobody (empty)."""
    if event.user_id is not None:
        return str(event.user_id)
    return event.anonymous_id or ""


def mixpanel_record(event: Recorded) -> dict[str, Any]:
    """One /import record: `time` in ms, `$insert_id` our id (Mixpanel's dedupe key)."""
    properties: dict[str, Any] = {
        **event.properties,
        "time": int(event.occurred_at.timestamp() * 1000),
        "distinct_id": distinct_id(event),
        "$insert_id": str(event.id),
    }
    if event.anonymous_id:
        properties["$device_id"] = event.anonymous_id
    if event.user_id is not None:
        properties["$user_id"] = str(event.user_id)
    for key, value in (
        ("listing_id", event.listing_id),
        ("realtor_id", event.realtor_id),
        ("tour_id", event.tour_id),
    ):
        if value is not None:
            properties[key] = str(value)
    return {"event": event.name, "properties": properties}


def _snake(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").lower()


def ga4_event(event: Recorded) -> dict[str, Any] | str:
    """The Measurement Protocol event for `event`, or why GA4 cannot take it whole.

    Names become snake_case (`Property View` -> `property_view`); lists are joined with
    commas and feedback answers become `answer_<question>` parameters. Nothing is cut: a
    value or name past GA4's limits makes the event a rejection with the reason.
    """
    name = _snake(event.name)
    params: dict[str, Any] = {}
    for key, value in event.properties.items():
        if isinstance(value, dict):
            for question, answer in value.items():
                params[f"answer_{_snake(question)}"] = answer
        elif isinstance(value, list):
            params[_snake(key)] = ",".join(str(v) for v in value)
        else:
            params[_snake(key)] = value
    for key, value in (("listing_id", event.listing_id), ("tour_id", event.tour_id)):
        if value is not None:
            params[key] = str(value)
    if not GA4_NAME.match(name):
        return f"event name {name!r} is not a GA4 name (a letter, then 39 letters, digits or _)"
    if len(params) > GA4_MAX_PARAMS:
        return f"{len(params)} parameters; GA4 takes {GA4_MAX_PARAMS}"
    for key, value in params.items():
        if not GA4_NAME.match(key) or key.startswith(GA4_RESERVED_PREFIXES):
            return f"parameter {key!r} is not a GA4 parameter name"
        if isinstance(value, str) and len(value) > GA4_MAX_VALUE:
            return f"parameter {key!r} is {len(value)} characters; GA4 takes {GA4_MAX_VALUE}"
    return {"name": name, "params": params}


def ga4_identity(event: Recorded) -> tuple[str, str | None]:
    """(client_id, user_id) of a GA4 request: the web's own visitor id when it sent one, else
    one derived from the user (GA4 needs a client_id); the user id whenever known."""
    user = str(event.user_id) if event.user_id is not None else None
    if event.anonymous_id:
        return event.anonymous_id, user
    return f"server.{user or event.id}", user
