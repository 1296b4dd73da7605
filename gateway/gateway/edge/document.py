"""Parse a client document once, pick the operation, and check it against the limits.

The outcome (the operation's kind, or the error to answer with) is cached per
(document, operation name) in a bounded LRU, so a hot query costs one dictionary look-up
at the edge. Failures are cached too: a client replaying a broken or over-limit query
does not make the gateway parse it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

from gateway.edge.errors import EdgeError
from gateway.edge.limits import Limits, check_shape, check_size, measure

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
_INTROSPECTION_FIELDS = frozenset(("__schema", "__type"))


@dataclass(frozen=True, slots=True)
class Operation:
    """What the edge needs to know about the operation a request runs."""

    kind: str  # "query", "mutation" or "subscription"
    name: str | None
    introspection: bool


class DocumentAnalyser:
    """Turns (query, operationName) into an `Operation`, or raises the `EdgeError` to send."""

    def __init__(self, limits: Limits, *, introspection: bool, cache_size: int = 2048) -> None:
        self._limits = limits
        self._introspection = introspection
        self._cache: LRUCache[tuple[str, str | None], Operation | EdgeError] = LRUCache(
            max(cache_size, 1)
        )

    def analyse(self, query: str, operation_name: str | None) -> Operation:
        key = (query, operation_name)
        cached = self._cache.get(key)
        if cached is None:
            check_size(query, self._limits)
            try:
                cached = self._analyse(query, operation_name)
            except EdgeError as error:
                cached = error
            self._cache[key] = cached
        if isinstance(cached, EdgeError):
            # The cached error is raised again and again: drop the previous traceback so
            # it does not grow by a frame with every request.
            raise cached.with_traceback(None)
        return cached

    def _analyse(self, query: str, operation_name: str | None) -> Operation:
        try:
            document = parse(query, no_location=False)
        except GraphQLSyntaxError as error:
            locations = [{"line": loc.line, "column": loc.column} for loc in error.locations or []]
            raise EdgeError(error.message, code=PARSE_FAILED, locations=locations) from None
        operation = _select_operation(document, operation_name)
        check_shape(measure(document, operation, list_size=self._limits.list_size), self._limits)
        introspection = _selects_introspection(document, operation.selection_set, set())
        if introspection and not self._introspection:
            raise EdgeError(
                "GraphQL introspection is not allowed by this gateway.", code=VALIDATION_FAILED
            )
        name = operation.name.value if operation.name else None
        return Operation(operation.operation.value, name, introspection)


def _select_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise EdgeError("The document contains no operation.", code=VALIDATION_FAILED)
    if name is None:
        if len(operations) > 1:
            raise EdgeError(
                "The document contains several operations: operationName is required.",
                code=VALIDATION_FAILED,
            )
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise EdgeError(f"Unknown operation named '{name}'.", code=VALIDATION_FAILED)


def _selects_introspection(
    document: DocumentNode, selection_set: SelectionSetNode, visited: set[str]
) -> bool:
    """Whether the operation selects `__schema`/`__type`; each fragment is looked at once."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value in _INTROSPECTION_FIELDS:
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects_introspection(document, selection.selection_set, visited):
                return True
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in visited:
            name = selection.name.value
            visited.add(name)
            for definition in document.definitions:
                if (
                    isinstance(definition, FragmentDefinitionNode)
                    and definition.name.value == name
                    and _selects_introspection(document, definition.selection_set, visited)
                ):
                    return True
    return False
