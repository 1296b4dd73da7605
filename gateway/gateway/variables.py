"""Variable coercion for the common case without graphql-core's general machinery.

Most client operations declare a few variables of the built-in scalars `ID`, `String`,
`Int` and `Boolean`, and clients send values of exactly those JSON types. For those the
coerced value is the value itself, and checking that takes a fraction of what
`graphql.get_variable_values` spends per request. Anything else — another type, a
default value, a value that would need converting (an `ID` sent as a number), a missing
or null non-null variable — is left to graphql-core, which also words every error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLSchema,
    GraphQLString,
    NamedTypeNode,
    NonNullTypeNode,
    VariableDefinitionNode,
)

__all__ = ["SimpleVariable", "coerce_simple", "simple_variables"]

_STR, _BOOL, _INT = 0, 1, 2
_KINDS = {
    GraphQLID.name: (GraphQLID, _STR),
    GraphQLString.name: (GraphQLString, _STR),
    GraphQLBoolean.name: (GraphQLBoolean, _BOOL),
    GraphQLInt.name: (GraphQLInt, _INT),
}
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1

# (variable name, value kind, non-null)
SimpleVariable = tuple[str, int, bool]


def simple_variables(
    schema: GraphQLSchema, definitions: Collection[VariableDefinitionNode]
) -> tuple[SimpleVariable, ...] | None:
    """The operation's variables when all of them can take the fast path, else None."""
    out: list[SimpleVariable] = []
    for definition in definitions:
        if definition.default_value is not None:
            return None
        type_node: Any = definition.type
        non_null = isinstance(type_node, NonNullTypeNode)
        if non_null:
            type_node = type_node.type
        if not isinstance(type_node, NamedTypeNode):
            return None
        known = _KINDS.get(type_node.name.value)
        if known is None or schema.type_map.get(type_node.name.value) is not known[0]:
            return None
        out.append((definition.variable.name.value, known[1], non_null))
    return tuple(out)


def coerce_simple(
    spec: tuple[SimpleVariable, ...], inputs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The coerced variables, exactly as graphql-core would give them; None to ask it."""
    out: dict[str, Any] = {}
    for name, kind, non_null in spec:
        if name not in inputs:
            if non_null:
                return None
            continue  # an absent nullable variable is left out
        value = inputs[name]
        if value is None:
            if non_null:
                return None
        elif kind == _STR:
            if value.__class__ is not str:
                return None
        elif kind == _BOOL:
            if value.__class__ is not bool:
                return None
        elif value.__class__ is not int or not _MIN_INT <= value <= _MAX_INT:
            return None
        out[name] = value
    return out
