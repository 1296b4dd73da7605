"""A Federation v2 supergraph: the join metadata the planner reads, and the API schema clients see.

The supergraph SDL is what a composition tool writes: every type and field carries
`@join__*` directives saying which subgraph defines it, under which keys, with which
requirements. This module reads those directives once into plain dataclasses, so the
planner never touches the AST, and derives the API schema (no `join__`/`link__` machinery,
nothing `@inaccessible`) that client documents are validated against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from graphql import (
    BooleanValueNode,
    DefinitionNode,
    DirectiveDefinitionNode,
    DirectiveLocation,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumValueNode,
    FieldNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListValueNode,
    Node,
    ObjectTypeDefinitionNode,
    ObjectValueNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    SelectionSetNode,
    StringValueNode,
    TypeDefinitionNode,
    Undefined,
    UnionTypeDefinitionNode,
    ValueNode,
    ast_from_value,
    build_ast_schema,
    parse,
    print_ast,
)

__all__ = [
    "ClientDirective",
    "ContextArgument",
    "EntityKey",
    "FieldJoin",
    "FieldSet",
    "Supergraph",
    "SupergraphError",
    "TypeJoin",
    "parse_field_set",
    "split_field",
]

_BUILTIN_DIRECTIVES = frozenset({"skip", "include", "deprecated", "specifiedBy", "oneOf"})


_APOLLO_SPECS = "specs.apollo.dev/"
_EXECUTABLE_LOCATIONS = frozenset(
    {
        DirectiveLocation.QUERY,
        DirectiveLocation.MUTATION,
        DirectiveLocation.SUBSCRIPTION,
        DirectiveLocation.FIELD,
        DirectiveLocation.FRAGMENT_DEFINITION,
        DirectiveLocation.FRAGMENT_SPREAD,
        DirectiveLocation.INLINE_FRAGMENT,
        DirectiveLocation.VARIABLE_DEFINITION,
    }
)

_INCREMENTAL_DIRECTIVES = """
directive @defer(label: String, if: Boolean! = true) on FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @stream(label: String, if: Boolean! = true, initialCount: Int = 0) on FIELD
"""


class SupergraphError(ValueError):
    """The supergraph SDL cannot be used: unparsable, or its federation metadata is inconsistent."""


# A field set (`"id organization { id }"`) parsed into a selection tree. Each item is
# (field name, sub field set or None); a field with arguments keeps them printed after its
# name (`"price(currency: EUR)"`, see `split_field`); inline fragments are ("... on T", sub).
FieldSet = tuple[tuple[str, "FieldSet | None"], ...]


def parse_field_set(text: str) -> FieldSet:
    """Parse the `fields:` string of `@key`/`@requires`/`@provides` into a `FieldSet`."""
    try:
        document = parse("{" + text + "}", no_location=True)
    except GraphQLError as exc:
        raise SupergraphError(f"invalid field set {text!r}: {exc.message}") from exc
    op = document.definitions[0]
    selection_set = getattr(op, "selection_set", None)
    if not isinstance(selection_set, SelectionSetNode):
        raise SupergraphError(f"invalid field set {text!r}")
    return _field_set_of(selection_set)


def _field_set_of(selection_set: SelectionSetNode) -> FieldSet:
    items: list[tuple[str, FieldSet | None]] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            sub = _field_set_of(selection.selection_set) if selection.selection_set else None
            name = selection.name.value
            if selection.arguments:
                name += "(" + ", ".join(print_ast(arg) for arg in selection.arguments) + ")"
            items.append((name, sub))
        elif isinstance(selection, InlineFragmentNode) and selection.type_condition:
            sub = _field_set_of(selection.selection_set)
            items.append(("... on " + selection.type_condition.name.value, sub))
        else:
            raise SupergraphError("field sets may hold only fields and inline fragments")
    return tuple(items)


def split_field(item: str) -> tuple[str, str]:
    """A field set item's field name and printed arguments: `"a(x: 1)"` -> `("a", "(x: 1)")`."""
    paren = item.find("(")
    return (item, "") if paren < 0 else (item[:paren], item[paren:])


