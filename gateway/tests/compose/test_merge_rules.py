"""Merge rules, one at a time, checked on the printed definition of the type they shape."""

from __future__ import annotations

import re

from gateway.compose import SubgraphSource, compose, compose_with_hints

FED2 = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", '
    '"@shareable", "@external", "@requires", "@provides", "@override", "@inaccessible", '
    '"@interfaceObject", "@tag"])\n'
)


def supergraph(fed2: bool = True, **subgraphs: str) -> str:
    prefix = FED2 if fed2 else ""
    return compose(
        [SubgraphSource(n, f"http://{n}/graphql", prefix + sdl) for n, sdl in subgraphs.items()]
    )


def definition(sdl: str, name: str) -> str:
    """The printed block of one type (its description, keyword line, directives and body)."""
    match = re.search(rf'(?:"""[^"]*"""\n)?(type|interface|union|enum|input|scalar) {name}\b', sdl)
    assert match is not None, f"{name} not in supergraph"
    if match.group(1) in ("union", "scalar"):
        stop = sdl.find("\n\n", match.start())
        return sdl[match.start() : stop if stop != -1 else len(sdl) - 1]
    return sdl[match.start() : sdl.index("\n}", match.start()) + 2]


def test_nullable_and_non_null_outputs_merge_to_nullable_with_types_per_graph() -> None:
    sdl = supergraph(
        a='type Query { t: T } type T @key(fields: "id") { id: ID! name: String @shareable }',
        b='type T @key(fields: "id") { id: ID! name: String! @shareable }',
    )
    assert definition(sdl, "T") == (
        "type T\n"
        '  @join__type(graph: A, key: "id")\n'
        '  @join__type(graph: B, key: "id")\n'
        "{\n"
        "  id: ID!\n"
        '  name: String @join__field(graph: A, type: "String") @join__field(graph: B, type: '
        '"String!")\n'
        "}"
    )


def test_arguments_merge_to_the_most_restrictive_type_and_drop_optional_strays() -> None:
    sdl = supergraph(
        a='type Query { t: T } type T @key(fields: "id") { id: ID! f(x: Int, y: Int): Int @shareable }',
        b='type T @key(fields: "id") { id: ID! f(x: Int!): Int @shareable }',
    )
    assert "  f(x: Int!): Int\n" in definition(sdl, "T") + "\n"


def test_output_enum_is_the_union_and_input_enum_the_intersection() -> None:
    sdl = supergraph(
        a="type Query { a: Out a2(f: In): Int } enum Out { X Y } enum In { P Q }",
        b="type Query { b: Out b2(f: In): Int } enum Out { Y Z } enum In { Q R }",
    )
    assert definition(sdl, "Out") == (
        "enum Out\n"
        "  @join__type(graph: A)\n"
        "  @join__type(graph: B)\n"
        "{\n"
        "  X @join__enumValue(graph: A)\n"
        "  Y @join__enumValue(graph: A) @join__enumValue(graph: B)\n"
        "  Z @join__enumValue(graph: B)\n"
        "}"
    )
    assert definition(sdl, "In") == (
        "enum In\n"
        "  @join__type(graph: A)\n"
        "  @join__type(graph: B)\n"
        "{\n"
        "  Q @join__enumValue(graph: A) @join__enumValue(graph: B)\n"
        "}"
    )


def test_input_types_keep_only_common_fields_and_the_stricter_type() -> None:
    sdl = supergraph(
        a="type Query { a(i: In): Int } input In { x: Int y: String z: Int = 3 }",
        b="type Query { b(i: In): Int } input In { x: Int! z: Int = 3 }",
    )
    assert definition(sdl, "In") == (
        "input In\n"
        "  @join__type(graph: A)\n"
        "  @join__type(graph: B)\n"
        "{\n"
        '  x: Int! @join__field(graph: A, type: "Int") @join__field(graph: B, type: "Int!")\n'
        "  z: Int = 3\n"
        "}"
    )


def test_override_used_by_a_key_is_marked_used_overridden() -> None:
    sdl = supergraph(
        a='type Query { t: T } type T @key(fields: "id sku") { id: ID! sku: String! }',
        b='type T @key(fields: "id") { id: ID! sku: String! @override(from: "a") }',
    )
    assert (
        "  sku: String! @join__field(graph: A, usedOverridden: true) @join__field(graph: B, "
        'override: "a")'
    ) in definition(sdl, "T")


def test_override_unused_drops_the_old_owner() -> None:
    sdl = supergraph(
        a='type Query { t: T } type T @key(fields: "id") { id: ID! total: Int }',
        b='type T @key(fields: "id") { id: ID! total: Int @override(from: "a") }',
    )
    assert '  total: Int @join__field(graph: B, override: "a")' in definition(sdl, "T")


