"""The words every domain speaks: error codes and errors, roles, the principal.

This module imports the standard library only, so a service's `domain.py` can use it and
stay pure: `import identity.domain` loads no database driver, gRPC, HTTP client or JWT
library. Mapping these errors to GraphQL `extensions` and gRPC status codes happens at the
edges (`servicekit.graphql`, `servicekit.errors`, `servicekit.grpc`).

What ADMIN may do is decided here once, and every domain follows it: an admin passes every
role requirement (`Principal.require_role`) and every "owner or participant" rule (a domain
writes `who.is_admin or …`), so an admin may see and manage any user's data. An admin never
becomes a party: the acts that make the caller the buyer of a tour, the realtor of a listing
or the owner of an availability (`requestTour`, `createListing`, `setAvailability`) require
exactly that role (`Principal.require_exact_role`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ServiceError(Exception):
    """An expected failure whose message is safe to show to the caller.

    `field` names the offending input by its dotted path in the operation
    (`input.address.postalCode`, `id`); it leaves as `extensions.field` in every service.
    """

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code.value}
        if self.field is not None:
            extensions["field"] = self.field
        extensions.update(self.details)
        return extensions


class Unauthenticated(ServiceError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(ServiceError):
    code = ErrorCode.FORBIDDEN


class BadUserInput(ServiceError):
    code = ErrorCode.BAD_USER_INPUT


class NotFound(ServiceError):
    code = ErrorCode.NOT_FOUND


class Conflict(ServiceError):
    code = ErrorCode.CONFLICT


class RateLimited(ServiceError):
    code = ErrorCode.RATE_LIMITED


class Unavailable(ServiceError):
    """A dependency (another service, a broker) cannot be reached right now."""

    code = ErrorCode.UNAVAILABLE


ERRORS: dict[ErrorCode, type[ServiceError]] = {
    cls.code: cls
    for cls in (
        Unauthenticated,
        Forbidden,
        BadUserInput,
        NotFound,
        Conflict,
        RateLimited,
        Unavailable,
    )
}


def error_for(code: ErrorCode | str, message: str) -> ServiceError:
    """The exception for a code (used when decoding remote errors)."""
    try:
        known = ErrorCode(code)
    except ValueError:
        known = ErrorCode.INTERNAL_SERVER_ERROR
    return ERRORS.get(known, ServiceError)(message)


def parse_id(value: object, field: str = "id") -> uuid.UUID:
    """An ID input as a UUID; anything else is the caller's mistake (BAD_USER_INPUT)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(f"{field} is not a valid ID", field=field) from None


class Role(StrEnum):
    BUYER = "BUYER"
    REALTOR = "REALTOR"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    user_id: uuid.UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_role(self, *roles: Role) -> None:
        """FORBIDDEN unless the caller holds one of `roles`; ADMIN always passes."""
        if self.role not in roles and not self.is_admin:
            raise Forbidden(f"requires role {' or '.join(r.value for r in roles)}")

    def require_exact_role(self, role: Role) -> None:
        """FORBIDDEN unless the caller holds `role` itself: the acts that make them a party."""
        if self.role is not role:
            raise Forbidden(f"only a {role.value.lower()} may do this")


def require_principal(principal: Principal | None) -> Principal:
    """UNAUTHENTICATED for an anonymous caller."""
    if principal is None:
        raise Unauthenticated("authentication required")
    return principal