@dataclass(frozen=True, slots=True)
class EntityKey:
    """One `@join__type(key:)` of a type in one subgraph."""

    fields: FieldSet
    text: str
    resolvable: bool


@dataclass(slots=True)
class TypeJoin:
    """How one subgraph defines a composite type."""

    graph: str
    keys: list[EntityKey] = field(default_factory=list)
    is_interface_object: bool = False
    extension: bool = False

    @property
    def resolvable_keys(self) -> list[EntityKey]:
        return [key for key in self.keys if key.resolvable]


@dataclass(frozen=True, slots=True)
class ContextArgument:
    """One argument a subgraph takes from an ancestor (`@fromContext`, join v0.5).

    `context` names the `@context` of the ancestor types it is read from; `selection` is
    the field set selected on that ancestor (`{ prop }`, or per type `... on T { a }`),
    whose single leaf is the value passed as argument `name` of type `type`.
    """

    name: str
    type: str
    context: str
    selection: FieldSet
    selection_text: str


@dataclass(frozen=True, slots=True)
class FieldJoin:
    """How one subgraph defines a field (`@join__field`).

    `override_label` (join v0.4) makes an `@override` progressive: on the overriding
    subgraph's join (`override` set) the field is resolved there only while the label is
    enabled for the request; on the overridden subgraph's join only while it is not.
    """

    graph: str
    requires: FieldSet | None = None
    requires_text: str | None = None
    provides: FieldSet | None = None
    type: str | None = None
    external: bool = False
    override: str | None = None
    used_overridden: bool = False
    override_label: str | None = None
    context_arguments: tuple[ContextArgument, ...] = ()

    @property
    def resolvable(self) -> bool:
        return not self.external and not self.used_overridden

    def resolvable_with(self, labels: frozenset[str]) -> bool:
        """`resolvable`, deciding a progressive override by the request's enabled labels."""
        if not self.resolvable:
            return False
        if self.override_label is None:
            return True
        enabled = self.override_label in labels
        return enabled if self.override is not None else not enabled


@dataclass(frozen=True, slots=True)
class ClientDirective:
    """An executable directive of the API a client may write on a field (a composed one).

    `defaults` are the printed default values of its arguments, written out when the
    directive goes to a subgraph (which may require what the API defaults); `graphs` the
    subgraphs that define it, None when the supergraph does not say (then: every one).
    """

    name: str
    defaults: tuple[tuple[str, str], ...]
    graphs: frozenset[str] | None

    def sent_to(self, graph: str) -> bool:
        return self.graphs is None or graph in self.graphs


