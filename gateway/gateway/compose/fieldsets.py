"""Field sets: the selection strings inside `@key`, `@requires` and `@provides`.

A field set is parsed as the body of a selection set and checked against the subgraph
that wrote it: every named field must exist there, keys may not select abstract types or
fields with arguments, and a composite field needs a sub-selection.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from graphql import GraphQLError, parse
from graphql.language import FieldNode, InlineFragmentNode, OperationDefinitionNode


@dataclass(frozen=True, slots=True)
class Selection:
    """One field of a field set, or an inline fragment when `type_condition` is set."""

    name: str
    children: tuple[Selection, ...] = ()
    has_args: bool = False
    has_alias: bool = False
    type_condition: str | None = None


class FieldSetSyntaxError(ValueError):
    """The string is not a valid selection set body."""


def parse_field_set(text: str) -> tuple[Selection, ...]:
    """Parse `"id owner { id }"` into selections; raises `FieldSetSyntaxError`."""
    try:
        document = parse("{" + text + "}", no_location=True)
    except GraphQLError as exc:
        raise FieldSetSyntaxError(exc.message) from exc
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return _convert(operation.selection_set.selections)


def _convert(nodes: object) -> tuple[Selection, ...]:
    out: list[Selection] = []
    for node in nodes:  # type: ignore[attr-defined]
        if isinstance(node, FieldNode):
            children = _convert(node.selection_set.selections) if node.selection_set else ()
            out.append(
                Selection(
                    name=node.name.value,
                    children=children,
                    has_args=bool(node.arguments),
                    has_alias=node.alias is not None,
                )
            )
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            out.append(
                Selection(
                    name="",
                    children=_convert(node.selection_set.selections),
                    type_condition=condition,
                )
            )
        else:
            raise FieldSetSyntaxError("named fragment spreads are not allowed in a field set")
    return tuple(out)


def top_level_names(selections: tuple[Selection, ...]) -> Iterator[str]:
    """Names of the fields selected directly (through inline fragments too)."""
    for selection in selections:
        if selection.type_condition is not None or not selection.name:
            yield from top_level_names(selection.children)
        else:
            yield selection.name
