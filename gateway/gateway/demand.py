"""Demand control: the cost of an operation from `@cost` and `@listSize`.

The weights follow the IBM GraphQL cost specification as Apollo's routers apply it: a
field returning an object, interface or union costs 1, a scalar or enum 0, unless
`@cost(weight:)` on the field (or on its return type) says otherwise; a mutation adds
10. A list field multiplies the cost of one item (its weight plus its selection) by its
size: the largest of its `@listSize(slicingArguments:)` given, else
`@listSize(assumedSize:)`, else the configured default. With `sizedFields`, that size
multiplies the named child fields instead (a connection's `edges`). An abstract
selection costs as much as its most expensive member.

The *estimate* is computed before execution from the operation and its variables; the
*actual* cost walks the response with the same weights and the real list lengths.
Directives come composed (`@link(url: ".../cost/v0.1")`) or as
`@join__directive(name: "cost" | "listSize", args:)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    get_named_type,
    parse,
    value_from_ast_untyped,
)
from graphql.language import ValueNode

from gateway.planner.operation import NField, NSel, collect_fields

__all__ = ["COST_TOO_EXPENSIVE", "DemandControl", "ListSize"]

COST_TOO_EXPENSIVE = "COST_ESTIMATED_TOO_EXPENSIVE"
MUTATION_COST = 10


@dataclass(frozen=True, slots=True)
class ListSize:
    """One field's `@listSize`."""

    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()


def _applied(node: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name, arguments) of `@cost` / `@listSize` on an AST node, in either form."""
    out: list[tuple[str, dict[str, Any]]] = []
    for item in (node, *(getattr(node, "extension_ast_nodes", None) or ())):
        for directive in getattr(item, "directives", None) or ():
            args = {
                a.name.value: value_from_ast_untyped(a.value) for a in directive.arguments or ()
            }
            name = directive.name.value
            if name == "join__directive":
                inner = args.get("args")
                name, args = str(args.get("name")), inner if isinstance(inner, dict) else {}
            if name in ("cost", "listSize"):
                out.append((name, args))
    return out


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@lru_cache(maxsize=4096)
def _argument_nodes(args: str) -> dict[str, ValueNode]:
    """A field's printed arguments, `(first: $n)`, back to value nodes (once per text)."""
    document = parse("{f" + args + "}", no_location=True)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return {arg.name.value: arg.value for arg in field.arguments or ()}


