"""Abstract positions as one subgraph sees them: which object types it can return there,
and which sibling fragments would conflict in its own schema.

The supergraph's type of a field is the union of what the subgraphs say: a field that
is the interface `Lead` in one subgraph may be the object `Buyer` in another, and a
union may have members one subgraph lacks. A fragment that subgraph cannot match is
invalid in the document it receives, so it is left out. Fields whose types merge loosely
(`String!` here, `String` there) can clash between sibling fragments of one document:
every occurrence after the first type's is sent under the alias `data_key` gives it, and
the response shaper reads it back from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLUnionType

from gateway.planner.operation import NSel

if TYPE_CHECKING:
    from gateway.planner.builder import Builder

__all__ = ["data_key", "graph_type", "possible_types", "sibling_aliases"]


def data_key(key: str, type_name: str) -> str:
    """Where an aliased field of an object of `type_name` sits in the merged data."""
    return f"{key}__{type_name}"


def graph_type(builder: Builder, type_name: str, field_name: str, graph: str) -> str:
    """The field's type as `graph` declares it, printed (`"[Party!]!"`)."""
    join = builder.sg.field_join(type_name, field_name, graph)
    if join is not None and join.type is not None:
        return join.type
    parent = builder.schema.type_map[type_name]
    assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
    return str(parent.fields[field_name].type)


def named(type_text: str) -> str:
    return type_text.strip("[]!")


def possible_types(
    builder: Builder, graph: str, type_name: str, local_type: str | None
) -> list[str]:
    """Object types of the abstract `type_name` that `graph` may return at this position.

    `local_type` is the named type `graph` gives the field leading here, when it differs.
    """
    schema = builder.schema
    gtype = schema.type_map[type_name]
    assert isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType)
    candidates = [t.name for t in schema.get_possible_types(gtype)]
    if local_type is not None and local_type != type_name:
        local = schema.type_map.get(local_type)
        if isinstance(local, GraphQLObjectType):
            return [local_type] if local_type in candidates else []
        if isinstance(local, GraphQLInterfaceType | GraphQLUnionType):
            inner = builder.sg.possible_types_in(graph, local_type) or {
                t.name for t in schema.get_possible_types(local)
            }
            candidates = [name for name in candidates if name in inner]
    known = builder.sg.possible_types_in(graph, type_name)
    if known:
        return [name for name in candidates if name in known]
    return [name for name in candidates if graph in builder.sg.graphs_of_type(name)]


def sibling_aliases(
    builder: Builder, graph: str, types: Sequence[str], selections: Sequence[NSel]
) -> dict[str, dict[str, str]]:
    """Per object type, the response keys to alias because their types clash in `graph`."""
    seen: dict[str, str] = {}  # response key -> the type `graph` gives it, first fragment
    aliases: dict[str, dict[str, str]] = {}
    for type_name in types:
        for key, occurrences in builder.collect(type_name, selections).items():
            field_name = occurrences[0].name
            if field_name.startswith("__"):
                continue
            if graph not in builder.sg.resolving_graphs(type_name, field_name):
                continue
            text = graph_type(builder, type_name, field_name, graph)
            first = seen.setdefault(key, text)
            if first != text and not _same_shape(builder, first, text):
                aliases.setdefault(type_name, {})[key] = data_key(key, type_name)
    return aliases


def _same_shape(builder: Builder, a: str, b: str) -> bool:
    """Composite types under the same list and null wrappers merge in one document."""
    name_a, name_b = named(a), named(b)
    if a.replace(name_a, "", 1) != b.replace(name_b, "", 1):
        return False
    composite = (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)
    return isinstance(builder.schema.type_map.get(name_a), composite) and isinstance(
        builder.schema.type_map.get(name_b), composite
    )
