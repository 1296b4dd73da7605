"""The client operation, normalised: fragments spread inline, `@skip`/`@include` decided.

Planning and response shaping both walk this form instead of the graphql-core AST, so
neither needs to know about named fragments, directives or variable definitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    Visitor,
    print_ast,
    visit,
)

from gateway.supergraph import ClientDirective

__all__ = [
    "NField",
    "NFragment",
    "NSel",
    "collect_fields",
    "condition_variables",
    "fragment_applies",
    "has_defer",
    "has_stream",
    "normalize",
    "without_deferred",
]


@dataclass(frozen=True, slots=True, eq=False)
class NField:
    """One field as the client asked for it."""

    key: str  # response key: alias or name
    name: str
    args: str  # printed argument list, "(a: $x)" or ""
    variables: frozenset[str]
    selections: tuple[NSel, ...] | None  # None for a leaf
    # `@stream` on a list field, its `if` true: (label or "", initialCount).
    stream: tuple[str, int] | None = None
    # The API's own executable directives on the field, sent on with it to the subgraphs
    # that define them: (name, printed with every default written out, variables used).
    directives: tuple[tuple[str, str, frozenset[str]], ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class NFragment:
    """An inline fragment (named fragments are spread into these).

    `defer` is set when the fragment is deferred (`@defer`, its `if` true): its label,
    or "" without one.
    """

    type_condition: str | None
    selections: tuple[NSel, ...]
    defer: str | None = None


NSel = NField | NFragment


class _VariableCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


def _variables_in(node: Any) -> frozenset[str]:
    collector = _VariableCollector()
    visit(node, collector)
    return frozenset(collector.names)


def condition_variables(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """Variables of `@skip`/`@include`/`@defer(if:)`: their values select the plan (cache key)."""
    found: set[str] = set()

    def walk(selection_set: SelectionSetNode | None, seen: set[str]) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                if directive.name.value in ("skip", "include", "defer", "stream"):
                    found.update(_variables_in(directive))
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    walk(fragments[name].selection_set, seen | {name})
            elif isinstance(selection, FieldNode | InlineFragmentNode):
                walk(selection.selection_set, seen)

    walk(operation.selection_set, set())
    return tuple(sorted(found))


def _included(directives: Sequence[DirectiveNode] | None, variables: Mapping[str, Any]) -> bool:
    for directive in directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        value: ValueNode | None = None
        for arg in directive.arguments or ():
            if arg.name.value == "if":
                value = arg.value
        if isinstance(value, BooleanValueNode):
            flag = value.value
        elif isinstance(value, VariableNode):
            flag = variables.get(value.name.value) is True
        else:
            continue
        if (name == "skip") == flag:
            return False
    return True


def _deferred(
    directives: Sequence[DirectiveNode] | None, variables: Mapping[str, Any]
) -> str | None:
    """The label of an applying `@defer` ("" when unlabelled), None when not deferred."""
    for directive in directives or ():
        if directive.name.value != "defer":
            continue
        label = ""
        for arg in directive.arguments or ():
            value = arg.value
            if arg.name.value == "if":
                if isinstance(value, VariableNode):
                    if variables.get(value.name.value) is False:
                        return None
                elif isinstance(value, BooleanValueNode) and not value.value:
                    return None
            elif arg.name.value == "label" and hasattr(value, "value"):
                label = str(value.value)
        return label
    return None


def _streamed(
    directives: Sequence[DirectiveNode] | None, variables: Mapping[str, Any]
) -> tuple[str, int] | None:
    """`@stream`'s (label, initialCount) when it applies to a field, else None."""
    for directive in directives or ():
        if directive.name.value != "stream":
            continue
        label, initial = "", 0
        for arg in directive.arguments or ():
            value = arg.value
            if isinstance(value, VariableNode):
                found = variables.get(value.name.value)
            else:
                found = getattr(value, "value", None)
            if arg.name.value == "if" and (found is False or found == "false"):
                return None
            if arg.name.value == "label" and found is not None:
                label = str(found)
            elif arg.name.value == "initialCount" and found is not None:
                initial = max(0, int(found))
        return label, initial
    return None


