"""Cost limits on an operation's shape: depth, aliases, root fields, document size.

They are checked on the parsed document before anything is planned, so an abusive
query costs the gateway one parse and nothing downstream. Fragments are expanded as
the executor would expand them, with each fragment measured once (memoised), so a
"fragment bomb" cannot make the check itself expensive. Introspection fields
(`__schema`, `__type`) are not counted: introspection is switched on or off as a whole.
A fragment cycle counts as nothing here; validation rejects it afterwards.

Every violation is a GraphQL request error with `extensions.code` BAD_USER_INPUT and a
`reason` naming the limit (DOCUMENT_TOO_LARGE, DEPTH_LIMIT_EXCEEDED,
ALIAS_LIMIT_EXCEEDED, ROOT_FIELD_LIMIT_EXCEEDED), plus `limit` and `actual`.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from gateway.edge.errors import EdgeError

BAD_USER_INPUT = "BAD_USER_INPUT"


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_root_fields: int = 20
    max_document_bytes: int = 32_768


@dataclass(frozen=True, slots=True)
class Shape:
    """What the limits measure about one operation."""

    depth: int
    aliases: int
    root_fields: int


def check_size(query: str, limits: Limits) -> None:
    size = len(query.encode()) if not query.isascii() else len(query)
    if size > limits.max_document_bytes:
        raise _violation(
            "DOCUMENT_TOO_LARGE", f"The document is {size} bytes", limits.max_document_bytes, size
        )


def measure(document: DocumentNode, operation: OperationDefinitionNode) -> Shape:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _Measure(fragments).operation(operation)


def check_shape(shape: Shape, limits: Limits) -> None:
    if shape.depth > limits.max_depth:
        raise _violation(
            "DEPTH_LIMIT_EXCEEDED", "The query is too deep", limits.max_depth, shape.depth
        )
    if shape.aliases > limits.max_aliases:
        raise _violation(
            "ALIAS_LIMIT_EXCEEDED",
            "The query uses too many aliases",
            limits.max_aliases,
            shape.aliases,
        )
    if shape.root_fields > limits.max_root_fields:
        raise _violation(
            "ROOT_FIELD_LIMIT_EXCEEDED",
            "The query selects too many root fields",
            limits.max_root_fields,
            shape.root_fields,
        )


def _violation(reason: str, what: str, limit: int, actual: int) -> EdgeError:
    return EdgeError(
        f"{what}: {actual}, the limit is {limit}.",
        code=BAD_USER_INPUT,
        reason=reason,
        limit=limit,
        actual=actual,
    )


class _Measure:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._memo: dict[str, tuple[int, int]] = {}
        self._root_memo: dict[str, int] = {}
        self._visiting: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> Shape:
        depth, aliases = self._selection_set(operation.selection_set)
        return Shape(depth, aliases, self._root_fields(operation.selection_set))

    def _selection_set(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        """(depth, aliases) of a selection set; a leaf field has depth 1."""
        if selection_set is None:
            return 0, 0
        depth = 0
        aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    aliases += 1
                if selection.name.value in ("__schema", "__type"):
                    continue
                sub_depth, sub_aliases = self._selection_set(selection.selection_set)
                depth = max(depth, sub_depth + 1)
                aliases += sub_aliases
            elif isinstance(selection, InlineFragmentNode):
                sub_depth, sub_aliases = self._selection_set(selection.selection_set)
                depth = max(depth, sub_depth)
                aliases += sub_aliases
            elif isinstance(selection, FragmentSpreadNode):
                sub_depth, sub_aliases = self._fragment(selection.name.value)
                depth = max(depth, sub_depth)
                aliases += sub_aliases
        return depth, aliases

    def _fragment(self, name: str) -> tuple[int, int]:
        known = self._memo.get(name)
        if known is not None:
            return known
        fragment = self._fragments.get(name)
        if fragment is None or name in self._visiting:
            return 0, 0
        self._visiting.add(name)
        try:
            result = self._selection_set(fragment.selection_set)
        finally:
            self._visiting.discard(name)
        self._memo[name] = result
        return result

    def _root_fields(self, selection_set: SelectionSetNode) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self._root_fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment_root_fields(selection.name.value)
        return count

    def _fragment_root_fields(self, name: str) -> int:
        known = self._root_memo.get(name)
        if known is not None:
            return known
        fragment = self._fragments.get(name)
        if fragment is None or name in self._visiting:
            return 0
        self._visiting.add(name)
        try:
            count = self._root_fields(fragment.selection_set)
        finally:
            self._visiting.discard(name)
        self._root_memo[name] = count
        return count
