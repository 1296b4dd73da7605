"""Cost limits on an operation's shape: depth, aliases, root fields, fields, estimated
result size, document size.

They are checked on the parsed document before anything is validated or planned, so an
abusive query costs the gateway one parse and nothing downstream. Fragments are expanded
as the executor would expand them, but each fragment is measured once (memoised) and the
totals are sums and products of those measures, so a "fragment bomb" (a fragment that
spreads another twice, forty levels deep: 2^40 fields from a few hundred bytes) is counted
exactly in linear time and refused, never expanded. The estimated result size multiplies
what is below a field by its page size (`first`/`last`; a variable counts as the largest
page a list serves), so `first: 100` three levels deep counts as a million. Introspection fields
(`__schema`, `__type`) are not counted: introspection is switched on or off as a whole.
A fragment cycle counts as nothing here; validation rejects it afterwards.

Every violation is a GraphQL request error with `extensions.code` BAD_USER_INPUT and a
`reason` naming the limit (DOCUMENT_TOO_LARGE, DEPTH_LIMIT_EXCEEDED,
ALIAS_LIMIT_EXCEEDED, ROOT_FIELD_LIMIT_EXCEEDED, FIELD_LIMIT_EXCEEDED, COST_LIMIT_EXCEEDED),
plus `limit` and `actual`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from gateway.edge.errors import EdgeError

BAD_USER_INPUT = "BAD_USER_INPUT"
T = TypeVar("T")
DEFAULT_LIST_SIZE = 100


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_root_fields: int = 20
    max_document_bytes: int = 32_768
    max_fields: int = 2_000  # fields once every fragment is expanded
    max_cost: int = 100_000  # estimated values in the result
    list_size: int = DEFAULT_LIST_SIZE  # page size assumed for `first`/`last` given by a variable


@dataclass(frozen=True, slots=True)
class Shape:
    """What the limits measure about one operation."""

    depth: int
    aliases: int
    root_fields: int
    fields: int = 0
    cost: int = 0


def check_size(query: str, limits: Limits) -> None:
    size = len(query.encode()) if not query.isascii() else len(query)
    if size > limits.max_document_bytes:
        raise _violation(
            "DOCUMENT_TOO_LARGE", f"The document is {size} bytes", limits.max_document_bytes, size
        )


def measure(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    *,
    list_size: int = DEFAULT_LIST_SIZE,
) -> Shape:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _Measure(fragments, list_size=list_size).operation(operation)


def check_shape(shape: Shape, limits: Limits) -> None:
    """The first limit the shape exceeds, as a coded request error (in this order)."""
    checks = (
        ("DEPTH_LIMIT_EXCEEDED", "The query is too deep", limits.max_depth, shape.depth),
        (
            "ALIAS_LIMIT_EXCEEDED",
            "The query uses too many aliases",
            limits.max_aliases,
            shape.aliases,
        ),
        (
            "ROOT_FIELD_LIMIT_EXCEEDED",
            "The query selects too many root fields",
            limits.max_root_fields,
            shape.root_fields,
        ),
        (
            "FIELD_LIMIT_EXCEEDED",
            "The query selects too many fields once its fragments are expanded",
            limits.max_fields,
            shape.fields,
        ),
        (
            "COST_LIMIT_EXCEEDED",
            "The query's estimated result is too large",
            limits.max_cost,
            shape.cost,
        ),
    )
    for reason, what, limit, actual in checks:
        if actual > limit:
            raise _violation(reason, what, limit, actual)


def _violation(reason: str, what: str, limit: int, actual: int) -> EdgeError:
    return EdgeError(
        f"{what}: {actual}, the limit is {limit}.",
        code=BAD_USER_INPUT,
        reason=reason,
        limit=limit,
        actual=actual,
    )


# Counts stop growing here: far past any limit, and the numbers stay small.
_CAP = 10**15

_PAGE_ARGUMENTS = ("first", "last")


@dataclass(frozen=True, slots=True)
class _Size:
    depth: int = 0
    aliases: int = 0
    fields: int = 0
    cost: int = 0

    def __add__(self, other: _Size) -> _Size:
        return _Size(
            max(self.depth, other.depth),
            min(self.aliases + other.aliases, _CAP),
            min(self.fields + other.fields, _CAP),
            min(self.cost + other.cost, _CAP),
        )


class _Measure:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], *, list_size: int) -> None:
        self._fragments = fragments
        self._list_size = list_size
        self._memo: dict[str, _Size] = {}
        self._root_memo: dict[str, int] = {}
        self._visiting: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> Shape:
        size = self._selection_set(operation.selection_set)
        return Shape(
            size.depth,
            size.aliases,
            self._root_fields(operation.selection_set),
            fields=size.fields,
            cost=size.cost,
        )

    def _selection_set(self, selection_set: SelectionSetNode | None) -> _Size:
        """The measures of a selection set; a leaf field has depth 1 and costs 1."""
        total = _Size()
        if selection_set is None:
            return total
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                alias = 1 if selection.alias is not None else 0
                if selection.name.value in ("__schema", "__type"):
                    total = total + _Size(aliases=alias)
                    continue
                below = self._selection_set(selection.selection_set)
                page = self._page_size(selection)
                total = total + _Size(
                    depth=below.depth + 1,
                    aliases=alias + below.aliases,
                    fields=1 + below.fields,
                    cost=min(1 + page * below.cost, _CAP),
                )
            elif isinstance(selection, InlineFragmentNode):
                total = total + self._selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total = total + self._fragment(selection.name.value)
        return total

    def _page_size(self, field: FieldNode) -> int:
        """How many items a field's list may hold, from its `first`/`last` argument."""
        for argument in field.arguments or ():
            if argument.name.value not in _PAGE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(1, min(int(value.value), _CAP))
            if isinstance(value, VariableNode):
                return self._list_size
        return 1

    def _fragment(self, name: str) -> _Size:
        return self._once(name, self._memo, self._selection_set, _Size())

    def _root_fields(self, selection_set: SelectionSetNode) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self._root_fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment_root_fields(selection.name.value)
        return min(count, _CAP)

    def _fragment_root_fields(self, name: str) -> int:
        return self._once(name, self._root_memo, self._root_fields, 0)

    def _once(
        self,
        name: str,
        memo: dict[str, T],
        measure: Callable[[SelectionSetNode], T],
        in_cycle: T,
    ) -> T:
        """A fragment's measure, computed once; a missing fragment or a cycle counts as `in_cycle`."""
        known = memo.get(name)
        if known is not None:
            return known
        fragment = self._fragments.get(name)
        if fragment is None or name in self._visiting:
            return in_cycle
        self._visiting.add(name)
        try:
            result = measure(fragment.selection_set)
        finally:
            self._visiting.discard(name)
        memo[name] = result
        return result
