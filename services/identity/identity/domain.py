"""The rules of accounts: what a valid user is, how it changes, who may do what, and what
that announces.

Plain Python on purpose (the stdlib and `servicekit.vocabulary` only): the `User` aggregate
validates every change itself and records domain events on itself; the unit of work that
stored it writes those events to the outbox (through `events.outgoing`). Who may see a
user's private fields and who may manage accounts are rules here too, so the subgraph and
the gRPC API answer the same way.

The values of an account (email, names, zones, phones) are cleaned by `values.py`. Fields
named in errors are the input's names as the API spells them (`displayName`,
`realtorProfile.bio`); an adapter that nests them under an argument adds its prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from servicekit.vocabulary import (
    BadUserInput,
    Forbidden,
    NotFound,
    Principal,
    Role,
    Unauthenticated,
)

from identity.values import (
    BIO_MAX,
    BROKERAGE_MAX,
    LICENSE_MAX,
    clean_display_name,
    clean_phone,
    clean_time_zone,
    clean_url,
    normalize_email,
    realtor_text,
)

TOMBSTONE_NAME = "Deleted user"
TOMBSTONE_TIME_ZONE = "UTC"


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


class RevokeReason(StrEnum):
    """Why sessions ended: stored with each session and announced with its revocation."""

    LOGOUT = "logout"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    ACCOUNT_DELETED = "account_deleted"


@dataclass(frozen=True)
class SessionRevoked:
    """A session ended before its tokens expired: its access tokens must stop working
    everywhere, not only its refresh token here."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    at: datetime
    reason: RevokeReason


DomainEvent = UserRegistered | UserUpdated | UserEmailVerified | UserDeleted | SessionRevoked


# -- who may do what --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InternalService:
    """A platform service calling over gRPC, already admitted by the method's allow-list
    (`rpc.ACCESS`). One admitted to mail people reads contact details to reach the user,
    whoever it acts for, so it sees what the user would; any other (listings, showing a
    realtor's public profile on its pages) sees the public fields only."""

    name: str
    reaches_people: bool = True


Viewer = Principal | InternalService | None
"""Who asks to see a user: a signed-in person, an internal service, or nobody (anonymous)."""


@dataclass(frozen=True, slots=True)
class PrivateFields:
    """What belongs to the user: how to reach them and their own settings."""

    email: str
    phone: str | None
    time_zone: str
    email_verified: bool


def can_see_private_fields(user: User, viewer: Viewer) -> bool:
    """Email, phone, time zone and verification state are the user's own: visible to the user
    themselves, to admins (who may see any user's data) and to the internal services admitted
    to mail people. Everything else about a user is public."""
    match viewer:
        case InternalService():
            return viewer.reaches_people
        case Principal():
            return viewer.is_admin or viewer.user_id == user.id
        case _:
            return False


def require_account_manager(who: Principal) -> None:
    """Changing a user's role or realtor verification, and reading the directory of
    accounts, are for admins only (FORBIDDEN otherwise)."""
    who.require_role(Role.ADMIN)


def require_live_account(user: User | None) -> User:
    """The caller's own account: a valid token of an erased (or unknown) account
    authenticates nobody (UNAUTHENTICATED)."""
    if user is None or user.is_deleted:
        raise Unauthenticated("this account no longer exists")
    return user


def require_visible(private: PrivateFields | None) -> PrivateFields:
    """An erased account has no private fields left: NOT_FOUND to whoever may ask."""
    if private is None:
        raise NotFound("this account has been deleted")
    return private


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
    erasure_confirmed_at: datetime | None = None
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
                self.realtor.license_number = realtor_text(
                    r.license_number, name="licenseNumber", maximum=LICENSE_MAX
                )
                self.realtor.verified = False  # a new licence must be checked again
            if r.brokerage is not None:
                self.realtor.brokerage = realtor_text(
                    r.brokerage, name="brokerage", maximum=BROKERAGE_MAX
                )
            if r.bio is not None:
                self.realtor.bio = realtor_text(r.bio, name="bio", maximum=BIO_MAX)
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

    def sessions_revoked(
        self, session_ids: Iterable[uuid.UUID], now: datetime, reason: RevokeReason
    ) -> None:
        """Announce that these sessions of the account ended. Each is announced by its own
        id: every access token names its session (`sid`), so refusing the ids refuses
        exactly the tokens that must stop, while a session kept alive (the caller's own, on
        a password change) and every session opened later keep working. An erased account
        needs none of this: its deletion refuses all its tokens at once."""
        if self.is_deleted:
            return
        self.events.extend(SessionRevoked(self.id, sid, now, reason) for sid in session_ids)

    def private_fields(self, viewer: Viewer) -> PrivateFields | None:
        """The fields only some may see (`can_see_private_fields`), or FORBIDDEN; None when
        the account is erased and has none left."""
        if not can_see_private_fields(self, viewer):
            raise Forbidden("only the user and admins can see this field")
        if self.is_deleted or self.email is None:
            return None
        return PrivateFields(self.email, self.phone, self.time_zone, self.email_verified)

    def set_role(self, role: Role, now: datetime, *, by: Principal) -> bool:
        """Change between BUYER and REALTOR (ADMIN is granted only by the operator)."""
        require_account_manager(by)
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

    def set_realtor_verified(self, verified: bool, now: datetime, *, by: Principal) -> bool:
        require_account_manager(by)
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
        self.time_zone = TOMBSTONE_TIME_ZONE
        self.password_hash = None
        self.email_verified_at = None
        self.realtor = RealtorProfile() if self.role is Role.REALTOR else None
        self.deleted_at = now
        self.updated_at = now
        self.events.append(UserDeleted(self.id, now))

    def confirm_erasure(self, now: datetime) -> bool:
        """Announce the erasure once more, as the same fact (same deletion time), once no
        token of the account can still be accepted anywhere: a service that swept the
        account's data on the first announcement but still accepted one of its tokens for
        a moment (its revocation list not updated yet) sweeps what was made meanwhile.
        False when there is nothing to confirm."""
        if self.deleted_at is None or self.erasure_confirmed_at is not None:
            return False
        self.erasure_confirmed_at = now
        self.events.append(UserDeleted(self.id, self.deleted_at))
        return True

    def _touched(self, now: datetime) -> None:
        self.updated_at = now
        if not any(isinstance(e, UserUpdated) for e in self.events):
            self.events.append(UserUpdated(self.id))
