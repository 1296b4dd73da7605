"""Small federations built inline by a test: subgraphs from their Federation v2 SDL and data.

Each corner of the planner gets its own two or three subgraphs, written for the case. A
`Service` is executable straight from the SDL it publishes (the federation directives are
declared, `_entities` is added), answers from plain dicts, and runs in process: the
`LocalTransport` executes each fetch with graphql-core against that subgraph's own
schema, so a document the subgraph would reject fails here exactly as it would over HTTP.
The supergraph is what `gateway compose` writes from the same SDLs, unless a case gives
one by hand (a supergraph composition would refuse, to test the planner's own errors).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.compose import SubgraphSource, compose
from gateway.engine import FederatedEngine
from gateway.supergraph import Supergraph
from gateway.types import JSON, GraphQLRequest, RequestContext
from graphql import (
    GraphQLInterfaceType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    graphql,
)

LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", '
    'import: ["@key", "@shareable", "@external", "@requires", "@provides", "@override", '
    '"@inaccessible", "@interfaceObject", "@authenticated", "@requiresScopes", "@policy", '
    '"@cost", "@listSize", "@context", "@fromContext", "@extends", "@composeDirective"])\n'
)

_DECLARATIONS = """
directive @link(url: String!, import: [String]) repeatable on SCHEMA
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
directive @external on OBJECT | FIELD_DEFINITION
directive @extends on OBJECT | INTERFACE
directive @requires(fields: String!) on FIELD_DEFINITION
directive @provides(fields: String!) on FIELD_DEFINITION
directive @override(from: String!, label: String) on FIELD_DEFINITION
directive @context(name: String!) repeatable on OBJECT | INTERFACE | UNION
directive @fromContext(field: String) on ARGUMENT_DEFINITION
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ENUM | ENUM_VALUE | SCALAR | INPUT_OBJECT | INPUT_FIELD_DEFINITION | ARGUMENT_DEFINITION
directive @interfaceObject on OBJECT
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @policy(policies: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
directive @composeDirective(name: String!) repeatable on SCHEMA
scalar _Any
"""

Resolve = Callable[[dict[str, Any]], Any]


@dataclass
class Service:
    """One subgraph: its published SDL, root values and how it resolves references.

    `root` maps root field names to values, or to callables taking the field's arguments;
    `entities` maps a type name to a function from a representation to the object (or
    None). Every object a resolver returns carries `__typename` where the type is abstract.
    `federation` 1 composes the SDL as a Federation 1 subgraph publishes it (no `@link`).
    """

    name: str
    sdl: str
    root: dict[str, Any] = field(default_factory=dict)
    entities: dict[str, Resolve] = field(default_factory=dict)
    federation: int = 2
    schema: GraphQLSchema = field(init=False)
    representations: list[list[dict[str, Any]]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        sdl = LINK + _DECLARATIONS + _own_extensions(self.sdl)
        # An interface entity resolves to its object types: only those are `_Entity` members.
        members = [name for name in self.entities if re.search(rf"\btype {name}\b", self.sdl)]
        if members:
            sdl += f"\nunion _Entity = {' | '.join(members)}\n"
            entities = "_entities(representations: [_Any!]!): [_Entity]!"
            has_query = "type Query" in self.sdl
            sdl += f"{'extend type' if has_query else 'type'} Query {{ {entities} }}\n"
        elif "type Query" not in self.sdl:
            # A subgraph with only mutations still has a query type (`_service` at least).
            sdl += "\ntype _Service { sdl: String }\ntype Query { _service: _Service! }\n"
        self.schema = build_schema(sdl)
        for gtype in self.schema.type_map.values():
            if isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType):
                gtype.resolve_type = lambda obj, *_: obj["__typename"]

    async def execute(self, query: str, variables: Mapping[str, Any] | None) -> JSON:
        root = {name: _root_resolver(value) for name, value in self.root.items()}
        root["_entities"] = lambda _info, representations: self._entities(representations)
        result = await graphql(
            self.schema, query, root_value=root, variable_values=dict(variables or {})
        )
        formatted: JSON = result.formatted
        return formatted

    def _entities(self, representations: list[dict[str, Any]]) -> list[Any]:
        self.representations.append(representations)
        found = []
        for rep in representations:
            obj = self.entities[rep["__typename"]](rep)
            found.append(None if obj is None else {"__typename": rep["__typename"], **obj})
        return found


def _own_extensions(sdl: str) -> str:
    """`extend type X` of a type the subgraph does not define is its definition, as
    subgraph libraries read it (a Federation 1 style extension of another's entity)."""
    for name in re.findall(r"\bextend type (\w+)", sdl):
        if not re.search(rf"(?<!extend )\btype {name}\b", sdl):
            sdl = re.sub(rf"\bextend type {name}\b", f"type {name}", sdl)
    return sdl


def _root_resolver(value: Any) -> Callable[..., Any]:
    """A root field's resolver: the value itself, or the callable applied to the arguments."""

    def resolve(_info: Any, **args: Any) -> Any:
        return value(args) if callable(value) else value

    return resolve


class LocalTransport:
    """Runs each fetch in process against the named `Service`; remembers every call."""

    enforces_timeout = False

    def __init__(self, services: Mapping[str, Service]) -> None:
        self.services = services
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.responses: list[JSON] = []

    async def fetch(
        self,
        subgraph: str,
        query: str,
        variables: Mapping[str, Any] | None,
        ctx: RequestContext,
        *,
        idempotent: bool = False,
    ) -> JSON:
        self.calls.append((subgraph, query, dict(variables or {})))
        response = await self.services[subgraph].execute(query, variables)
        self.responses.append(response)
        return response

    def subscribe(
        self, subgraph: str, query: str, variables: Mapping[str, Any] | None, ctx: RequestContext
    ) -> AsyncIterator[JSON]:
        raise NotImplementedError("the federated cases have no subscriptions")

    async def close(self) -> None:
        return None


def compose_sdl(*services: Service) -> str:
    """The supergraph `gateway compose` writes for these services.

    Each v2 SDL goes with the `@link` a v2 subgraph publishes, so composition applies the v2
    rules (shareability, `@external` on key fields, `@requires` field sets) to the cases; a
    `federation=1` service is composed as written, under the Federation 1 rules.
    """
    sdl: str = compose(
        [
            SubgraphSource(
                s.name, f"http://{s.name}.invalid", LINK + s.sdl if s.federation > 1 else s.sdl
            )
            for s in services
        ]
    )
    return sdl


class Federation:
    """A gateway engine over some `Service`s, composed unless a supergraph is given."""

    def __init__(
        self, *services: Service, supergraph: str | None = None, **engine_options: Any
    ) -> None:
        """`engine_options` go to `FederatedEngine` (`policy_hook=`, `scope_claim=` …)."""
        self.services = {service.name: service for service in services}
        if supergraph is None:
            supergraph = compose_sdl(*services)
        self.supergraph = Supergraph.parse(supergraph)
        self.transport = LocalTransport(self.services)
        self.engine = FederatedEngine(self.supergraph, self.transport, **engine_options)

    async def run(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        claims: Mapping[str, Any] | None = None,
    ) -> JSON:
        """Execute `query` for a caller with these verified token `claims` (None: anonymous)."""
        self.transport.calls.clear()
        self.transport.responses.clear()
        return await self.engine.execute(
            GraphQLRequest(query, variables, None), RequestContext(claims=claims)
        )

    @property
    def fetched(self) -> list[str]:
        """The subgraphs called by the last `run`, in order."""
        return [call[0] for call in self.transport.calls]

    def subgraph_errors(self) -> list[Any]:
        """Errors any subgraph answered with in the last `run` (invalid documents included)."""
        return [
            error for response in self.transport.responses for error in response.get("errors") or ()
        ]
