"""Golden tests: subgraph SDL files composed into the exact supergraph text expected.

Each folder under `golden/` holds subgraph schemas (`<name>.graphql`, routed at
`http://<name>/graphql` unless the folder's expectations say otherwise) and the
`supergraph.graphql` composition must print, byte for byte: the join v0.3 layout with the
schema's `@link`s, the spec's directive definitions, then every type sorted by name, type
directives one per line and `@join__field` only where a subgraph's view differs.

Cases include `two` (an entity and a value type across identity/listings), `four`
(requires, provides, override, interfaces, unions, enum and input merging, @tag,
@inaccessible), `fed1` (federation-1 style `extend type ... @key` subgraphs with fake
`@external` keys), entity interfaces, `@interfaceObject`, nested `@provides`, overridden
fields still needed by `@requires`, input defaults, and where directives are printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.compose import SubgraphSource, compose
from gateway.supergraph import Supergraph
from graphql import print_schema

GOLDEN = Path(__file__).parent / "golden"

URLS = {
    "two": {
        "identity": "http://127.0.0.1:4001/graphql",
        "listings": "http://127.0.0.1:4002/graphql",
    },
}


CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def sources(case: str) -> list[SubgraphSource]:
    folder = GOLDEN / case
    return [
        SubgraphSource(
            path.stem,
            URLS.get(case, {}).get(path.stem, f"http://{path.stem}/graphql"),
            path.read_text(encoding="utf-8"),
        )
        for path in sorted(folder.glob("*.graphql"))
        if path.name != "supergraph.graphql"
    ]


@pytest.mark.parametrize("case", CASES)
def test_composes_into_the_exact_golden_supergraph(case: str) -> None:
    expected = (GOLDEN / case / "supergraph.graphql").read_text(encoding="utf-8")
    assert compose(sources(case)) == expected


@pytest.mark.parametrize("case", CASES)
def test_output_does_not_depend_on_the_order_subgraphs_are_given_in(case: str) -> None:
    assert compose(list(reversed(sources(case)))) == compose(sources(case))


def test_two_subgraph_supergraph_layout() -> None:
    """Spot checks of the rules the golden text encodes, so a failure says which broke."""
    supergraph = compose(sources("two"))
    assert supergraph.startswith(
        "schema\n"
        '  @link(url: "https://specs.apollo.dev/link/v1.0")\n'
        '  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)\n'
        "{\n  query: Query\n  mutation: Mutation\n}\n"
    )
    # Every subgraph has Query, so root fields always name their subgraph.
    assert "  me: User @join__field(graph: IDENTITY)\n" in supergraph
    # A value type defined in one subgraph needs no @join__field at all.
    assert "type Money\n  @join__type(graph: LISTINGS)\n{\n  amount: Int!\n" in supergraph
    # Key fields shared by both subgraphs are plain.
    assert "\n  id: ID!\n  name: String! @join__field(graph: IDENTITY)\n" in supergraph
    assert '"""A person"""\ntype User\n' in supergraph


@pytest.mark.parametrize("case", CASES)
def test_golden_supergraphs_load_in_the_gateway(case: str) -> None:
    parsed = Supergraph.parse(compose(sources(case)))
    api = print_schema(parsed.api_schema)
    for machinery in ("join__", "link__", "@link", "@inaccessible"):
        assert machinery not in api
    if case == "four":
        assert "secret" not in api  # @inaccessible
        assert "union SearchResult = Product | Shop" in api
        assert parsed.resolving_graphs("Product", "reviewsScore") == ["reviews"]
        assert parsed.resolving_graphs("Product", "price") == ["products"]
        requires = parsed.field_join("Product", "shippingEstimate", "inventory")
        assert requires is not None and requires.requires_text == "price weight"