@dataclass(slots=True)
class Supergraph:
    """A parsed supergraph. Build it with `Supergraph.parse(sdl)`.

    `graphs` maps the `join__Graph` enum value (e.g. `ACCOUNTS`) to the subgraph name
    (`accounts`); everything else speaks subgraph names.
    """

    sdl: str
    schema: GraphQLSchema
    api_schema: GraphQLSchema
    subgraph_urls: dict[str, str]
    graphs: dict[str, str]
    type_joins: dict[str, dict[str, TypeJoin]]
    field_joins: dict[tuple[str, str], dict[str, FieldJoin]]
    # Fields whose supergraph definition carries `@join__field` without `graph:`: no
    # subgraph defines them on this type (they come through an `@interfaceObject`).
    unowned_fields: frozenset[tuple[str, str]]
    implements: dict[tuple[str, str], frozenset[str]]  # (graph, interface) -> object types
    union_members: dict[tuple[str, str], frozenset[str]]  # (graph, union) -> object types
    # `@context(name:)` of each type (join v0.5): the contexts its fields' values set.
    contexts: dict[str, frozenset[str]] = field(default_factory=dict)
    # Every `overrideLabel` the supergraph uses: what a request's plan depends on.
    override_labels: frozenset[str] = frozenset()
    # Executable directives beyond the built-in ones, by name: they go on to subgraphs.
    client_directives: dict[str, ClientDirective] = field(default_factory=dict)
    _by_labels: dict[frozenset[str], Supergraph] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, sdl: str) -> Supergraph:
        """Parse a supergraph SDL; raises `SupergraphError` with the reason when it is malformed."""
        try:
            document = parse(sdl, no_location=True)
        except GraphQLError as exc:
            raise SupergraphError(f"supergraph SDL does not parse: {exc.message}") from exc
        return _Reader(sdl, document).read()

    def for_labels(self, enabled: frozenset[str]) -> Supergraph:
        """This supergraph as a request with these override labels enabled sees it.

        Each progressive `@override` is decided (the field resolved by the overriding
        subgraph, or still by the overridden one); without labels it is `self`. The
        views are built once per set of enabled labels and share everything else.
        """
        if not self.override_labels:
            return self
        enabled = enabled & self.override_labels
        found = self._by_labels.get(enabled)
        if found is not None:
            return found
        joins: dict[tuple[str, str], dict[str, FieldJoin]] = {}
        for coordinate, by_graph in self.field_joins.items():
            decided = {}
            for graph, join in by_graph.items():
                if join.override_label is not None:
                    join = replace(
                        join,
                        override_label=None,
                        used_overridden=not join.resolvable_with(enabled),
                    )
                decided[graph] = join
            joins[coordinate] = decided
        found = replace(self, field_joins=joins, override_labels=frozenset(), _by_labels={})
        self._by_labels[enabled] = found
        return found

    def contexts_of(self, type_name: str) -> frozenset[str]:
        """The contexts a value of `type_name` sets: its own, its interfaces', its unions'."""
        return self.contexts.get(type_name, frozenset())

    # Queries the planner asks, precomputed where cheap ------------------------------------

    def graphs_of_type(self, type_name: str) -> dict[str, TypeJoin]:
        return self.type_joins.get(type_name, {})

    def resolving_graphs(self, type_name: str, field_name: str) -> list[str]:
        """Subgraphs that can resolve `type.field` themselves (not external, not overridden)."""
        joins = self.field_joins.get((type_name, field_name))
        if joins is not None:
            return [graph for graph, join in joins.items() if join.resolvable]
        if (type_name, field_name) in self.unowned_fields:
            return []
        return list(self.type_joins.get(type_name, {}))

    def field_join(self, type_name: str, field_name: str, graph: str) -> FieldJoin | None:
        joins = self.field_joins.get((type_name, field_name))
        return None if joins is None else joins.get(graph)

    def possible_types_in(self, graph: str, abstract: str) -> frozenset[str]:
        """Object types that `graph` may return where it declares the abstract type."""
        found = self.implements.get((graph, abstract))
        if found is None:
            found = self.union_members.get((graph, abstract))
        return found if found is not None else frozenset()


@dataclass(slots=True)
class _Names:
    """The directive names the supergraph's `@link`s give each spec (they can be renamed)."""

    join: str = "join"
    link: str = "link"
    context: str = "context"
    inaccessible: str = "inaccessible"
    tag: str = "tag"
    other_links: set[str] = field(default_factory=set)

    def machinery_prefixes(self) -> tuple[str, ...]:
        return (self.join + "__", self.link + "__", *(name + "__" for name in self.other_links))

    def machinery_directives(self) -> frozenset[str]:
        """Directives of linked specs: they steer the gateway and are no part of the API."""
        return frozenset({self.link, self.inaccessible, self.tag, "core", *self.other_links})


