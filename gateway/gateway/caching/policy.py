"""Which operations may be cached, and where in their answers the watched entities sit.

An operation is cacheable when every field it selects is one of the configured public
fields (`GATEWAY_CACHE_PUBLIC_FIELDS`: `Type.field` coordinates, or `Type.*`), and it is
asked anonymously (the server checks that). Public fields are those whose value is the
same for everyone who may see them and changes only through events the gateway hears, so
the answer depends neither on the principal nor on anything the cache cannot hear about.

For the invalidation the analysis also records every position of a *watched* type (one
the configured events name, e.g. `Listing`): its response path, the response key of its
`id` when the client selected it, and whether it sits under a list. The answer's tags are
then read from those positions (`tags`): a `(Listing, <id>)` for an entity at a single
position, and `(Listing, "*")` for one under a list or without its id, because an event
on any listing may change which listings a list holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

__all__ = ["ANY", "CachePolicy", "Position", "PublicFields", "Tag", "analyse", "tags"]

ANY = "*"
# (type name, id or ANY)
Tag = tuple[str, str]


class PublicFields:
    """The public field coordinates, from `Type.field` / `Type.*` entries."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._fields: set[tuple[str, str]] = set()
        self._types: set[str] = set()
        for entry in entries:
            type_name, _, field_name = entry.strip().partition(".")
            if not type_name or not field_name:
                raise ValueError(f"a public field is Type.field or Type.*, not {entry!r}")
            if field_name == ANY:
                self._types.add(type_name)
            else:
                self._fields.add((type_name, field_name))

    def __bool__(self) -> bool:
        return bool(self._fields or self._types)

    def allows(self, type_name: str, field_name: str) -> bool:
        return type_name in self._types or (type_name, field_name) in self._fields


@dataclass(frozen=True, slots=True)
class Position:
    """Where objects of a watched type appear in the answer."""

    path: tuple[str, ...]
    type_name: str
    id_key: str | None
    in_list: bool


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """A cacheable operation: the positions its tags are read from."""

    positions: tuple[Position, ...]


class _NotCacheable(Exception):
    pass


def analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    public: PublicFields,
    watched: frozenset[str],
) -> CachePolicy | None:
    """The policy of a cacheable query, or None when any selected field is not public."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        operation = operations[0] if len(operations) == 1 else None
    else:
        operation = next(
            (o for o in operations if o.name is not None and o.name.value == operation_name),
            None,
        )
    if operation is None or operation.operation != OperationType.QUERY or not public:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.query_type
    if root is None:
        return None
    positions: list[Position] = []
    try:
        _walk(
            schema,
            root,
            operation.selection_set,
            (),
            False,
            fragments,
            public,
            watched,
            positions,
            (),
        )
    except _NotCacheable:
        return None
    return CachePolicy(tuple(positions))


def _walk(
    schema: GraphQLSchema,
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    path: tuple[str, ...],
    in_list: bool,
    fragments: Mapping[str, FragmentDefinitionNode],
    public: PublicFields,
    watched: frozenset[str],
    positions: list[Position],
    spreading: tuple[str, ...],
) -> None:
    for field in _fields(selection_set, fragments, spreading, schema, parent):
        name = field.name.value
        if name == "__typename":
            continue
        definition = parent.fields.get(name)
        if definition is None or not public.allows(parent.name, name):
            raise _NotCacheable
        named, listed = _unwrap(definition.type)
        if field.selection_set is None:
            continue
        if not isinstance(named, GraphQLObjectType):
            raise _NotCacheable  # abstract types are not analysed: not cached
        key = field.alias.value if field.alias else name
        here = (*path, key)
        below_list = in_list or listed
        if named.name in watched:
            positions.append(Position(here, named.name, _id_key(field.selection_set), below_list))
        _walk(
            schema,
            named,
            field.selection_set,
            here,
            below_list,
            fragments,
            public,
            watched,
            positions,
            spreading,
        )


def _fields(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    spreading: tuple[str, ...],
    schema: GraphQLSchema,
    parent: GraphQLObjectType,
) -> Iterator[FieldNode]:
    """The fields of a selection with its fragments spread (conditions on `parent` only)."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is not None and condition.name.value != parent.name:
                raise _NotCacheable
            yield from _fields(selection.selection_set, fragments, spreading, schema, parent)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in spreading:
                raise _NotCacheable
            if fragment.type_condition.name.value != parent.name:
                raise _NotCacheable
            yield from _fields(
                fragment.selection_set, fragments, (*spreading, name), schema, parent
            )


def _unwrap(gtype: GraphQLOutputType) -> tuple[Any, bool]:
    listed = False
    while isinstance(gtype, GraphQLNonNull | GraphQLList):
        if isinstance(gtype, GraphQLList):
            listed = True
        gtype = gtype.of_type
    return gtype, listed


def _id_key(selection_set: SelectionSetNode) -> str | None:
    for selection in selection_set.selections:
        if (
            isinstance(selection, FieldNode)
            and selection.name.value == "id"
            and not selection.directives
        ):
            return selection.alias.value if selection.alias else "id"
    return None


def tags(policy: CachePolicy, data: Any) -> set[Tag]:
    """The entities an answer holds, as the events that must drop it name them.

    A position under a list is tagged with the whole type, whatever the list holds now
    (an empty search result must go when a matching listing appears); a single position
    with its entity's id by that id, and anything else (null, no id selected) by the type.
    """
    found: set[Tag] = set()
    for position in policy.positions:
        if position.in_list or position.id_key is None:
            found.add((position.type_name, ANY))
            continue
        value = _at(data, position.path)
        identity = value.get(position.id_key) if isinstance(value, dict) else None
        found.add((position.type_name, identity if isinstance(identity, str) else ANY))
    return found


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
