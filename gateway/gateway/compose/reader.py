"""Reading one subgraph's SDL into the model composition merges.

Subgraphs print their schema with federation's own machinery in it (`_entities`,
`_service`, `_Any`, `_Entity`, `_Service`, directive definitions) and may rename
federation directives through `@link(import:)`. This module strips the machinery,
resolves directive names to their canonical meaning and records, per type and field,
exactly the federation facts composition needs.
"""

from __future__ import annotations

from graphql import GraphQLError, parse, print_ast
from graphql.language import (
    BooleanValueNode,
    ConstDirectiveNode,
    DirectiveNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListValueNode,
    Node,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ObjectValueNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    ValueNode,
)

from .directives import ComposedDirective, read_composed
from .guards import GUARD_DIRECTIVES, read_guard
from .subgraph import (
    ENUM,
    INPUT,
    INTERFACE,
    KIND_LABELS,
    OBJECT,
    ROOT_NAMES,
    SCALAR,
    UNION,
    Argument,
    EnumValue,
    Field,
    Key,
    Marks,
    Subgraph,
    Type,
)
from .typeref import TypeRef
from .types import IssueLog

FEDERATION_SPEC = "specs.apollo.dev/federation/"

FEDERATION_DIRECTIVES = (
    "key",
    "requires",
    "provides",
    "external",
    "shareable",
    "override",
    "inaccessible",
    "tag",
    "extends",
    "interfaceObject",
    "composeDirective",
    "context",
    "fromContext",
    *GUARD_DIRECTIVES,
)

#: Types that belong to federation's machinery, never to the composed API.
MACHINERY_TYPES = frozenset(
    {
        "_Any",
        "_Entity",
        "_Service",
        "_FieldSet",
        "link__Import",
        "link__Purpose",
        "join__FieldSet",
        "federation__FieldSet",
        "federation__Scope",
        "federation__Policy",
        "federation__ContextFieldValue",
    }
)
PASS_THROUGH = ("inaccessible", "tag", "deprecated", "specifiedBy")
MACHINERY_QUERY_FIELDS = frozenset({"_entities", "_service"})


class _Names:
    """Maps the directive names a subgraph writes to federation's canonical names."""

    def __init__(self, links: list[DirectiveNode]) -> None:
        self.fed2 = False
        self.names: dict[str, str] = {}
        self.machinery_types: set[str] = set()
        prefix = "federation"
        imports: dict[str, str] = {}
        for link in links:
            args = {arg.name.value: arg.value for arg in link.arguments or ()}
            url = _string(args.get("url")) or ""
            if FEDERATION_SPEC not in url:
                continue
            self.fed2 = True
            prefix = _string(args.get("as")) or prefix
            imported = args.get("import")
            if isinstance(imported, ListValueNode):
                for item in imported.values:
                    if isinstance(item, StringValueNode):
                        imports[item.value] = item.value
                    elif isinstance(item, ObjectValueNode):
                        entry = {f.name.value: _string(f.value) for f in item.fields}
                        if entry.get("name"):
                            imports[str(entry["name"])] = str(entry.get("as") or entry["name"])
        for canonical in FEDERATION_DIRECTIVES:
            self.names.setdefault(canonical, canonical)
        for canonical in FEDERATION_DIRECTIVES:
            self.names[f"{prefix}__{canonical}"] = canonical
            alias = imports.get("@" + canonical)
            if alias:
                self.names[alias.lstrip("@")] = canonical
        for name, alias in imports.items():
            if not name.startswith("@"):
                self.machinery_types.add(alias)

    def canonical(self, written: str) -> str | None:
        return self.names.get(written)


def print_value(value: ValueNode) -> str:
    """A literal as composition prints it: `{a: 1, b: [X, Y]}` (no inner padding)."""
    if isinstance(value, ListValueNode):
        return "[" + ", ".join(print_value(v) for v in value.values) + "]"
    if isinstance(value, ObjectValueNode):
        fields = ", ".join(f"{f.name.value}: {print_value(f.value)}" for f in value.fields)
        return "{" + fields + "}"
    return print_ast(value)


def _string(value: ValueNode | None) -> str | None:
    return value.value if isinstance(value, StringValueNode) else None


def _bool(value: ValueNode | None) -> bool | None:
    return value.value if isinstance(value, BooleanValueNode) else None


def _description(node: object) -> str | None:
    description = getattr(node, "description", None)
    return description.value if description is not None else None