def test_interface_object_fields_reach_the_implementations() -> None:
    sdl = supergraph(
        a='type Query { media: [Media!]! } interface Media @key(fields: "id") { id: ID! title: String! } '
        'type Book implements Media @key(fields: "id") { id: ID! title: String! pages: Int }',
        b='type Media @key(fields: "id") @interfaceObject { id: ID! reviews: [String!]! }',
    )
    assert definition(sdl, "Media") == (
        "interface Media\n"
        '  @join__type(graph: A, key: "id")\n'
        '  @join__type(graph: B, key: "id", isInterfaceObject: true)\n'
        "{\n"
        "  id: ID!\n"
        "  title: String! @join__field(graph: A)\n"
        "  reviews: [String!]! @join__field(graph: B)\n"
        "}"
    )
    assert definition(sdl, "Book") == (
        "type Book implements Media\n"
        '  @join__implements(graph: A, interface: "Media")\n'
        '  @join__type(graph: A, key: "id")\n'
        "{\n"
        "  id: ID!\n"
        "  title: String!\n"
        "  pages: Int\n"
        "  reviews: [String!]! @join__field\n"
        "}"
    )


def test_federation_1_extensions_compose() -> None:
    """Federation 1 schemas are upgraded first, which drops `extend`: no `extension: true`."""
    sdl = supergraph(
        fed2=False,
        accounts='type Query { me: User } type User @key(fields: "id") { id: ID! name: String }',
        reviews='extend type User @key(fields: "id") { id: ID! @external reviews: [Review] } '
        "type Review { body: String author: User }",
    )
    assert definition(sdl, "User") == (
        "type User\n"
        '  @join__type(graph: ACCOUNTS, key: "id")\n'
        '  @join__type(graph: REVIEWS, key: "id")\n'
        "{\n"
        "  id: ID!\n"
        "  name: String @join__field(graph: ACCOUNTS)\n"
        "  reviews: [Review] @join__field(graph: REVIEWS)\n"
        "}"
    )


def test_renamed_and_namespaced_federation_directives() -> None:
    sdl = compose(
        [
            SubgraphSource(
                "a",
                "http://a",
                'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", '
                'import: [{name: "@key", as: "@primaryKey"}])\n'
                'type Query { t: T } type T @primaryKey(fields: "id") { id: ID! '
                "n: Int @federation__shareable }",
            ),
            SubgraphSource(
                "b",
                "http://b",
                'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", '
                'import: ["@key", "@shareable"])\n'
                'type T @key(fields: "id") { id: ID! n: Int @shareable }',
            ),
        ]
    )
    assert definition(sdl, "T").startswith(
        'type T\n  @join__type(graph: A, key: "id")\n  @join__type(graph: B, key: "id")\n{'
    )


def test_custom_root_type_names_become_the_standard_ones() -> None:
    sdl = supergraph(a="schema { query: RootQuery } type RootQuery { hello: String }")
    assert "{\n  query: Query\n}" in sdl
    assert definition(sdl, "Query").endswith("  hello: String\n}")
    assert "RootQuery" not in sdl


def test_descriptions_deprecations_inaccessible_and_tags_are_carried() -> None:
    long = "A listing of a home for sale, with everything a buyer needs to decide on a tour."
    sdl = supergraph(
        a=f'type Query {{ l: Listing }} """{long}""" type Listing @key(fields: "id") {{ '
        'id: ID! "The headline" title: String @deprecated(reason: "use name") '
        'secret: String @inaccessible name: String @tag(name: "public") }',
    )
    assert definition(sdl, "Listing") == (
        '"""\n'
        f"{long}\n"
        '"""\n'
        "type Listing\n"
        '  @join__type(graph: A, key: "id")\n'
        "{\n"
        "  id: ID!\n"
        "\n"
        '  """The headline"""\n'
        '  title: String @deprecated(reason: "use name")\n'
        "  secret: String @inaccessible\n"
        '  name: String @tag(name: "public")\n'
        "}"
    )
    assert '@link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)' in sdl
    assert '@link(url: "https://specs.apollo.dev/tag/v0.3")' in sdl


def test_union_members_and_scalars() -> None:
    sdl = supergraph(
        a="type Query { s: [Result] d: Date } union Result = A | B type A { x: Int } "
        "type B { y: Int } scalar Date".replace("x: Int", "x: Int @shareable"),
        b="type Query { t: Result e: Date } union Result = A type A { x: Int @shareable } "
        "scalar Date",
    )
    assert definition(sdl, "Result") == (
        "union Result\n"
        "  @join__type(graph: A)\n"
        "  @join__type(graph: B)\n"
        '  @join__unionMember(graph: A, member: "A")\n'
        '  @join__unionMember(graph: B, member: "A")\n'
        '  @join__unionMember(graph: A, member: "B")\n'
        " = A | B"
    )
    assert definition(sdl, "Date") == (
        "scalar Date\n  @join__type(graph: A)\n  @join__type(graph: B)"
    )