class _Reader:
    """Reads one supergraph document; split from `Supergraph` to keep the dataclass plain."""

    def __init__(self, sdl: str, document: DocumentNode) -> None:
        self.sdl = sdl
        self.document = document
        self.names = _Names()
        self._inaccessible_types: set[str] | None = None

    def read(self) -> Supergraph:
        self._read_links()
        graphs, urls = self._read_graphs()
        try:
            schema = build_ast_schema(self.document, assume_valid_sdl=True)
        except (GraphQLError, TypeError) as exc:
            raise SupergraphError(f"supergraph schema is invalid: {exc}") from exc
        type_joins: dict[str, dict[str, TypeJoin]] = {}
        field_joins: dict[tuple[str, str], dict[str, FieldJoin]] = {}
        unowned: set[tuple[str, str]] = set()
        implements: dict[tuple[str, str], set[str]] = {}
        members: dict[tuple[str, str], set[str]] = {}
        contexts: dict[str, set[str]] = {}
        join = self.names.join
        for definition in self._type_definitions():
            name = definition.name.value
            for directive in definition.directives or ():
                args = _arguments(directive)
                directive_name = directive.name.value
                if directive_name == join + "__type":
                    graph = _graph(graphs, args, name)
                    joined = type_joins.setdefault(name, {}).setdefault(graph, TypeJoin(graph))
                    key = args.get("key")
                    if isinstance(key, str):
                        joined.keys.append(
                            EntityKey(
                                parse_field_set(key), key, args.get("resolvable", True) is True
                            )
                        )
                    joined.is_interface_object |= args.get("isInterfaceObject") is True
                    joined.extension |= args.get("extension") is True
                elif directive_name == join + "__implements":
                    graph = _graph(graphs, args, name)
                    interface = str(args.get("interface"))
                    implements.setdefault((graph, interface), set()).add(name)
                elif directive_name == join + "__unionMember":
                    graph = _graph(graphs, args, name)
                    members.setdefault((graph, name), set()).add(str(args.get("member")))
                elif directive_name == self.names.context and isinstance(args.get("name"), str):
                    contexts.setdefault(name, set()).add(str(args["name"]))
            if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
                for field_node in definition.fields or ():
                    self._read_field(name, field_node, graphs, field_joins, unowned)
        self._check_types(schema, type_joins)
        labels = frozenset(
            join.override_label
            for by_graph in field_joins.values()
            for join in by_graph.values()
            if join.override_label is not None
        )
        api_schema = self._api_schema()
        return Supergraph(
            sdl=self.sdl,
            schema=schema,
            api_schema=api_schema,
            subgraph_urls=urls,
            graphs=graphs,
            type_joins=type_joins,
            field_joins=field_joins,
            unowned_fields=frozenset(unowned),
            implements={key: frozenset(value) for key, value in implements.items()},
            union_members={key: frozenset(value) for key, value in members.items()},
            contexts=_inherited_contexts(schema, contexts),
            override_labels=labels,
            client_directives=self._client_directives(api_schema, graphs),
        )

    def _client_directives(
        self, api_schema: GraphQLSchema, graphs: dict[str, str]
    ) -> dict[str, ClientDirective]:
        """The API's own executable directives, with where each may go."""
        composed: dict[str, set[str]] = {}
        for definition in self.document.definitions:
            if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                continue
            for directive in definition.directives or ():
                if directive.name.value != self.names.join + "__directive":
                    continue
                args = _arguments(directive)
                inner = args.get("args")
                if args.get("name") != "composeDirective" or not isinstance(inner, dict):
                    continue
                name = str(inner.get("name", "")).lstrip("@")
                listed = args.get("graphs")
                for graph in listed if isinstance(listed, list) else ():
                    composed.setdefault(name, set()).add(_graph(graphs, {"graph": graph}, name))
        out: dict[str, ClientDirective] = {}
        for defined in api_schema.directives:
            if defined.name in _BUILTIN_DIRECTIVES or defined.name in ("defer", "stream"):
                continue
            if not _EXECUTABLE_LOCATIONS.intersection(defined.locations):
                continue
            defaults = []
            for arg_name, arg in defined.args.items():
                # The default as written in the supergraph, else as graphql-core holds it.
                written = arg.ast_node.default_value if arg.ast_node is not None else None
                if written is None and arg.default_value is not Undefined:
                    written = ast_from_value(arg.default_value, arg.type)
                if written is not None:
                    defaults.append((arg_name, print_ast(written)))
            graphs_of = composed.get(defined.name)
            out[defined.name] = ClientDirective(
                defined.name,
                tuple(defaults),
                frozenset(graphs_of) if graphs_of is not None else None,
            )
        return out

    def _read_links(self) -> None:
        for definition in self.document.definitions:
            if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                continue
            for directive in definition.directives or ():
                if directive.name.value not in ("link", "core"):
                    continue
                args = _arguments(directive)
                url = str(args.get("url") or args.get("feature") or "")
                alias = args.get("as")
                spec = url.rstrip("/").split("/")[-2] if url.count("/") >= 2 else ""
                name = alias if isinstance(alias, str) else spec
                if spec == "join":
                    self.names.join = name
                elif spec == "link":
                    self.names.link = name
                elif spec == "inaccessible":
                    self.names.inaccessible = name
                elif spec == "tag":
                    self.names.tag = name
                elif spec == "context":
                    self.names.context = name
                    self.names.other_links.add(name)
                elif spec and (directive.name.value == "core" or _APOLLO_SPECS in url):
                    self.names.other_links.add(name)
                # Any other spec is a composed directive's (`@composeDirective`): its
                # directives are the API's, clients may use the executable ones.

    def _read_graphs(self) -> tuple[dict[str, str], dict[str, str]]:
        enum_name = self.names.join + "__Graph"
        for definition in self.document.definitions:
            if (
                isinstance(definition, EnumTypeDefinitionNode)
                and definition.name.value == enum_name
            ):
                graphs: dict[str, str] = {}
                urls: dict[str, str] = {}
                for value in definition.values or ():
                    for directive in value.directives or ():
                        if directive.name.value == self.names.join + "__graph":
                            args = _arguments(directive)
                            name = args.get("name")
                            url = args.get("url")
                            if not isinstance(name, str) or not isinstance(url, str):
                                raise SupergraphError(
                                    f"{enum_name}.{value.name.value} needs @join__graph(name:, url:)"
                                )
                            graphs[value.name.value] = name
                            urls[name] = url
                    if value.name.value not in graphs:
                        raise SupergraphError(f"{enum_name}.{value.name.value} has no @join__graph")
                if not graphs:
                    raise SupergraphError(f"enum {enum_name} lists no subgraph")
                return graphs, urls
        raise SupergraphError(f"not a supergraph: enum {enum_name} is missing")

    def _type_definitions(self) -> Iterable[TypeDefinitionNode]:
        for definition in self.document.definitions:
            if isinstance(definition, TypeDefinitionNode) and not self._is_machinery(
                definition.name.value
            ):
                yield definition

    def _is_machinery(self, name: str) -> bool:
        return name.startswith(self.names.machinery_prefixes())

    def _read_field(
        self,
        type_name: str,
        node: Node,
        graphs: dict[str, str],
        field_joins: dict[tuple[str, str], dict[str, FieldJoin]],
        unowned: set[tuple[str, str]],
    ) -> None:
        field_name = node.name.value  # type: ignore[attr-defined]
        for directive in node.directives or ():  # type: ignore[attr-defined]
            if directive.name.value != self.names.join + "__field":
                continue
            args = _arguments(directive)
            if "graph" not in args:
                unowned.add((type_name, field_name))
                continue
            graph = _graph(graphs, args, f"{type_name}.{field_name}")
            requires = args.get("requires")
            provides = args.get("provides")
            override = args.get("override")
            field_type = args.get("type")
            label = args.get("overrideLabel")
            field_joins.setdefault((type_name, field_name), {})[graph] = FieldJoin(
                graph=graph,
                requires=parse_field_set(requires) if isinstance(requires, str) else None,
                requires_text=requires if isinstance(requires, str) else None,
                provides=parse_field_set(provides) if isinstance(provides, str) else None,
                type=field_type if isinstance(field_type, str) else None,
                external=args.get("external") is True,
                override=override if isinstance(override, str) else None,
                used_overridden=args.get("usedOverridden") is True,
                override_label=label if isinstance(label, str) else None,
                context_arguments=_context_arguments(
                    args.get("contextArguments"), f"{type_name}.{field_name}"
                ),
            )

    def _check_types(
        self, schema: GraphQLSchema, type_joins: dict[str, dict[str, TypeJoin]]
    ) -> None:
        if schema.query_type is None:
            raise SupergraphError("supergraph has no Query type")
        for name, joins in type_joins.items():
            keyed = any(join.keys for join in joins.values())
            if keyed and not isinstance(
                schema.type_map.get(name), GraphQLObjectType | GraphQLInterfaceType
            ):
                raise SupergraphError(
                    f"@join__type(key:) on {name}, which is not an object or interface"
                )

    # The API schema ------------------------------------------------------------------------

    def _api_schema(self) -> GraphQLSchema:
        definitions: list[DefinitionNode] = []
        for definition in self.document.definitions:
            cleaned = self._api_definition(definition)
            if cleaned is not None:
                definitions.append(cleaned)
        # Incremental delivery is the gateway's: clients may `@defer` and `@stream`.
        named = {d.name.value for d in definitions if isinstance(d, DirectiveDefinitionNode)}
        definitions.extend(
            d
            for d in parse(_INCREMENTAL_DIRECTIVES, no_location=True).definitions
            if isinstance(d, DirectiveDefinitionNode) and d.name.value not in named
        )
        try:
            return build_ast_schema(DocumentNode(definitions=tuple(definitions)))
        except (GraphQLError, TypeError) as exc:
            raise SupergraphError(
                f"API schema derived from the supergraph is invalid: {exc}"
            ) from exc

    def _api_definition(self, definition: DefinitionNode) -> DefinitionNode | None:
        if isinstance(definition, SchemaDefinitionNode):
            return SchemaDefinitionNode(
                operation_types=definition.operation_types, directives=(), description=None
            )
        if isinstance(definition, SchemaExtensionNode):
            if not definition.operation_types:
                return None  # only there to carry @link
            extension: Any = SchemaExtensionNode(
                operation_types=definition.operation_types, directives=()
            )
            return cast(DefinitionNode, extension)
        if isinstance(definition, DirectiveDefinitionNode):
            name = definition.name.value
            if name in _BUILTIN_DIRECTIVES or self._is_machinery(name):
                return None
            if name in self.names.machinery_directives():
                return None
            return _forwardable(definition)
        if not isinstance(definition, TypeDefinitionNode):
            return definition
        name = definition.name.value
        if self._is_machinery(name) or self._inaccessible(definition):
            return None
        kwargs = {key: getattr(definition, key) for key in definition.keys}
        kwargs["directives"] = self._api_directives(definition.directives)
        if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            kwargs["fields"] = tuple(
                field_node.__class__(
                    **{
                        **{key: getattr(field_node, key) for key in field_node.keys},
                        "directives": self._api_directives(field_node.directives),
                        "arguments": tuple(
                            arg.__class__(
                                **{
                                    **{key: getattr(arg, key) for key in arg.keys},
                                    "directives": self._api_directives(arg.directives),
                                }
                            )
                            for arg in field_node.arguments or ()
                            if not self._inaccessible(arg)
                        ),
                    }
                )
                for field_node in definition.fields or ()
                if not self._inaccessible(field_node)
            )
            kwargs["interfaces"] = tuple(
                named
                for named in definition.interfaces or ()
                if not self._inaccessible_name(named.name.value)
            )
        elif isinstance(definition, UnionTypeDefinitionNode):
            kwargs["types"] = tuple(
                named
                for named in definition.types or ()
                if not self._inaccessible_name(named.name.value)
            )
        elif isinstance(definition, EnumTypeDefinitionNode):
            kwargs["values"] = tuple(
                value.__class__(
                    **{
                        **{key: getattr(value, key) for key in value.keys},
                        "directives": self._api_directives(value.directives),
                    }
                )
                for value in definition.values or ()
                if not self._inaccessible(value)
            )
        elif isinstance(definition, InputObjectTypeDefinitionNode):
            kwargs["fields"] = tuple(
                value.__class__(
                    **{
                        **{key: getattr(value, key) for key in value.keys},
                        "directives": self._api_directives(value.directives),
                    }
                )
                for value in definition.fields or ()
                if not self._inaccessible(value) and self._in_every_graph(definition, value)
            )
        return definition.__class__(**kwargs)

    def _joined_graphs(self, node: Node, directive: str) -> set[object]:
        return {
            _arguments(d).get("graph")
            for d in getattr(node, "directives", None) or ()
            if d.name.value == self.names.join + directive
        }

    def _in_every_graph(self, input_type: Node, input_field: Node) -> bool:
        """An input field is part of the API only if every subgraph taking the type has it."""
        field_graphs = self._joined_graphs(input_field, "__field")
        return not field_graphs or self._joined_graphs(input_type, "__type") <= field_graphs

    def _api_directives(
        self, directives: Sequence[DirectiveNode] | None
    ) -> tuple[DirectiveNode, ...]:
        machinery = self.names.machinery_directives()
        return tuple(
            directive
            for directive in directives or ()
            if directive.name.value not in machinery
            and not self._is_machinery(directive.name.value)
        )

    def _inaccessible(self, node: Node) -> bool:
        name = self.names.inaccessible
        return any(d.name.value == name for d in getattr(node, "directives", None) or ())

    def _inaccessible_name(self, type_name: str) -> bool:
        if self._inaccessible_types is None:
            self._inaccessible_types = {
                definition.name.value
                for definition in self.document.definitions
                if isinstance(definition, TypeDefinitionNode) and self._inaccessible(definition)
            }
        return type_name in self._inaccessible_types