class DemandControl:
    """The weights of one supergraph; `weighted` when it applies `@cost` or `@listSize`."""

    __slots__ = ("field_costs", "list_size", "list_sizes", "schema", "type_costs", "weighted")

    def __init__(self, schema: GraphQLSchema, *, list_size: int) -> None:
        """`list_size`: the size of a list field without `@listSize` (or a usable argument)."""
        self.schema = schema
        self.list_size = list_size
        self.type_costs: dict[str, int] = {}
        self.field_costs: dict[tuple[str, str], int] = {}
        self.list_sizes: dict[tuple[str, str], ListSize] = {}
        for name, gtype in schema.type_map.items():
            if name.startswith("__") or gtype.ast_node is None:
                continue
            for directive, args in _applied(gtype.ast_node):
                if directive == "cost" and isinstance(args.get("weight"), int):
                    self.type_costs[name] = args["weight"]
            if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType):
                for field_name, field_def in gtype.fields.items():
                    if field_def.ast_node is not None:
                        self._read_field((name, field_name), _applied(field_def.ast_node))
        self.weighted = bool(self.type_costs or self.field_costs or self.list_sizes)

    def _read_field(
        self, coordinate: tuple[str, str], applied: list[tuple[str, dict[str, Any]]]
    ) -> None:
        for directive, args in applied:
            if directive == "cost" and isinstance(args.get("weight"), int):
                self.field_costs[coordinate] = args["weight"]
            elif directive == "listSize":
                assumed = args.get("assumedSize")
                self.list_sizes[coordinate] = ListSize(
                    assumed if isinstance(assumed, int) else None,
                    _strings(args.get("slicingArguments")),
                    _strings(args.get("sizedFields")),
                )

    # Estimated ------------------------------------------------------------------------------

    def estimate(
        self, kind: str, root: str, selections: Sequence[NSel], variables: Mapping[str, Any]
    ) -> int:
        """The cost of an operation before it runs."""
        base = MUTATION_COST if kind == "mutation" else 0
        return base + self._selection(root, selections, variables, {})

    def _selection(
        self,
        type_name: str,
        selections: Sequence[NSel],
        variables: Mapping[str, Any],
        sized: Mapping[str, int],
    ) -> int:
        gtype = self.schema.type_map[type_name]
        if isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType):
            members = self.schema.get_possible_types(gtype)
            return max(
                (self._fields(m.name, selections, variables, sized) for m in members), default=0
            )
        return self._fields(type_name, selections, variables, sized)

    def _fields(
        self,
        type_name: str,
        selections: Sequence[NSel],
        variables: Mapping[str, Any],
        sized: Mapping[str, int],
    ) -> int:
        total = 0
        for occurrences in collect_fields(self.schema, type_name, selections).values():
            first = occurrences[0]
            if first.name.startswith("__"):
                continue
            total += self._field(type_name, first, occurrences, variables, sized.get(first.name))
        return total

    def _field(
        self,
        parent: str,
        first: NField,
        occurrences: list[NField],
        variables: Mapping[str, Any],
        imposed: int | None,
    ) -> int:
        definition = self._definition(parent, first.name)
        if definition is None:
            return 0
        coordinate = (parent, first.name)
        named = get_named_type(definition)
        weight = self._weight(coordinate, named.name, definition)
        list_size = self.list_sizes.get(coordinate)
        size = imposed
        if size is None and _is_list(definition):
            size = self._size(list_size, first.args, variables)
        sized: dict[str, int] = {}
        if list_size is not None and list_size.sized_fields:
            # The size belongs to the named children (a connection's edges), not to this field.
            child_size = self._size(list_size, first.args, variables)
            sized = dict.fromkeys(list_size.sized_fields, child_size)
            if imposed is None:
                size = None
        children = 0
        if first.selections is not None:
            merged: list[NSel] = []
            for occurrence in occurrences:
                merged.extend(occurrence.selections or ())
            children = self._selection(named.name, merged, variables, sized)
        one = weight + children
        return one * size if size is not None else one

    def _size(self, list_size: ListSize | None, args: str, variables: Mapping[str, Any]) -> int:
        if list_size is None:
            return self.list_size
        if list_size.slicing_arguments and args:
            given = _argument_nodes(args)
            values = [
                value_from_ast_untyped(given[name], dict(variables))
                for name in list_size.slicing_arguments
                if name in given
            ]
            sizes = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
            if sizes:
                return max(sizes)
        if list_size.assumed_size is not None:
            return list_size.assumed_size
        return self.list_size

    # Actual ---------------------------------------------------------------------------------

    def actual(self, kind: str, root: str, selections: Sequence[NSel], data: Any) -> int:
        """The cost of what a response holds: the same weights, the real list lengths."""
        base = MUTATION_COST if kind == "mutation" else 0
        return base + (self._measured(root, selections, data) if isinstance(data, dict) else 0)

    def measured(self, type_name: str, selections: Sequence[NSel], data: Any) -> int:
        """The cost of one object a response holds (a deferred fragment's data), by its type."""
        return self._measured(type_name, selections, data) if isinstance(data, dict) else 0

    def _measured(self, type_name: str, selections: Sequence[NSel], data: dict[str, Any]) -> int:
        gtype = self.schema.type_map[type_name]
        runtime = data.get("__typename")
        if isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType):
            candidates = (
                [runtime]
                if isinstance(runtime, str) and runtime in self.schema.type_map
                else [m.name for m in self.schema.get_possible_types(gtype)]
            )
        else:
            candidates = [type_name]
        total = 0
        counted: set[str] = set()
        for candidate in candidates:
            for key, occurrences in collect_fields(self.schema, candidate, selections).items():
                first = occurrences[0]
                if key in counted or first.name.startswith("__") or data.get(key) is None:
                    continue
                counted.add(key)
                total += self._measured_field(candidate, first, occurrences, data[key])
        return total

    def _measured_field(
        self, parent: str, first: NField, occurrences: list[NField], value: Any
    ) -> int:
        definition = self._definition(parent, first.name)
        if definition is None:
            return 0
        named = get_named_type(definition)
        weight = self._weight((parent, first.name), named.name, definition)
        merged: list[NSel] = []
        for occurrence in occurrences:
            merged.extend(occurrence.selections or ())
        return self._measured_value(named.name, weight, merged, value, first.selections is None)

    def _measured_value(
        self, type_name: str, weight: int, selections: list[NSel], value: Any, leaf: bool
    ) -> int:
        if value is None:
            return 0
        if isinstance(value, list):
            return sum(self._measured_value(type_name, weight, selections, v, leaf) for v in value)
        if leaf or not isinstance(value, dict):
            return weight
        return weight + self._measured(type_name, selections, value)

    # Shared ---------------------------------------------------------------------------------

    def _definition(self, parent: str, name: str) -> GraphQLOutputType | None:
        gtype = self.schema.type_map.get(parent)
        if not isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType):
            return None
        field = gtype.fields.get(name)
        return None if field is None else field.type

    def _weight(self, coordinate: tuple[str, str], named: str, definition: Any) -> int:
        own = self.field_costs.get(coordinate)
        if own is not None:
            return own
        by_type = self.type_costs.get(named)
        if by_type is not None:
            return by_type
        gtype = get_named_type(definition)
        return (
            1
            if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
            else 0
        )


def _is_list(definition: GraphQLOutputType) -> bool:
    inner = definition.of_type if isinstance(definition, GraphQLNonNull) else definition
    return isinstance(inner, GraphQLList)
