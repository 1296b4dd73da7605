"""The composed supergraph before printing: API types plus their `join__` annotations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .typeref import TypeRef

if TYPE_CHECKING:
    from .directives import SDirective


@dataclass(frozen=True, slots=True)
class Graph:
    """A subgraph in the supergraph: its `join__Graph` enum value, name and routing URL."""

    enum: str
    name: str
    url: str


@dataclass(slots=True)
class JoinType:
    graph: str
    key: str | None = None
    extension: bool = False
    resolvable: bool | None = None
    interface_object: bool = False


@dataclass(slots=True)
class JoinField:
    """One `@join__field`; `graph` None prints a bare `@join__field` (interface-object fields)."""

    graph: str | None
    requires: str | None = None
    provides: str | None = None
    override: str | None = None
    type: str | None = None
    external: bool = False
    used_overridden: bool = False
    override_label: str | None = None
    # Printed `{context: "...", name: "...", type: "...", selection: "..."}` items.
    context_arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SArgument:
    name: str
    type: TypeRef
    description: str | None = None
    default: str | None = None
    directives: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SField:
    name: str
    type: TypeRef
    description: str | None = None
    args: list[SArgument] = field(default_factory=list)
    default: str | None = None
    directives: list[str] = field(default_factory=list)
    joins: list[JoinField] = field(default_factory=list)


@dataclass(slots=True)
class SEnumValue:
    name: str
    description: str | None = None
    directives: list[str] = field(default_factory=list)
    graphs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SType:
    name: str
    kind: str
    description: str | None = None
    fields: dict[str, SField] = field(default_factory=dict)
    interfaces: list[str] = field(default_factory=list)
    implements: list[tuple[str, str]] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    member_joins: list[tuple[str, str]] = field(default_factory=list)
    values: list[SEnumValue] = field(default_factory=list)
    join_types: list[JoinType] = field(default_factory=list)
    directives: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)  # `@context` names, subgraph-prefixed


@dataclass(slots=True)
class Supergraph:
    graphs: list[Graph]
    types: dict[str, SType]
    roots: dict[str, str]
    uses_inaccessible: bool = False
    uses_tag: bool = False
    uses_specs: set[str] = field(default_factory=set)  # guard specs: see `guards.links`
    uses_context: bool = False
    directives: list[SDirective] = field(default_factory=list)  # composed (`@composeDirective`)