def _forwardable(definition: DirectiveDefinitionNode) -> DirectiveDefinitionNode | None:
    """The directive as clients may write it: on fields among the executable locations.

    The gateway sends a field's directives on with the field; it writes its own
    operations and fragments, so a directive there would be dropped unseen: the API does
    not offer those locations (a client using one is refused at validation).
    """
    kept = tuple(
        location
        for location in definition.locations
        if location.value == DirectiveLocation.FIELD.name
        or DirectiveLocation[location.value] not in _EXECUTABLE_LOCATIONS
    )
    if len(kept) == len(definition.locations):
        return definition
    if not kept:
        return None
    return DirectiveDefinitionNode(
        description=definition.description,
        name=definition.name,
        arguments=definition.arguments,
        repeatable=definition.repeatable,
        locations=kept,
    )


def _context_arguments(value: object, where: str) -> tuple[ContextArgument, ...]:
    """`contextArguments: [{context:, name:, type:, selection:}]` of a `@join__field`."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    found: list[ContextArgument] = []
    for item in items:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("context", "name", "type", "selection")
        ):
            raise SupergraphError(f"{where}: contextArguments need context, name, type, selection")
        text = str(item["selection"]).strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        found.append(
            ContextArgument(
                name=str(item["name"]),
                type=str(item["type"]),
                context=str(item["context"]),
                selection=parse_field_set(text),
                selection_text=str(item["selection"]),
            )
        )
    return tuple(found)


def _inherited_contexts(
    schema: GraphQLSchema, declared: dict[str, set[str]]
) -> dict[str, frozenset[str]]:
    """Contexts per object type: a `@context` on an interface or union is set by its members."""
    out: dict[str, set[str]] = {name: set(names) for name, names in declared.items()}
    for name, names in declared.items():
        abstract = schema.type_map.get(name)
        if isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType):
            for member in schema.get_possible_types(abstract):
                out.setdefault(member.name, set()).update(names)
    return {name: frozenset(names) for name, names in out.items()}


def _graph(graphs: dict[str, str], args: dict[str, object], where: str) -> str:
    value = args.get("graph")
    if not isinstance(value, str) or value not in graphs:
        raise SupergraphError(f"{where}: unknown join__Graph value {value!r}")
    return graphs[value]


def _arguments(directive: DirectiveNode) -> dict[str, object]:
    return {arg.name.value: _literal(arg.value) for arg in directive.arguments or ()}


def _literal(value: ValueNode) -> object:
    if isinstance(value, StringValueNode):
        return value.value
    if isinstance(value, BooleanValueNode):
        return value.value
    if isinstance(value, EnumValueNode):
        return value.value
    if isinstance(value, ListValueNode):
        return [_literal(item) for item in value.values]
    if isinstance(value, ObjectValueNode):
        return {item.name.value: _literal(item.value) for item in value.fields}
    return getattr(value, "value", None)
