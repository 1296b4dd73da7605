"""The edge in order: decode → authenticate → rate-limit → persisted query → shape checks.

HTTP and WebSocket requests go through the same steps; only the framing around them
differs. Everything here happens before the engine sees the operation, so a request
refused at the edge never costs a plan or a subgraph fetch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.edge.apq import PersistedQueries
from gateway.edge.auth import Authenticator, Caller
from gateway.edge.document import DocumentAnalyser, Operation
from gateway.edge.errors import EdgeError
from gateway.edge.ratelimit import RateLimiter, rate_limited
from gateway.types import GraphQLRequest, RequestContext

BAD_REQUEST = "BAD_REQUEST"


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request the edge let through: what to run, what it is, and who asks."""

    request: GraphQLRequest
    operation: Operation
    context: RequestContext


class Edge:
    def __init__(
        self,
        *,
        authenticator: Authenticator,
        analyser: DocumentAnalyser,
        persisted: PersistedQueries,
        limiter: RateLimiter | None,
    ) -> None:
        self.authenticator = authenticator
        self._analyser = analyser
        self._persisted = persisted
        self._limiter = limiter

    async def authenticate(self, authorization: str | None) -> Caller | None:
        return await self.authenticator.authenticate(authorization)

    async def admit(
        self,
        payload: Mapping[str, Any],
        *,
        caller: Caller | None,
        address: str | None,
        forward_headers: dict[str, str],
    ) -> Admitted:
        """Run every edge check on a decoded GraphQL request body, or raise `EdgeError`."""
        query, variables, operation_name, extensions = decode(payload)
        client = f"user:{caller.user_id}" if caller else f"ip:{address or 'unknown'}"
        if self._limiter is not None:
            wait = await self._limiter.acquire(client)
            if wait is not None:
                raise rate_limited(wait)
        resolved = await self._persisted.resolve(query, extensions)
        if resolved is None:
            raise EdgeError("Must provide a query string.", code=BAD_REQUEST, status=400)
        operation = self._analyser.analyse(resolved.query, operation_name)
        if resolved.register is not None:
            await self._persisted.register(resolved.register, resolved.query)
        context = RequestContext(
            headers=forward_headers,
            principal_id=caller.user_id if caller else None,
            principal_role=caller.role if caller else None,
            client_id=client,
            claims=caller.claims if caller else None,
        )
        request = GraphQLRequest(resolved.query, variables, operation_name, extensions)
        return Admitted(request, operation, context)


def decode(
    payload: Mapping[str, Any],
) -> tuple[str | None, Mapping[str, Any] | None, str | None, Mapping[str, Any] | None]:
    """Check the request members' types (GraphQL-over-HTTP "well-formed" rules)."""
    query = payload.get("query")
    variables = payload.get("variables")
    operation_name = payload.get("operationName")
    extensions = payload.get("extensions")
    if query is not None and not isinstance(query, str):
        raise _malformed("query must be a string.")
    if variables is not None and not isinstance(variables, Mapping):
        raise _malformed("variables must be an object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _malformed("operationName must be a string.")
    if extensions is not None and not isinstance(extensions, Mapping):
        raise _malformed("extensions must be an object.")
    return query, variables, operation_name or None, extensions


def _malformed(message: str) -> EdgeError:
    return EdgeError(message, code=BAD_REQUEST, status=400)
