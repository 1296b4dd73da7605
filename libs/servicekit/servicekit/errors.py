"""The error vocabulary at the gRPC edge (the errors themselves live in `servicekit.vocabulary`).

Inside a service, rules raise `ServiceError` subclasses; the GraphQL layer turns them into
`extensions.code`, the gRPC layer into status codes, and gRPC clients turn status codes back
into the same exceptions. Anything else becomes INTERNAL_SERVER_ERROR with no details.
"""

from __future__ import annotations

import grpc

from servicekit.vocabulary import (
    ERRORS,
    BadUserInput,
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    RateLimited,
    ServiceError,
    Unauthenticated,
    Unavailable,
    error_for,
    parse_id,
)

__all__ = [
    "ERRORS",
    "GRPC_STATUS",
    "BadUserInput",
    "Conflict",
    "ErrorCode",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ServiceError",
    "Unauthenticated",
    "Unavailable",
    "error_for",
    "from_grpc_status",
    "parse_id",
]


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


def from_grpc_status(status: grpc.StatusCode, message: str) -> ServiceError:
    """The exception a gRPC client raises for a failed call."""
    return error_for(_FROM_GRPC.get(status, ErrorCode.INTERNAL_SERVER_ERROR), message)
