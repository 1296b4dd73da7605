"""Requirements: the fields an entity fetch needs (its key, its `@requires`) as selections.

A requirement is fetched where the client's data comes from, next to the client's own
fields, and read back from the merged data into each representation by a `RepTemplate`.
A requirement field takes its own name unless the client uses that response key for
something else (then, and for every field with arguments, a private `_r_` alias). A
fragment on an interface or union is read back for every object type it covers, and an
abstract value carries `__typename`, which the subgraph needs to tell its members apart.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLUnionType

from gateway.planner.operation import NField, NFragment, NSel
from gateway.planner.plan import RepTemplate
from gateway.supergraph import FieldSet, split_field

if TYPE_CHECKING:
    from gateway.planner.builder import Builder, Fields

__all__ = ["merge_field_sets", "requirement"]


def merge_field_sets(a: FieldSet, b: FieldSet) -> FieldSet:
    """Union of two field sets, nested selections merged, order kept."""
    merged: dict[str, FieldSet | None] = dict(a)
    for name, sub in b:
        if name in merged and merged[name] is not None and sub is not None:
            merged[name] = merge_field_sets(merged[name] or (), sub)
        elif name not in merged:
            merged[name] = sub
    return tuple(merged.items())


def requirement(
    builder: Builder, type_name: str, field_set: FieldSet, client: Fields
) -> tuple[RepTemplate, tuple[NSel, ...]]:
    """Selections fetching a field set, and the template reading it back from the data.

    A requirement goes under its own name unless the client already uses that response
    key for something else; then it gets a private alias.
    """
    template: list[tuple[str, str, RepTemplate | None]] = []
    selections: list[NSel] = []
    if not isinstance(builder.schema.type_map.get(type_name), GraphQLObjectType):
        # The subgraph tells the members of an abstract value apart by their type name.
        template.append(("__typename", "__typename", None))
        selections.append(NField("__typename", "__typename", "", frozenset(), None))
    for name, sub in field_set:
        if name.startswith("... on "):
            condition = name[len("... on ") :]
            sub_template, sub_selections = requirement(builder, condition, sub or (), {})
            # Representations are read back per object type: a condition on an
            # interface or union applies to every object type it covers.
            for object_type in _object_types(builder, condition):
                template.append(("... on " + object_type, "", sub_template))
            selections.append(NFragment(condition, sub_selections))
            continue
        name, args = split_field(name)
        occurrences = client.get(name)
        conflict = occurrences is not None and (
            occurrences[0].name != name or occurrences[0].args != args
        )
        if args:  # one private alias per argument list
            data_key = f"_r_{name}_{zlib.crc32(args.encode()):08x}"
        else:
            data_key = "_r_" + name if conflict else name
        nested_template: RepTemplate | None = None
        nested: tuple[NSel, ...] | None = None
        if sub is not None:
            child = builder.field_type(type_name, name)
            child_client = (
                builder.collect(child.name, builder.merged(occurrences))
                if occurrences is not None and not conflict
                else {}
            )
            nested_template, nested = requirement(builder, child.name, sub, child_client)
        template.append((name, data_key, nested_template))
        selections.append(NField(data_key, name, args, frozenset(), nested))
    return tuple(template), tuple(selections)


def _object_types(builder: Builder, type_name: str) -> list[str]:
    gtype = builder.schema.type_map.get(type_name)
    if isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType):
        return [t.name for t in builder.schema.get_possible_types(gtype)]
    return [type_name]
