"""Printing the supergraph SDL in the layout Apollo composition writes.

Definitions come in a fixed order (schema, directive definitions, then types) with
directive definitions and types sorted by name the way JavaScript's `localeCompare`
sorts them; a type's own directives go one per line before its body, a field's stay on
its line, each in the order composition applies them.
"""

from __future__ import annotations

import json

from . import guards
from .directives import SDirective
from .model import JoinField, JoinType, SArgument, SEnumValue, SField, SType, Supergraph
from .subgraph import ENUM, INPUT, INTERFACE, OBJECT, SCALAR, UNION

LINK_SPEC = "https://specs.apollo.dev/link/v1.0"
JOIN_SPEC = "https://specs.apollo.dev/join/v0.5"
CONTEXT_SPEC = "https://specs.apollo.dev/context/v0.1"
TAG_SPEC = "https://specs.apollo.dev/tag/v0.3"
INACCESSIBLE_SPEC = "https://specs.apollo.dev/inaccessible/v0.2"

_ALL_LOCATIONS = (
    "FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | "
    "ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)

DIRECTIVE_DEFINITIONS = {
    "context": "directive @context(name: String!) repeatable on INTERFACE | OBJECT | UNION",
    "context__fromContext": (
        "directive @context__fromContext(field: context__ContextFieldValue) on ARGUMENT_DEFINITION"
    ),
    "inaccessible": f"directive @inaccessible on {_ALL_LOCATIONS}",
    "join__directive": (
        "directive @join__directive(graphs: [join__Graph!], name: String!, args: "
        "join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION"
    ),
    "join__enumValue": "directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE",
    "join__field": (
        "directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: "
        "join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: "
        "Boolean, overrideLabel: String, contextArguments: [join__ContextArgument!]) "
        "repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION"
    ),
    "join__graph": "directive @join__graph(name: String!, url: String!) on ENUM_VALUE",
    "join__implements": (
        "directive @join__implements(graph: join__Graph!, interface: String!) repeatable on "
        "OBJECT | INTERFACE"
    ),
    "join__type": (
        "directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = "
        "false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on "
        "OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR"
    ),
    "join__unionMember": (
        "directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION"
    ),
    "link": (
        "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) "
        "repeatable on SCHEMA"
    ),
    "tag": f"directive @tag(name: String!) repeatable on {_ALL_LOCATIONS} | SCHEMA",
}

JOIN_CONTEXT_ARGUMENT = """input join__ContextArgument {
  name: String!
  type: String!
  context: String!
  selection: join__FieldValue!
}"""

LINK_PURPOSE = '''enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY

  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}'''


def sort_key(name: str) -> tuple[str, str]:
    """Approximates `a.localeCompare(b)`: case-insensitive first, `_` before letters and digits,
    lower case before upper case on ties."""
    return name.lower().replace("_", "\x00"), name.swapcase()


def string(value: str) -> str:
    """A GraphQL string literal (JSON escaping is a valid subset of GraphQL's)."""
    return json.dumps(value, ensure_ascii=False)


def block_string(value: str, prefer_multiple_lines: bool) -> str:
    is_single_line = "\n" not in value
    has_leading_space = value[:1] in (" ", "\t")
    has_trailing_quote = value.endswith('"')
    has_trailing_slash = value.endswith("\\")
    multiple = (
        not is_single_line or has_trailing_quote or has_trailing_slash or prefer_multiple_lines
    )
    result = ""
    if multiple and not (is_single_line and has_leading_space):
        result += "\n"
    result += value
    if multiple:
        result += "\n"
    return '"""' + result.replace('"""', '\\"""') + '"""'


def description(text: str | None, indentation: str = "", first_in_block: bool = True) -> str:
    if text is None:
        return ""
    printed = block_string(text, len(text) > 70)
    prefix = "\n" + indentation if indentation and not first_in_block else indentation
    return prefix + printed.replace("\n", "\n" + indentation) + "\n"


def _split(directives: list[str]) -> tuple[list[str], list[str]]:
    """`@inaccessible` (applied early by composition) apart from the other merged directives."""
    early = [d for d in directives if d == "@inaccessible"]
    return early, [d for d in directives if d != "@inaccessible"]


def join_type(join: JoinType) -> str:
    args = [f"graph: {join.graph}"]
    if join.key is not None:
        args.append(f"key: {string(join.key)}")
    if join.extension:
        args.append("extension: true")
    if join.resolvable is not None:
        args.append(f"resolvable: {'true' if join.resolvable else 'false'}")
    if join.interface_object:
        args.append("isInterfaceObject: true")
    return f"@join__type({', '.join(args)})"


def join_field(join: JoinField) -> str:
    args: list[str] = []
    if join.graph is not None:
        args.append(f"graph: {join.graph}")
    if join.requires is not None:
        args.append(f"requires: {string(join.requires)}")
    if join.provides is not None:
        args.append(f"provides: {string(join.provides)}")
    if join.override is not None:
        args.append(f"override: {string(join.override)}")
    if join.override_label is not None:
        args.append(f"overrideLabel: {string(join.override_label)}")
    if join.type is not None:
        args.append(f"type: {string(join.type)}")
    if join.external:
        args.append("external: true")
    if join.used_overridden:
        args.append("usedOverridden: true")
    if join.context_arguments:
        args.append(f"contextArguments: [{', '.join(join.context_arguments)}]")
    return f"@join__field({', '.join(args)})" if args else "@join__field"


def _argument(arg: SArgument) -> str:
    text = f"{arg.name}: {arg.type}"
    if arg.default is not None:
        text += f" = {arg.default}"
    for applied in arg.directives:
        text += " " + applied
    return text


def _arguments(args: list[SArgument], indentation: str) -> str:
    if not args:
        return ""
    if all(a.description is None for a in args):
        return "(" + ", ".join(_argument(a) for a in args) + ")"
    lines = [
        description(a.description, "  " + indentation, i == 0) + "  " + indentation + _argument(a)
        for i, a in enumerate(args)
    ]
    return "(\n" + "\n".join(lines) + "\n" + indentation + ")"


def _field(item: SField, first: bool) -> str:
    text = description(item.description, "  ", first) + "  " + item.name
    text += _arguments(item.args, "  ") + f": {item.type}"
    if item.default is not None:
        text += f" = {item.default}"
    early, late = _split(item.directives)
    for directive in early + [join_field(j) for j in item.joins] + late:
        text += " " + directive
    return text


def _enum_value(value: SEnumValue, first: bool) -> str:
    text = description(value.description, "  ", first) + "  " + value.name
    early, late = _split(value.directives)
    for directive in early + [f"@join__enumValue(graph: {g})" for g in value.graphs] + late:
        text += " " + directive
    return text


def _type(definition: SType) -> str:
    keyword = {
        OBJECT: "type",
        INTERFACE: "interface",
        UNION: "union",
        ENUM: "enum",
        INPUT: "input",
        SCALAR: "scalar",
    }[definition.kind]
    head = description(definition.description) + f"{keyword} {definition.name}"
    if definition.interfaces:
        head += " implements " + " & ".join(definition.interfaces)
    # Composition applies `@join__implements` in an early pass, then `@join__type`, then
    # `@inaccessible`, then union members; other merged directives (`@tag`, ...) come last.
    early, late = _split(definition.directives)
    applied = [
        f"@join__implements(graph: {g}, interface: {string(i)})" for g, i in definition.implements
    ]
    applied += [join_type(j) for j in definition.join_types]
    applied += [f"@context(name: {string(c)})" for c in definition.contexts]
    applied += early
    applied += [
        f"@join__unionMember(graph: {g}, member: {string(m)})" for g, m in definition.member_joins
    ]
    applied += late
    lines = [head] + ["  " + d for d in applied]
    if definition.kind == SCALAR:
        return "\n".join(lines)
    if definition.kind == UNION:
        return "\n".join(lines) + "\n = " + " | ".join(definition.members)
    if definition.kind == ENUM:
        body = [_enum_value(v, i == 0) for i, v in enumerate(definition.values)]
    else:
        body = [_field(f, i == 0) for i, f in enumerate(definition.fields.values())]
    opener = "\n{" if len(lines) > 1 else " {"
    return "\n".join(lines) + opener + "\n" + "\n".join(body) + "\n}"


def _composed_links(directives: list[SDirective]) -> list[str]:
    """One `@link` per spec the composed directives come from, importing them by name."""
    by_url: dict[str, list[str]] = {}
    for directive in directives:
        by_url.setdefault(directive.url, []).append(string("@" + directive.name))
    return [
        f"@link(url: {string(url)}, import: [{', '.join(names)}])" for url, names in by_url.items()
    ]


def _composed_graphs(directives: list[SDirective]) -> list[str]:
    """Which subgraphs compose each directive: where the gateway may send it."""
    return [
        f'@join__directive(graphs: [{", ".join(d.graphs)}], name: "composeDirective", '
        f"args: {{name: {string('@' + d.name)}}})"
        for d in directives
    ]


def _directive(directive: SDirective) -> str:
    text = description(directive.description) + f"directive @{directive.name}"
    text += _arguments(directive.args, "")
    if directive.repeatable:
        text += " repeatable"
    return text + " on " + " | ".join(directive.locations)


def print_supergraph(supergraph: Supergraph) -> str:
    """The supergraph SDL, ending with a newline."""
    links = [f"@link(url: {string(LINK_SPEC)})", f"@link(url: {string(JOIN_SPEC)}, for: EXECUTION)"]
    directives = [n for n in DIRECTIVE_DEFINITIONS if n.startswith(("join__", "link"))]
    if supergraph.uses_tag:
        links.append(f"@link(url: {string(TAG_SPEC)})")
        directives.append("tag")
    if supergraph.uses_inaccessible:
        links.append(f"@link(url: {string(INACCESSIBLE_SPEC)}, for: SECURITY)")
        directives.append("inaccessible")
    if supergraph.uses_context:
        links.append(f"@link(url: {string(CONTEXT_SPEC)}, for: SECURITY)")
        directives += ["context", "context__fromContext"]
    links += guards.links(supergraph.uses_specs)
    links += _composed_links(supergraph.directives)
    guard_definitions = guards.definitions(supergraph.uses_specs)
    schema = (
        "schema\n"
        + "".join(f"  {link}\n" for link in links)
        + "".join(f"  {applied}\n" for applied in _composed_graphs(supergraph.directives))
        + "{\n"
        + "".join(f"  {op}: {name}\n" for op, name in supergraph.roots.items())
        + "}"
    )
    blocks = [schema]
    known = {n: DIRECTIVE_DEFINITIONS[n] for n in directives}
    known.update((n, t) for n, t in guard_definitions.items() if t.startswith("directive"))
    known.update((d.name, _directive(d)) for d in supergraph.directives)
    blocks += [known[n] for n in sorted(known, key=sort_key)]
    printed: dict[str, str] = {name: _type(t) for name, t in supergraph.types.items()}
    graphs = "\n".join(
        f"  {g.enum} @join__graph(name: {string(g.name)}, url: {string(g.url)})"
        for g in supergraph.graphs
    )
    printed["join__ContextArgument"] = JOIN_CONTEXT_ARGUMENT
    printed["join__DirectiveArguments"] = "scalar join__DirectiveArguments"
    printed["join__FieldSet"] = "scalar join__FieldSet"
    printed["join__FieldValue"] = "scalar join__FieldValue"
    if supergraph.uses_context:
        printed["context__ContextFieldValue"] = "scalar context__ContextFieldValue"
    printed["join__Graph"] = "enum join__Graph {\n" + graphs + "\n}"
    printed["link__Import"] = "scalar link__Import"
    printed["link__Purpose"] = LINK_PURPOSE
    printed.update((n, t) for n, t in guard_definitions.items() if t.startswith("scalar"))
    blocks += [printed[name] for name in sorted(printed, key=sort_key)]
    return "\n\n".join(blocks) + "\n"
