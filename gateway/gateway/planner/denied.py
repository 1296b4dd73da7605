"""An operation without the fields its caller may not see (`gateway.authorization`).

The planner fetches what is left; the response is still shaped by the whole operation,
which answers each removed field with null and an authorization error.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, get_named_type

from gateway.planner.operation import NField, NFragment, NSel

__all__ = ["strip_denied"]


def strip_denied(
    schema: GraphQLSchema,
    type_name: str,
    selections: Sequence[NSel],
    denied: frozenset[tuple[str, str]],
) -> tuple[NSel, ...]:
    """The selections without denied fields; an emptied selection keeps `__typename`."""
    out: list[NSel] = []
    for selection in selections:
        if isinstance(selection, NFragment):
            inner = strip_denied(
                schema, selection.type_condition or type_name, selection.selections, denied
            )
            out.append(NFragment(selection.type_condition, inner))
            continue
        if (type_name, selection.name) in denied:
            continue
        if selection.selections is None:
            out.append(selection)
            continue
        parent = schema.type_map[type_name]
        assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
        child = get_named_type(parent.fields[selection.name].type).name
        inner = strip_denied(schema, child, selection.selections, denied)
        out.append(
            NField(
                selection.key,
                selection.name,
                selection.args,
                selection.variables,
                inner,
                directives=selection.directives,
            )
        )
    if not any(isinstance(s, NField) for s in out) and selections:
        out.append(NField("__typename", "__typename", "", frozenset(), None))
    return tuple(out)
