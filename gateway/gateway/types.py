"""Names shared across the gateway: a request, its context, and the engine's surface.

The HTTP/WebSocket layer (`server.py`) talks to the engine only through `Engine`;
the engine talks to subgraphs only through `SubgraphTransport`. Each side can be tested
with the other replaced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gateway.caching.entities import EntityView

JSON = dict[str, Any]

# The incremental delivery formats a client may ask for (`gateway.incremental`): the one
# Apollo Client speaks by default, and the newer one of the specification's working draft.
DEFER_SPEC_20220824 = "20220824"
INCREMENTAL_SPEC_V0_2 = "v0.2"


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """One client operation, already decoded from HTTP or a WebSocket `subscribe` message."""

    query: str
    variables: Mapping[str, Any] | None = None
    operation_name: str | None = None
    extensions: Mapping[str, Any] | None = None


@dataclass(slots=True)
class RequestContext:
    """What the edge learned about the caller; forwarded to every subgraph fetch.

    `headers` are the headers to forward to subgraphs (Authorization, traceparent,
    tracestate, x-request-id …), lower-case names.
    """

    headers: dict[str, str] = field(default_factory=dict)
    principal_id: str | None = None
    principal_role: str | None = None
    client_id: str | None = None
    # The verified token's claims (None: anonymous): what `@requiresScopes` and `@policy`
    # are decided on.
    claims: Mapping[str, Any] | None = None
    # The entity cache's view, set by the server for a public query only: what every
    # anonymous caller is answered, never read or written for anyone else.
    entities: EntityView | None = None


class SubgraphTransport(Protocol):
    """How the engine reaches a subgraph."""

    async def fetch(
        self,
        subgraph: str,
        query: str,
        variables: Mapping[str, Any] | None,
        ctx: RequestContext,
        *,
        idempotent: bool = False,
    ) -> JSON:
        """POST one GraphQL operation; returns the decoded response body.

        `idempotent` is True for a query, which may be sent again after a connection
        failure; a mutation (False) must reach the subgraph at most once.
        """
        ...

    def subscribe(
        self, subgraph: str, query: str, variables: Mapping[str, Any] | None, ctx: RequestContext
    ) -> AsyncIterator[JSON]:
        """Open a graphql-transport-ws subscription; yields each `next` payload."""
        ...

    async def close(self) -> None: ...


class Engine(Protocol):
    """Plans and executes operations against the current supergraph."""

    async def execute(self, request: GraphQLRequest, ctx: RequestContext) -> JSON:
        """Run a query or mutation; returns `{"data": ..., "errors": [...]}` as the spec shapes it."""
        ...

    async def subscribe(
        self, request: GraphQLRequest, ctx: RequestContext
    ) -> AsyncIterator[JSON] | JSON:
        """Start a subscription: an iterator of results, or one result holding the errors."""
        ...

    async def execute_incremental(
        self, request: GraphQLRequest, ctx: RequestContext, *, spec: str = DEFER_SPEC_20220824
    ) -> AsyncIterator[JSON] | JSON:
        """`execute` for a client taking incremental delivery (`@defer`): payloads in the
        format `spec` names, or one result."""
        ...