class _Reader:
    """Turns one parsed document into a `Subgraph`, reporting what it cannot accept."""

    def __init__(self, name: str, url: str, issues: IssueLog) -> None:
        self.name = name
        self.url = url
        self.issues = issues
        self.types: dict[str, Type] = {}
        self.renames: dict[str, str] = {}
        self.names = _Names([])
        self.positions: dict[str, int] = {}
        self.composed: dict[str, ComposedDirective] = {}

    def position(self, coordinate: str, node: Node) -> None:
        """Remember where a type, field or argument is first written, for error reports."""
        if node.loc is not None and coordinate not in self.positions:
            self.positions[coordinate] = node.loc.start

    def rename(self, type_name: str) -> str:
        return self.renames.get(type_name, type_name)

    def directives(self, node: object) -> list[tuple[str, dict[str, ValueNode]]]:
        """Federation and pass-through directives on a node, by canonical name."""
        out: list[tuple[str, dict[str, ValueNode]]] = []
        applied: tuple[ConstDirectiveNode, ...] = getattr(node, "directives", None) or ()
        for directive in applied:
            written = directive.name.value
            args: dict[str, ValueNode] = {
                arg.name.value: arg.value for arg in directive.arguments or ()
            }
            if written in ("deprecated", "specifiedBy"):
                out.append((written, args))
                continue
            canonical = self.names.canonical(written)
            if canonical is not None:
                out.append((canonical, args))
        return out

    def composed_marks(self, node: object, into: Marks) -> None:
        """Applications of the directives the subgraph composes, printed as written."""
        applied: tuple[ConstDirectiveNode, ...] = getattr(node, "directives", None) or ()
        for directive in applied:
            composed = self.composed.get(directive.name.value)
            if composed is not None:
                into.composed.append((composed.name, print_ast(directive), composed.repeatable))

    def marks(self, applied: list[tuple[str, dict[str, ValueNode]]], into: Marks) -> None:
        for name, args in applied:
            if name in PASS_THROUGH and name not in into.order:
                into.order.append(name)
            if name in GUARD_DIRECTIVES:
                read_guard(name, args, into.guards)
            elif name == "inaccessible":
                into.inaccessible = True
            elif name == "tag":
                tag = _string(args.get("name"))
                if tag is not None and tag not in into.tags:
                    into.tags.append(tag)
            elif name == "specifiedBy" and into.specified_by is None and "url" in args:
                into.specified_by = f"@specifiedBy(url: {print_ast(args['url'])})"
            elif name == "deprecated" and into.deprecated is None:
                reason = args.get("reason")
                into.deprecated = (
                    f"@deprecated(reason: {print_ast(reason)})" if reason else "@deprecated"
                )

    def read(self, sdl: str) -> Subgraph | None:
        try:
            document = parse(sdl, no_location=False)
        except GraphQLError as exc:
            where = "".join(
                f" (line {loc.line}, column {loc.column})" for loc in exc.locations or ()
            )
            self.issues.add(
                "INVALID_GRAPHQL",
                f"[{self.name}] the subgraph schema does not parse: {exc.message}{where}",
                [self.name],
            )
            return None
        links: list[DirectiveNode] = []
        for definition in document.definitions:
            if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                for directive in definition.directives or ():
                    if directive.name.value == "link":
                        links.append(directive)
                for operation in definition.operation_types or ():
                    root = ROOT_NAMES[operation.operation.value]
                    written = operation.type.name.value
                    if written != root:
                        self.renames[written] = root
        self.names = _Names(links)
        self.composed = read_composed(
            document, self.name, self.names.canonical, self.rename, print_value, self.issues
        )
        for definition in document.definitions:
            if isinstance(definition, TypeDefinitionNode | TypeExtensionNode):
                self.read_type(definition)
        self.types.setdefault("Query", Type("Query", OBJECT))
        subgraph = Subgraph(self.name, self.url, self.types, self.names.fed2)
        subgraph.positions = self.positions
        subgraph.sdl = sdl
        subgraph.composed = self.composed
        return subgraph

    def read_type(self, node: TypeDefinitionNode | TypeExtensionNode) -> None:
        written = node.name.value
        if written in MACHINERY_TYPES or written in self.names.machinery_types:
            return
        name = self.rename(written)
        kind = _kind_of(node)
        existing = self.types.get(name)
        if existing is None:
            existing = self.types[name] = Type(name, kind)
        elif existing.kind != kind:
            self.issues.add(
                "INVALID_GRAPHQL",
                f'[{self.name}] type "{name}" is defined both as {KIND_LABELS[existing.kind]} '
                f"and as {KIND_LABELS[kind]}",
                [self.name],
                name,
            )
            return
        owner = existing
        self.position(name, node)
        if owner.description is None:
            owner.description = _description(node)
        applied = self.directives(node)
        self.marks(applied, owner.marks)
        self.composed_marks(node, owner.marks)
        extends = any(n == "extends" for n, _ in applied)
        is_extension = isinstance(node, TypeExtensionNode) or extends
        type_shareable = any(n == "shareable" for n, _ in applied)
        # `@external` on a type marks every field of that definition external.
        type_external = any(n == "external" for n, _ in applied)
        for directive_name, args in applied:
            if directive_name == "key":
                fields = _string(args.get("fields"))
                if fields is None:
                    self.issues.add(
                        "KEY_INVALID_FIELDS",
                        f'[{self.name}] On type "{name}", @key needs a "fields" string argument',
                        [self.name],
                        name,
                    )
                    continue
                owner.keys.append(Key(fields, _bool(args.get("resolvable")), is_extension, extends))
            elif directive_name == "interfaceObject":
                owner.interface_object = True
            elif directive_name == "context":
                context = _string(args.get("name"))
                if context is not None and context not in owner.contexts:
                    owner.contexts.append(context)
        for interface in getattr(node, "interfaces", None) or ():
            interface_name = self.rename(interface.name.value)
            if interface_name not in owner.interfaces:
                owner.interfaces.append(interface_name)
        for member in getattr(node, "types", None) or ():
            member_name = self.rename(member.name.value)
            if member_name not in owner.members:
                owner.members.append(member_name)
        for value in getattr(node, "values", None) or ():
            if isinstance(node, EnumTypeDefinitionNode | EnumTypeExtensionNode):
                enum_value = EnumValue(value.name.value, _description(value))
                self.position(f"{name}.{enum_value.name}", value)
                self.marks(self.directives(value), enum_value.marks)
                self.composed_marks(value, enum_value.marks)
                owner.values.setdefault(enum_value.name, enum_value)
        for field_node in getattr(node, "fields", None) or ():
            if name == "Query" and field_node.name.value in MACHINERY_QUERY_FIELDS:
                continue
            read = self.read_field(field_node, name)
            read.shareable = read.shareable or type_shareable
            read.external = read.external or type_external
            owner.fields.setdefault(read.name, read)

    def read_field(self, node: object, parent: str) -> Field:
        field_name: str = node.name.value  # type: ignore[attr-defined]
        assert isinstance(node, Node)
        self.position(f"{parent}.{field_name}", node)
        result = Field(
            field_name,
            TypeRef.from_ast(node.type, self.rename),  # type: ignore[attr-defined]
            _description(node),
        )
        if isinstance(node, InputValueDefinitionNode):
            result.default = print_value(node.default_value) if node.default_value else None
        for arg in getattr(node, "arguments", None) or ():
            self.position(f"{parent}.{field_name}({arg.name.value}:)", arg)
            argument = Argument(
                arg.name.value,
                TypeRef.from_ast(arg.type, self.rename),
                _description(arg),
                print_value(arg.default_value) if arg.default_value else None,
            )
            arg_directives = self.directives(arg)
            self.marks(arg_directives, argument.marks)
            self.composed_marks(arg, argument.marks)
            for directive_name, args in arg_directives:
                if directive_name == "fromContext":
                    argument.from_context = _string(args.get("field"))
            result.args[argument.name] = argument
        applied = self.directives(node)
        self.marks(applied, result.marks)
        self.composed_marks(node, result.marks)
        for directive_name, args in applied:
            if directive_name == "external":
                result.external = True
            elif directive_name == "shareable":
                result.shareable = True
            elif directive_name == "requires":
                result.requires = _string(args.get("fields"))
            elif directive_name == "provides":
                result.provides = _string(args.get("fields"))
            elif directive_name == "override":
                result.override = _string(args.get("from"))
                result.override_label = _string(args.get("label"))
        return result


def _kind_of(node: TypeDefinitionNode | TypeExtensionNode) -> str:
    if isinstance(node, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
        return OBJECT
    if isinstance(node, InterfaceTypeDefinitionNode | InterfaceTypeExtensionNode):
        return INTERFACE
    if isinstance(node, UnionTypeDefinitionNode | UnionTypeExtensionNode):
        return UNION
    if isinstance(node, EnumTypeDefinitionNode | EnumTypeExtensionNode):
        return ENUM
    if isinstance(node, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
        return INPUT
    if isinstance(node, ScalarTypeDefinitionNode | ScalarTypeExtensionNode):
        return SCALAR
    raise AssertionError(f"unexpected type node {type(node).__name__}")


def read_subgraph(name: str, url: str, sdl: str, issues: IssueLog) -> Subgraph | None:
    """Parse one subgraph's SDL; None (with issues logged) when it cannot be read."""
    return _Reader(name, url, issues).read(sdl)
