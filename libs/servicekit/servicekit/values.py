"""Input values every service accepts the same way: zone names, text, instants, integers.

Pure (stdlib and the vocabulary only), so domains use these rules directly. Each check turns
what PostgreSQL or the standard library would choke on later — a NUL byte, a zone name
that is a directory, an instant that overflows when moved to UTC, an integer past what a
column holds — into BAD_USER_INPUT naming the field, before anything is stored.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from servicekit.vocabulary import BadUserInput

MAX_ZONE_NAME = 64
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# Names the tz database ships that are not places a person lives in.
_NOT_ZONES = frozenset({"Factory", "posixrules", "localtime", "posix", "right"})


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(
        z
        for z in available_timezones()
        if z not in _NOT_ZONES and not z.startswith(("posix/", "right/"))
    )


def is_time_zone(name: str) -> bool:
    """True for an IANA zone name of a place (`Europe/Paris`, `UTC`)."""
    return len(name) <= MAX_ZONE_NAME and name in _zones()


def time_zone(raw: str, field: str = "timeZone") -> str:
    """An IANA zone name of a place, or BAD_USER_INPUT naming `field`."""
    value = raw.strip()
    if not is_time_zone(value):
        raise BadUserInput(
            f"{field} must be an IANA time zone name such as Europe/Paris", field=field
        )
    return value


def zone_info(name: str, field: str = "timeZone") -> ZoneInfo:
    """The zone itself (names are checked first: a directory or a stray file never loads)."""
    return ZoneInfo(time_zone(name, field))


def text(raw: str, field: str, *, max_length: int, multiline: bool = True) -> str:
    """Text PostgreSQL can store: no NUL, no lone surrogates, no control characters other
    than tab and line breaks (none at all when not `multiline`), at most `max_length`."""
    if len(raw) > max_length:
        raise BadUserInput(f"{field} must be at most {max_length} characters", field=field)
    allowed = "\t\n\r" if multiline else ""
    for char in raw:
        category = unicodedata.category(char)
        if category == "Cs" or (category == "Cc" and char not in allowed):
            raise BadUserInput(f"{field} contains a character that is not allowed", field=field)
    return raw


def instant(value: datetime, field: str) -> datetime:
    """A timezone-aware instant as UTC; one without an offset, or outside the years
    1–9999 once in UTC (e.g. `0001-01-01T00:00:00+05:00`), is BAD_USER_INPUT."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadUserInput(f"{field} must carry a UTC offset", field=field)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadUserInput(
            f"{field} is outside the supported range of dates", field=field
        ) from None


def integer(value: int, field: str, *, minimum: int = INT32[0], maximum: int = INT32[1]) -> int:
    """An integer within [minimum, maximum] (by default what a PostgreSQL `integer` holds)."""
    if not minimum <= value <= maximum:
        raise BadUserInput(f"{field} must be between {minimum} and {maximum}", field=field)
    return value
