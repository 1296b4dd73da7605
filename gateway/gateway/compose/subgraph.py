"""What composition knows about one subgraph: its types, fields and federation facts.

`reader.py` builds these from SDL; validation and merging only read them (validation
also records which fields keys, `@requires` and `@provides` select).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .guards import Guards
from .typeref import TypeRef

if TYPE_CHECKING:
    from .directives import ComposedDirective

ROOT_NAMES = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}

OBJECT = "object"
INTERFACE = "interface"
UNION = "union"
ENUM = "enum"
INPUT = "input"
SCALAR = "scalar"

KIND_LABELS = {
    OBJECT: "Object Type",
    INTERFACE: "Interface Type",
    UNION: "Union Type",
    ENUM: "Enum Type",
    INPUT: "Input Object Type",
    SCALAR: "Scalar Type",
}


@dataclass(slots=True)
class Key:
    """One `@key` application. `resolvable` is None when the argument was not written.

    `extension` is set when the key sits on an `extend type` or on a type marked `@extends`;
    `extends` when it is the latter.
    """

    fields: str
    resolvable: bool | None = None
    extension: bool = False
    extends: bool = False

    @property
    def is_resolvable(self) -> bool:
        return self.resolvable is not False


@dataclass(slots=True)
class Marks:
    """Directives that pass through to the supergraph: `@inaccessible`, `@tag`, `@deprecated`,
    `@specifiedBy`.

    `order` keeps the names in the order the subgraph applied them, which is the order the
    supergraph prints them in.
    """

    inaccessible: bool = False
    tags: list[str] = field(default_factory=list)
    deprecated: str | None = None  # the printed application, e.g. '@deprecated(reason: "x")'
    specified_by: str | None = None  # the printed `@specifiedBy(url: ...)` of a scalar
    order: list[str] = field(default_factory=list)
    # `@authenticated`, `@requiresScopes`, `@policy`, `@cost`, `@listSize`.
    guards: Guards = field(default_factory=Guards)
    # Applications of `@composeDirective` directives: (name, printed, repeatable).
    composed: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass(slots=True)
class Argument:
    name: str
    type: TypeRef
    description: str | None = None
    default: str | None = None  # printed GraphQL value
    marks: Marks = field(default_factory=Marks)
    # `@fromContext(field: "$ctx { a }")`: the value comes from an ancestor's context.
    from_context: str | None = None


@dataclass(slots=True)
class Field:
    """A field of an object/interface type, or an input field (then `default` may be set)."""

    name: str
    type: TypeRef
    description: str | None = None
    args: dict[str, Argument] = field(default_factory=dict)
    default: str | None = None
    external: bool = False
    shareable: bool = False
    requires: str | None = None
    provides: str | None = None
    override: str | None = None
    override_label: str | None = None  # `@override(from:, label:)`: a progressive override
    marks: Marks = field(default_factory=Marks)


@dataclass(slots=True)
class EnumValue:
    name: str
    description: str | None = None
    marks: Marks = field(default_factory=Marks)


@dataclass(slots=True)
class Type:
    """One named type as a subgraph defines it (all its definitions and extensions)."""

    name: str
    kind: str
    description: str | None = None
    fields: dict[str, Field] = field(default_factory=dict)
    interfaces: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    values: dict[str, EnumValue] = field(default_factory=dict)
    keys: list[Key] = field(default_factory=list)
    interface_object: bool = False
    contexts: list[str] = field(default_factory=list)  # `@context(name:)`, as written
    marks: Marks = field(default_factory=Marks)


@dataclass(slots=True)
class Subgraph:
    """A parsed subgraph; `key_fields` and `provided` hold `(type, field)` pairs."""

    name: str
    url: str
    types: dict[str, Type]
    fed2: bool
    key_fields: set[tuple[str, str]] = field(default_factory=set)
    provided: set[tuple[str, str]] = field(default_factory=set)
    required: set[tuple[str, str]] = field(default_factory=set)
    positions: dict[str, int] = field(default_factory=dict)  # coordinate -> offset in `sdl`
    sdl: str = ""
    composed: dict[str, ComposedDirective] = field(default_factory=dict)  # @composeDirective

    def location(self, coordinate: str) -> tuple[int, int] | None:
        """1-based line and column where a type, field or argument is first written."""
        offset = self.positions.get(coordinate)
        if offset is None:
            return None
        line_start = self.sdl.rfind("\n", 0, offset) + 1
        return self.sdl.count("\n", 0, offset) + 1, offset - line_start + 1

    def field(self, type_name: str, field_name: str) -> Field | None:
        owner = self.types.get(type_name)
        return owner.fields.get(field_name) if owner is not None else None

    def resolves(self, type_name: str, field_name: str) -> bool:
        """Whether this subgraph can itself return `type_name.field_name`."""
        found = self.field(type_name, field_name)
        if found is None:
            return False
        return not found.external or (type_name, field_name) in self.provided
