"""Directives a subgraph asks composition to keep (`@composeDirective`).

A subgraph links its own spec (`@link(url: "https://example.dev/access/v1.0", import:
["@access"])`), defines the directive and names it in `@composeDirective(name:
"@access")`. The supergraph then carries that link and one definition merged from every
subgraph that composes it: the union of arguments (the same type everywhere, a default
given anywhere kept, two different defaults refused), the union of locations, repeatable
only where all agree. Which subgraphs define it is written on the schema as
`@join__directive(graphs: [..], name: "composeDirective", args: {name: "@access"})`,
so the gateway sends a client's executable directive only to the subgraphs that know it.
Where subgraphs apply a composed directive to their types, fields, arguments or enum
values, the supergraph carries the application (`reader.py` records it, `fields.py`
merges it: each distinct application once, of a non-repeatable directive the first
subgraph's only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from graphql.language import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    ListValueNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    ValueNode,
)

from .model import SArgument
from .subgraph import Argument
from .typeref import TypeRef
from .types import IssueLog

__all__ = ["ComposedDirective", "SDirective", "merge_composed", "read_composed"]

CODE = "DIRECTIVE_COMPOSITION_ERROR"

#: The order GraphQL lists directive locations in, which the merged definition keeps.
LOCATION_ORDER = (
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
)


@dataclass(slots=True)
class ComposedDirective:
    """One subgraph's definition of a directive it composes, and the spec it links."""

    name: str
    url: str
    args: list[Argument]
    locations: tuple[str, ...]
    repeatable: bool
    description: str | None = None


@dataclass(slots=True)
class SDirective:
    """A composed directive as the supergraph prints it; `graphs` are `join__Graph` values."""

    name: str
    url: str
    args: list[SArgument]
    locations: list[str]
    repeatable: bool
    description: str | None = None
    graphs: list[str] = field(default_factory=list)


def read_composed(
    document: DocumentNode,
    subgraph: str,
    canonical: Callable[[str], str | None],
    rename: Callable[[str], str],
    print_value: Callable[[ValueNode], str],
    issues: IssueLog,
) -> dict[str, ComposedDirective]:
    """The directives `document` composes, each with its definition and linked spec."""
    named: list[str] = []
    imported: dict[str, str] = {}  # directive name -> url of the @link importing it
    for definition in document.definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for directive in definition.directives or ():
            if directive.name.value == "link":
                _read_import(directive, imported)
            elif canonical(directive.name.value) == "composeDirective":
                value = _argument(directive, "name")
                if isinstance(value, StringValueNode) and value.value.startswith("@"):
                    named.append(value.value[1:])
                else:
                    issues.add(
                        CODE,
                        f'[{subgraph}] @composeDirective needs a name such as "@example"',
                        [subgraph],
                    )
    definitions = {
        d.name.value: d for d in document.definitions if isinstance(d, DirectiveDefinitionNode)
    }
    out: dict[str, ComposedDirective] = {}
    for name in named:
        node = definitions.get(name)
        if canonical(name) is not None:
            issues.add(
                CODE,
                f'[{subgraph}] @composeDirective(name: "@{name}") names a federation directive, '
                "which composition handles itself",
                [subgraph],
            )
        elif node is None:
            issues.add(
                CODE,
                f'[{subgraph}] @composeDirective(name: "@{name}") names a directive the '
                "subgraph does not define",
                [subgraph],
            )
        elif name not in imported:
            issues.add(
                CODE,
                f'[{subgraph}] @composeDirective(name: "@{name}"): the directive must come '
                'from a spec the subgraph links (@link(url: ..., import: ["@' + name + '"]))',
                [subgraph],
            )
        else:
            out[name] = _definition(node, imported[name], rename, print_value)
    return out


def _read_import(link: DirectiveNode, imported: dict[str, str]) -> None:
    url = _argument(link, "url")
    names = _argument(link, "import")
    if not isinstance(url, StringValueNode) or "specs.apollo.dev/" in url.value:
        return
    if isinstance(names, ListValueNode):
        for item in names.values:
            if isinstance(item, StringValueNode) and item.value.startswith("@"):
                imported[item.value[1:]] = url.value


def _argument(directive: DirectiveNode, name: str) -> object:
    return next((a.value for a in directive.arguments or () if a.name.value == name), None)


def _definition(
    node: DirectiveDefinitionNode,
    url: str,
    rename: Callable[[str], str],
    print_value: Callable[[ValueNode], str],
) -> ComposedDirective:
    args = [
        Argument(
            arg.name.value,
            TypeRef.from_ast(arg.type, rename),
            arg.description.value if arg.description else None,
            print_value(arg.default_value) if arg.default_value else None,
        )
        for arg in node.arguments or ()
    ]
    return ComposedDirective(
        node.name.value,
        url,
        args,
        tuple(location.value for location in node.locations),
        node.repeatable,
        node.description.value if node.description else None,
    )


def merge_composed(
    definitions: Sequence[tuple[str, Mapping[str, ComposedDirective]]],
    graph_enum: Mapping[str, str],
    issues: IssueLog,
) -> list[SDirective]:
    """One definition per composed directive from (subgraph, its composed directives) pairs."""
    merged: dict[str, SDirective] = {}
    for subgraph, composed in definitions:
        for name, directive in composed.items():
            found = merged.get(name)
            if found is None:
                merged[name] = SDirective(
                    name,
                    directive.url,
                    [SArgument(a.name, a.type, a.description, a.default) for a in directive.args],
                    list(directive.locations),
                    directive.repeatable,
                    directive.description,
                    [graph_enum[subgraph]],
                )
                continue
            _merge_into(found, directive, subgraph, issues)
            found.graphs.append(graph_enum[subgraph])
    for composed_directive in merged.values():
        composed_directive.locations.sort(key=LOCATION_ORDER.index)
    return list(merged.values())


def _merge_into(
    found: SDirective, directive: ComposedDirective, subgraph: str, issues: IssueLog
) -> None:
    if directive.url != found.url:
        issues.add(
            CODE,
            f'[{subgraph}] @{found.name} is linked from "{directive.url}", elsewhere from '
            f'"{found.url}": a composed directive comes from one spec',
            [subgraph],
        )
    by_name = {arg.name: arg for arg in found.args}
    for arg in directive.args:
        known = by_name.get(arg.name)
        if known is None:
            found.args.append(SArgument(arg.name, arg.type, arg.description, arg.default))
            continue
        if known.type != arg.type:
            issues.add(
                CODE,
                f'[{subgraph}] argument "{arg.name}" of @{found.name} is {arg.type}, '
                f"elsewhere {known.type}",
                [subgraph],
            )
        if arg.default is not None and known.default not in (None, arg.default):
            issues.add(
                CODE,
                f'[{subgraph}] argument "{arg.name}" of @{found.name} defaults to '
                f"{arg.default}, elsewhere to {known.default}",
                [subgraph],
            )
        known.default = known.default or arg.default
        known.description = known.description or arg.description
    found.locations.extend(loc for loc in directive.locations if loc not in found.locations)
    found.repeatable = found.repeatable and directive.repeatable
    found.description = found.description or directive.description