def has_defer(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    """Whether the operation uses `@defer` anywhere (its own fragments included)."""

    def walk(selection_set: SelectionSetNode | None, seen: frozenset[str]) -> bool:
        if selection_set is None:
            return False
        for selection in selection_set.selections:
            if any(d.name.value in ("defer", "stream") for d in selection.directives or ()):
                return True
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                inner = fragments[name].selection_set if name in fragments else None
                if name not in seen and walk(inner, seen | {name}):
                    return True
            elif isinstance(selection, FieldNode | InlineFragmentNode) and walk(
                selection.selection_set, seen
            ):
                return True
        return False

    return walk(operation.selection_set, frozenset())


def _forwarded(
    directives: Sequence[DirectiveNode], known: Mapping[str, ClientDirective]
) -> tuple[tuple[str, str, frozenset[str]], ...]:
    """A field's directives for the subgraphs, each argument the client left out that has
    a default written out (a subgraph may require what the API defaults)."""
    out = []
    for directive in directives:
        definition = known.get(directive.name.value)
        if definition is None:
            continue  # the gateway's own (`@skip`, `@defer` ...): decided here
        args = [(arg.name.value, print_ast(arg.value)) for arg in directive.arguments or ()]
        given = {name for name, _ in args}
        args += [(name, value) for name, value in definition.defaults if name not in given]
        text = "@" + definition.name
        if args:
            text += "(" + ", ".join(f"{name}: {value}" for name, value in args) + ")"
        out.append((definition.name, text, _variables_in(directive)))
    return tuple(out)


def normalize(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    directives: Mapping[str, ClientDirective] | None = None,
) -> tuple[NSel, ...]:
    """Turn a selection set into `NSel`s; `variables` decide `@skip`/`@include`.

    `directives` are the API's executable directives a field may carry on to subgraphs.
    """
    known = directives or {}
    out: list[NSel] = []
    for selection in selection_set.selections:
        if not _included(selection.directives, variables):
            continue
        if isinstance(selection, FieldNode):
            args = ""
            used: frozenset[str] = frozenset()
            if selection.arguments:
                args = "(" + ", ".join(print_ast(arg) for arg in selection.arguments) + ")"
                used = frozenset().union(*(_variables_in(arg) for arg in selection.arguments))
            sub = (
                normalize(selection.selection_set, fragments, variables, known)
                if selection.selection_set is not None
                else None
            )
            out.append(
                NField(
                    key=selection.alias.value if selection.alias else selection.name.value,
                    name=selection.name.value,
                    args=args,
                    variables=used,
                    selections=sub,
                    stream=_streamed(selection.directives, variables)
                    if selection.directives
                    else None,
                    directives=_forwarded(selection.directives, known)
                    if selection.directives and known
                    else (),
                )
            )
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            out.append(
                NFragment(
                    condition,
                    normalize(selection.selection_set, fragments, variables, known),
                    _deferred(selection.directives, variables),
                )
            )
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            out.append(
                NFragment(
                    fragment.type_condition.name.value,
                    normalize(fragment.selection_set, fragments, variables, known),
                    _deferred(selection.directives, variables),
                )
            )
    return tuple(out)


def fragment_applies(schema: GraphQLSchema, condition: str, type_name: str) -> bool:
    """Whether a fragment on `condition` applies to a value of `type_name` (object or interface)."""
    if condition == type_name:
        return True
    cond = schema.type_map.get(condition)
    actual = schema.type_map.get(type_name)
    if not isinstance(cond, GraphQLInterfaceType | GraphQLUnionType) or actual is None:
        return False
    if isinstance(actual, GraphQLObjectType):
        return schema.is_sub_type(cond, actual)
    if isinstance(actual, GraphQLInterfaceType) and isinstance(cond, GraphQLInterfaceType):
        return cond in actual.interfaces
    return False


def collect_fields(
    schema: GraphQLSchema, type_name: str, selections: Sequence[NSel]
) -> dict[str, list[NField]]:
    """Fields selected on `type_name`, by response key, in the order the client wrote them."""
    fields: dict[str, list[NField]] = {}

    def walk(items: Sequence[NSel]) -> None:
        for selection in items:
            if isinstance(selection, NField):
                fields.setdefault(selection.key, []).append(selection)
            elif selection.type_condition is None or fragment_applies(
                schema, selection.type_condition, type_name
            ):
                walk(selection.selections)

    walk(selections)
    return fields


def without_deferred(selections: Sequence[NSel]) -> tuple[NSel, ...]:
    """The selections with every deferred fragment left out (what the first payload holds)."""
    out: list[NSel] = []
    for selection in selections:
        if isinstance(selection, NFragment):
            if selection.defer is None:
                out.append(
                    NFragment(selection.type_condition, without_deferred(selection.selections))
                )
        elif selection.selections is None:
            out.append(selection)
        else:
            out.append(
                NField(
                    selection.key,
                    selection.name,
                    selection.args,
                    selection.variables,
                    without_deferred(selection.selections),
                    selection.stream,
                    selection.directives,
                )
            )
    return tuple(out)


def has_stream(selections: Sequence[NSel]) -> bool:
    """Whether any field of the selections is streamed (`@stream`)."""
    for selection in selections:
        if isinstance(selection, NFragment):
            if has_stream(selection.selections):
                return True
        elif selection.stream is not None or (
            selection.selections is not None and has_stream(selection.selections)
        ):
            return True
    return False
