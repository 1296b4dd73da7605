"""The error vocabulary every edge speaks.

Inside a service, rules raise `ServiceError` subclasses; the GraphQL layer turns them into
`extensions.code`, the gRPC layer into status codes, and gRPC clients turn status codes back
into the same exceptions. Anything else becomes INTERNAL_SERVER_ERROR with no details.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, ClassVar

import grpc


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
    """An expected failure whose message is safe to show to the caller."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code.value, **self.details}


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


_ERRORS: dict[ErrorCode, type[ServiceError]] = {
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

GRPC_STATUS: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.BAD_USER_INPUT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.CONFLICT: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.INTERNAL_SERVER_ERROR: grpc.StatusCode.INTERNAL,
}

_FROM_GRPC: dict[grpc.StatusCode, ErrorCode] = {v: k for k, v in GRPC_STATUS.items()}
_FROM_GRPC[grpc.StatusCode.DEADLINE_EXCEEDED] = ErrorCode.UNAVAILABLE
_FROM_GRPC[grpc.StatusCode.FAILED_PRECONDITION] = ErrorCode.BAD_USER_INPUT


def parse_id(value: object, argument: str = "id") -> uuid.UUID:
    """An ID argument as a UUID; anything else is the caller's mistake (BAD_USER_INPUT)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(f"{argument} is not a valid ID", argument=argument) from None


def error_for(code: ErrorCode | str, message: str) -> ServiceError:
    """Build the exception for a code (used when decoding remote errors)."""
    try:
        known = ErrorCode(code)
    except ValueError:
        known = ErrorCode.INTERNAL_SERVER_ERROR
    return _ERRORS.get(known, ServiceError)(message)


def from_grpc_status(status: grpc.StatusCode, message: str) -> ServiceError:
    """The exception a gRPC client raises for a failed call."""
    return error_for(_FROM_GRPC.get(status, ErrorCode.INTERNAL_SERVER_ERROR), message)
