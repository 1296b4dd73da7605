"""Directives subgraphs compose (`@composeDirective`): one merged definition, or why not."""

from __future__ import annotations

import pytest
from gateway.compose import CompositionError, SubgraphSource, compose
from gateway.supergraph import Supergraph
from graphql import DirectiveLocation, print_ast

FED2 = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
LINK = (
    'extend schema @link(url: "https://specs.realtyforyou.dev/tour/v1.0", import: ["@tour"])'
    ' @composeDirective(name: "@tour")\n'
)


def _compose(**subgraphs: str) -> str:
    return compose(
        [
            SubgraphSource(name, f"http://{name}/graphql", FED2 + sdl)
            for name, sdl in subgraphs.items()
        ]
    )


def _codes(**subgraphs: str) -> list[tuple[str, str]]:
    with pytest.raises(CompositionError) as caught:
        _compose(**subgraphs)
    return [(issue.code, issue.message) for issue in caught.value.issues]


def test_the_definitions_merge_into_one() -> None:
    sdl = _compose(
        a=LINK + "directive @tour(slot: Int, room: String) on FIELD\ntype Query { a: Int }",
        b=LINK
        + 'directive @tour(slot: Int = 9, note: String = "x") repeatable on QUERY | FIELD\n'
        + "type Query { b: Int }",
        c="type Query { c: Int }",
    )
    assert (
        'directive @tour(slot: Int = 9, room: String, note: String = "x") on QUERY | FIELD' in sdl
    )
    assert '@link(url: "https://specs.realtyforyou.dev/tour/v1.0", import: ["@tour"])' in sdl
    assert (
        '@join__directive(graphs: [A, B], name: "composeDirective", args: {name: "@tour"})' in sdl
    )
    supergraph = Supergraph.parse(sdl)
    # The gateway sends a field's directives on, not its own operation's: clients get FIELD.
    offered = supergraph.api_schema.get_directive("tour")
    assert offered is not None and tuple(offered.locations) == (DirectiveLocation.FIELD,)
    tour = supergraph.client_directives["tour"]
    assert tour.graphs == frozenset({"a", "b"})
    assert tour.defaults == (("slot", "9"), ("note", '"x"'))
    assert [tour.sent_to(g) for g in ("a", "b", "c")] == [True, True, False]


def test_a_directive_not_composed_stays_out() -> None:
    sdl = _compose(
        a="directive @tour(slot: Int) on FIELD\ntype Query { a: Int }", b="type Query { b: Int }"
    )
    assert "@tour" not in sdl
    assert Supergraph.parse(sdl).client_directives == {}


@pytest.mark.parametrize(
    ("b", "says"),
    [
        ("directive @tour(slot: Int = 2) on FIELD", "defaults to 2, elsewhere to 1"),
        ("directive @tour(slot: String) on FIELD", "is String, elsewhere Int"),
    ],
)
def test_definitions_that_disagree_are_refused(b: str, says: str) -> None:
    found = _codes(
        a=LINK + "directive @tour(slot: Int = 1) on FIELD\ntype Query { a: Int }",
        b=LINK + b + "\ntype Query { b: Int }",
    )
    assert [code for code, _ in found] == ["DIRECTIVE_COMPOSITION_ERROR"]
    assert says in found[0][1]


@pytest.mark.parametrize(
    ("sdl", "says"),
    [
        (LINK + "type Query { a: Int }", "does not define"),
        (
            'extend schema @composeDirective(name: "@tour")\n'
            "directive @tour on FIELD\ntype Query { a: Int }",
            "must come from a spec the subgraph links",
        ),
        (
            'extend schema @composeDirective(name: "@key")\ntype Query { a: Int }',
            "names a federation directive",
        ),
    ],
)
def test_a_composed_directive_needs_a_linked_definition(sdl: str, says: str) -> None:
    found = _codes(a=sdl)
    assert [code for code, _ in found] == ["DIRECTIVE_COMPOSITION_ERROR"]
    assert says in found[0][1]


LABEL = (
    'extend schema @link(url: "https://specs.realtyforyou.dev/label/v1.0", import: ["@label"])'
    ' @composeDirective(name: "@label")\n'
    "directive @label(text: String) on OBJECT | FIELD_DEFINITION | ENUM_VALUE | FIELD\n"
)


def test_type_system_applications_are_carried_into_the_supergraph_and_the_api() -> None:
    sdl = _compose(
        a=LABEL
        + 'type Query { home: Home @label(text: "entry") }\n'
        + 'type Home @key(fields: "id") @label(text: "a") { id: ID!  kind: Kind }\n'
        + 'enum Kind { FLAT @label(text: "flat")  HOUSE }',
        b=LABEL + 'type Home @key(fields: "id") @label(text: "b") { id: ID!  rooms: Int }',
    )
    supergraph = Supergraph.parse(sdl)
    home = supergraph.api_schema.type_map["Home"]
    # Not repeatable: the first subgraph's application only.
    assert [print_ast(d) for d in home.ast_node.directives] == ['@label(text: "a")']
    query = supergraph.api_schema.query_type
    assert query is not None
    assert [print_ast(d) for d in query.fields["home"].ast_node.directives] == [
        '@label(text: "entry")'
    ]
    assert 'FLAT @join__enumValue(graph: A) @label(text: "flat")' in sdl
