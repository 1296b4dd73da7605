"""The rules of accounts: what a valid user is, how it changes, and what that announces.

Plain Python on purpose (no database, GraphQL or protobuf types): the `User` aggregate
validates every change itself and records domain events on itself; the use cases in
`service.py` persist it and turn the events into outbox messages.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from servicekit.auth import Role
from servicekit.errors import BadUserInput, Forbidden

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
URL_MAX = 2048
LICENSE_MAX = 64
BROKERAGE_MAX = 200
BIO_MAX = 4000
TOMBSTONE_NAME = "Deleted user"

_EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")


# -- values --------------------------------------------------------------------------------
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


def _clean_text(raw: str, *, name: str, maximum: int, minimum: int = 0) -> str:
    value = unicodedata.normalize("NFC", raw).strip()
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise BadUserInput(f"{name} contains control characters", field=name)
    if len(value) < minimum:
        raise BadUserInput(f"{name} is required", field=name)
    if len(value) > maximum:
        raise BadUserInput(f"{name} must be at most {maximum} characters", field=name)
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


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def clean_time_zone(raw: str) -> str:
    """An IANA zone name known to this system (`Europe/Paris`, `UTC`)."""
    value = raw.strip()
    if value not in _zones():
        raise BadUserInput("timeZone must be an IANA time zone name", field="timeZone")
    return value


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


def _optional_text(raw: str | None, *, name: str, maximum: int) -> str | None:
    if raw is None:
        return None
    value = _clean_text(raw, name=name, maximum=maximum)
    return value or None


# -- the aggregate ---------------------------------------------------------------------------
@dataclass
class RealtorProfile:
    license_number: str | None = None
    brokerage: str | None = None
    bio: str | None = None
    verified: bool = False


@dataclass(frozen=True)
class RealtorProfileChanges:
    """Fields given are replaced (an empty string clears one); None leaves it as it is."""

    license_number: str | None = None
    brokerage: str | None = None
    bio: str | None = None


@dataclass(frozen=True)
class ProfileChanges:
    display_name: str | None = None
    phone: str | None = None
    avatar_url: str | None = None
    time_zone: str | None = None
    realtor: RealtorProfileChanges | None = None


@dataclass(frozen=True)
class UserRegistered:
    user_id: uuid.UUID
    role: Role
    display_name: str
    time_zone: str
    at: datetime


@dataclass(frozen=True)
class UserUpdated:
    user_id: uuid.UUID


@dataclass(frozen=True)
class UserEmailVerified:
    user_id: uuid.UUID


@dataclass(frozen=True)
class UserDeleted:
    user_id: uuid.UUID
    at: datetime


DomainEvent = UserRegistered | UserUpdated | UserEmailVerified | UserDeleted


@dataclass
class User:
    id: uuid.UUID
    email: str | None
    role: Role
    display_name: str
    time_zone: str
    password_hash: str | None
    created_at: datetime
    updated_at: datetime
    phone: str | None = None
    avatar_url: str | None = None
    email_verified_at: datetime | None = None
    realtor: RealtorProfile | None = None
    deleted_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def register(
        cls,
        *,
        email: str,
        role: Role,
        display_name: str,
        time_zone: str,
        phone: str | None,
        password_hash: str,
        now: datetime,
        by_operator: bool = False,
    ) -> User:
        """A new account. ADMIN accounts come only from the operator's command."""
        if role is Role.ADMIN and not by_operator:
            raise Forbidden("ADMIN accounts cannot be self-registered")
        user = cls(
            id=uuid.uuid4(),
            email=normalize_email(email),
            role=role,
            display_name=clean_display_name(display_name),
            time_zone=clean_time_zone(time_zone),
            phone=clean_phone(phone),
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
            realtor=RealtorProfile() if role is Role.REALTOR else None,
        )
        user.events.append(
            UserRegistered(user.id, user.role, user.display_name, user.time_zone, now)
        )
        return user

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def _require_active(self) -> None:
        if self.is_deleted:
            raise Forbidden("this account has been deleted")

    def update_profile(self, changes: ProfileChanges, now: datetime) -> None:
        self._require_active()
        if changes.display_name is not None:
            self.display_name = clean_display_name(changes.display_name)
        if changes.phone is not None:
            self.phone = clean_phone(changes.phone)
        if changes.avatar_url is not None:
            self.avatar_url = clean_url(changes.avatar_url, name="avatarUrl")
        if changes.time_zone is not None:
            self.time_zone = clean_time_zone(changes.time_zone)
        if changes.realtor is not None:
            if self.role is not Role.REALTOR or self.realtor is None:
                raise BadUserInput("only realtors have a realtor profile", field="realtorProfile")
            r = changes.realtor
            if r.license_number is not None:
                self.realtor.license_number = _optional_text(
                    r.license_number, name="licenseNumber", maximum=LICENSE_MAX
                )
                self.realtor.verified = False  # a new licence must be checked again
            if r.brokerage is not None:
                self.realtor.brokerage = _optional_text(
                    r.brokerage, name="brokerage", maximum=BROKERAGE_MAX
                )
            if r.bio is not None:
                self.realtor.bio = _optional_text(r.bio, name="bio", maximum=BIO_MAX)
        self._touched(now)

    def verify_email(self, now: datetime) -> bool:
        """Mark the address verified; False when it already was (nothing happens)."""
        self._require_active()
        if self.email_verified_at is not None:
            return False
        self.email_verified_at = now
        self.updated_at = now
        self.events.append(UserEmailVerified(self.id))
        return True

    def set_password_hash(self, password_hash: str, now: datetime) -> None:
        self._require_active()
        self.password_hash = password_hash
        self.updated_at = now

    def set_role(self, role: Role, now: datetime) -> bool:
        """Change between BUYER and REALTOR (ADMIN is granted only by the operator)."""
        self._require_active()
        if role is Role.ADMIN or self.role is Role.ADMIN:
            raise Forbidden("the ADMIN role is managed by the operator command")
        if role is self.role:
            return False
        self.role = role
        if role is Role.REALTOR and self.realtor is None:
            self.realtor = RealtorProfile()
        self._touched(now)
        return True

    def set_realtor_verified(self, verified: bool, now: datetime) -> bool:
        self._require_active()
        if self.role is not Role.REALTOR or self.realtor is None:
            raise BadUserInput("only realtors can be verified", field="userId")
        if self.realtor.verified is verified:
            return False
        self.realtor.verified = verified
        self._touched(now)
        return True

    def erase(self, now: datetime) -> None:
        """Forget everything personal; keep an anonymous tombstone with the same id."""
        self._require_active()
        self.email = None
        self.display_name = TOMBSTONE_NAME
        self.phone = None
        self.avatar_url = None
        self.time_zone = "UTC"
        self.password_hash = None
        self.email_verified_at = None
        self.realtor = RealtorProfile() if self.role is Role.REALTOR else None
        self.deleted_at = now
        self.updated_at = now
        self.events.append(UserDeleted(self.id, now))

    def _touched(self, now: datetime) -> None:
        self.updated_at = now
        if not any(isinstance(e, UserUpdated) for e in self.events):
            self.events.append(UserUpdated(self.id))
