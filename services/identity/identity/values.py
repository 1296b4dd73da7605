"""The values of an account, each cleaned to one canonical form or refused with
BAD_USER_INPUT naming its input: email addresses, display names, IANA zones, phone numbers,
URLs, realtor-profile text. Pure, like the domain that uses them (stdlib and
`servicekit.vocabulary` only)."""

from __future__ import annotations

import re
import unicodedata

from servicekit import values
from servicekit.vocabulary import BadUserInput

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
URL_MAX = 2048
LICENSE_MAX = 64
BROKERAGE_MAX = 200
BIO_MAX = 4000

_EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")


def normalize_email(raw: str) -> str:
    """The canonical form of an address (trimmed, lower-cased, IDNA domain), or BAD_USER_INPUT.

    Addresses are compared case-insensitively everywhere, so the stored form is lower case.
    """
    value = raw.strip()
    if len(value) > EMAIL_MAX:
        raise BadUserInput(f"email must be at most {EMAIL_MAX} characters", field="email")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise BadUserInput("email is not a valid address", field="email")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadUserInput("email is not a valid address", field="email") from None
    email = f"{local}@{domain}".lower()
    if len(local) > 64 or not _EMAIL.match(email) or ".." in local:
        raise BadUserInput("email is not a valid address", field="email")
    return email


def _clean_text(
    raw: str, *, name: str, maximum: int, minimum: int = 0, field: str | None = None
) -> str:
    """NFC, trimmed, no control characters but newline and tab; `field` defaults to `name`."""
    where = field or name
    value = unicodedata.normalize("NFC", raw).strip()
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise BadUserInput(f"{name} contains control characters", field=where)
    if len(value) < minimum:
        raise BadUserInput(f"{name} is required", field=where)
    if len(value) > maximum:
        raise BadUserInput(f"{name} must be at most {maximum} characters", field=where)
    return value


def clean_display_name(raw: str) -> str:
    value = " ".join(_clean_text(raw, name="displayName", maximum=DISPLAY_NAME_MAX * 4).split())
    if "\n" in value or not value:
        raise BadUserInput("displayName is required", field="displayName")
    if len(value) > DISPLAY_NAME_MAX:
        raise BadUserInput(
            f"displayName must be at most {DISPLAY_NAME_MAX} characters", field="displayName"
        )
    return value


def clean_time_zone(raw: str) -> str:
    """An IANA zone name of a place (`Europe/Paris`, `UTC`): servicekit's one rule."""
    return values.time_zone(raw, "timeZone")


def clean_phone(raw: str | None) -> str | None:
    """E.164 (`+14155550100`); separators are accepted and dropped; empty clears it."""
    if raw is None or not raw.strip():
        return None
    value = _PHONE_SEPARATORS.sub("", raw.strip())
    if not _PHONE.match(value):
        raise BadUserInput("phone must be an international number like +14155550100", field="phone")
    return value


def clean_url(raw: str | None, *, name: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if len(value) > URL_MAX:
        raise BadUserInput(f"{name} must be at most {URL_MAX} characters", field=name)
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise BadUserInput(f"{name} must be an http(s) URL", field=name)
    return value


def realtor_text(raw: str | None, *, name: str, maximum: int) -> str | None:
    """A realtor-profile field (`realtorProfile.<name>` in errors); empty clears it."""
    if raw is None:
        return None
    value = _clean_text(raw, name=name, maximum=maximum, field=f"realtorProfile.{name}")
    return value or None
