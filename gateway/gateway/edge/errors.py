"""The one exception the edge raises, carrying what the client should see."""

from __future__ import annotations

from typing import Any

from gateway.types import JSON


class EdgeError(Exception):
    """A request stopped before planning; its message is safe to show to the caller.

    `status` None means "a GraphQL request error": the HTTP layer picks the status the
    GraphQL-over-HTTP spec gives the negotiated media type (400 for
    `application/graphql-response+json`, 200 for `application/json`). A set status (401,
    405, 413, 429 …) is used as is.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        locations: list[dict[str, int]] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.headers = headers or {}
        self.locations = locations
        self.extensions = extensions

    def to_error(self) -> JSON:
        """The error as one entry of a GraphQL response's `errors`."""
        error: JSON = {"message": self.message}
        if self.locations:
            error["locations"] = self.locations
        error["extensions"] = {"code": self.code, **self.extensions}
        return error

    def to_response(self) -> JSON:
        return {"errors": [self.to_error()]}