def test_directive_order_follows_where_composition_applies_them() -> None:
    sdl = supergraph(
        a="type Query { n: Node } interface Node { id: ID! } type Secret implements Node "
        '@key(fields: "id") @tag(name: "internal") @inaccessible { id: ID! '
        'code: String @deprecated(reason: "gone") @inaccessible }',
        b='type Secret @key(fields: "id") @inaccessible { id: ID! note: String @tag(name: "x") }',
    )
    assert definition(sdl, "Secret") == (
        "type Secret implements Node\n"
        '  @join__implements(graph: A, interface: "Node")\n'
        '  @join__type(graph: A, key: "id")\n'
        '  @join__type(graph: B, key: "id")\n'
        "  @inaccessible\n"
        '  @tag(name: "internal")\n'
        "{\n"
        "  id: ID!\n"
        '  code: String @inaccessible @join__field(graph: A) @deprecated(reason: "gone")\n'
        '  note: String @join__field(graph: B) @tag(name: "x")\n'
        "}"
    )


def test_what_is_dropped_or_narrowed_is_reported_as_hints() -> None:
    composition = compose_with_hints(
        [
            SubgraphSource(
                "a",
                "http://a",
                FED2 + "type Query { t(x: Int, y: Int): T a(i: In, e: E): Int } "
                'type T @key(fields: "id") { id: ID! n: String @shareable f(x: Int): Int @shareable } '
                "input In { x: Int y: Int } enum E { P Q }",
            ),
            SubgraphSource(
                "b",
                "http://b",
                FED2
                + 'type T @key(fields: "id") { id: ID! n: String! @shareable f: Int @shareable '
                'm: Int @override(from: "gone") } input In { x: Int } enum E { P }',
            ),
        ]
    )
    assert [(h.code, h.coordinate) for h in composition.hints] == [
        ("INCONSISTENT_BUT_COMPATIBLE_FIELD_TYPE", "T.n"),
        ("INCONSISTENT_ARGUMENT_PRESENCE", "T.f(x:)"),
        ("FROM_SUBGRAPH_DOES_NOT_EXIST", "T.m"),
        ("INCONSISTENT_INPUT_OBJECT_FIELD", "In.y"),
        ("INCONSISTENT_ENUM_VALUE_FOR_INPUT_ENUM", "E.Q"),
    ]
    assert composition.hints[3].message == (
        'Input object field "In.y" will not be added to the supergraph as it does not appear '
        'in all subgraphs: it is defined in subgraph "a" but not in subgraph "b".'
    )


def test_federation_1_unused_externals_are_dropped() -> None:
    sdl = supergraph(
        fed2=False,
        a='type Query { t: T } type T @key(fields: "id") { id: ID! w: Int }',
        b='extend type T @key(fields: "id") { id: ID! @external w: Int @external x: Int }',
    )
    assert "  w: Int @join__field(graph: A)\n" in definition(sdl, "T")


def test_differing_descriptions_keep_the_most_common_and_say_so() -> None:
    composition = compose_with_hints(
        [
            SubgraphSource(n, f"http://{n}", FED2 + sdl)
            for n, sdl in {
                "a": 'type Query { u: U } "A person." type U @key(fields: "id") { id: ID! }',
                "b": '"Someone." type U @key(fields: "id") { id: ID! }',
                "c": '"Someone." type U @key(fields: "id") { id: ID! }',
            }.items()
        ]
    )
    assert '"""Someone."""\ntype U\n' in composition.supergraph
    [hint] = composition.hints
    assert hint.code == "INCONSISTENT_DESCRIPTION"
    assert hint.message == (
        'Element "U" has inconsistent descriptions across subgraphs. The supergraph will use '
        'description (from subgraphs "b" and "c"):\n'
        '  """\n  Someone.\n  """\n'
        'In subgraph "a", the description is:\n'
        '  """\n  A person.\n  """'
    )


def test_federation_1_extends_directive_still_marks_an_extension() -> None:
    sdl = supergraph(
        fed2=False,
        a='type Query { u: U } type U @key(fields: "id") { id: ID! x: Int }',
        b='type U @key(fields: "id") @extends { id: ID! @external y: Int }',
    )
    assert '  @join__type(graph: B, key: "id", extension: true)\n' in definition(sdl, "U")
