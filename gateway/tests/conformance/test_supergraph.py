"""Supergraph loading: join metadata, the API schema, and clear errors on malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.supergraph import Supergraph, SupergraphError
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

SDL = (Path(__file__).parent / "supergraph.graphql").read_text()


def test_subgraph_urls_and_names() -> None:
    supergraph = Supergraph.parse(SDL)
    assert supergraph.subgraph_urls["accounts"] == "http://accounts.invalid/graphql"
    assert set(supergraph.subgraph_urls) == {
        "accounts",
        "inventory",
        "media",
        "products",
        "ratings",
        "reviews",
    }
    assert supergraph.graphs["ACCOUNTS"] == "accounts"
    assert supergraph.sdl == SDL


def test_api_schema_hides_federation_machinery_and_inaccessible_elements() -> None:
    api = Supergraph.parse(SDL).api_schema
    names = set(api.type_map)
    assert not {n for n in names if n.startswith(("join__", "link__"))}
    assert not any(d.name.startswith(("join__", "link")) for d in api.directives)
    assert "inaccessible" not in {d.name for d in api.directives}
    user = api.type_map["User"]
    assert isinstance(user, GraphQLObjectType)
    assert list(user.fields) == ["id", "name", "username", "address", "reviews"]
    product = api.type_map["Product"]
    assert isinstance(product, GraphQLObjectType)
    assert "secret" not in product.fields
    category = api.type_map["Category"]
    assert isinstance(category, GraphQLEnumType)
    assert list(category.values) == ["FURNITURE", "BOOKS"]
    product_input = api.type_map["ProductInput"]
    assert isinstance(product_input, GraphQLInputObjectType)
    assert list(product_input.fields) == ["upc", "name", "price"]


def test_join_metadata() -> None:
    supergraph = Supergraph.parse(SDL)
    product = supergraph.graphs_of_type("Product")
    assert [k.text for k in product["products"].keys] == ["upc", "sku"]
    assert [k.text for k in product["inventory"].keys] == ["sku"]
    assert supergraph.graphs_of_type("User")["media"].resolvable_keys == []
    assert supergraph.graphs_of_type("Media")["ratings"].is_interface_object
    assert supergraph.resolving_graphs("Product", "inStock") == ["inventory"]
    assert supergraph.resolving_graphs("Product", "restockDate") == ["inventory"]
    assert supergraph.resolving_graphs("User", "username") == ["accounts"]
    assert supergraph.resolving_graphs("Book", "rating") == []
    assert supergraph.resolving_graphs("Address", "city") == ["accounts"]
    estimate = supergraph.field_join("Product", "shippingEstimate", "inventory")
    assert estimate is not None and estimate.requires == (("price", None), ("weight", None))
    note = supergraph.field_join("Product", "deliveryNote", "inventory")
    assert note is not None
    assert note.requires == (("dimensions", (("size", None), ("weight", None))),)
    author = supergraph.field_join("Review", "author", "reviews")
    assert author is not None and author.provides == (("username", None),)
    assert supergraph.possible_types_in("products", "SearchResult") == {"Product", "Book"}
    assert supergraph.possible_types_in("media", "Media") == {"Book", "Movie"}


def test_renamed_join_spec_is_understood() -> None:
    renamed = SDL.replace("join__", "j__").replace(
        '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)',
        '@link(url: "https://specs.apollo.dev/join/v0.3", as: "j", for: EXECUTION)',
    )
    supergraph = Supergraph.parse(renamed)
    assert supergraph.resolving_graphs("Product", "inStock") == ["inventory"]
    assert not any(n.startswith("j__") for n in supergraph.api_schema.type_map)


@pytest.mark.parametrize(
    ("sdl", "reason"),
    [
        ("type Query { a: Int", "does not parse"),
        ("type Query { a: Int }", "join__Graph is missing"),
        (
            SDL.replace(
                'ACCOUNTS @join__graph(name: "accounts", url: "http://accounts.invalid/graphql")',
                "ACCOUNTS",
            ),
            "has no @join__graph",
        ),
        (
            SDL.replace(
                '@join__type(graph: ACCOUNTS, key: "id")', '@join__type(graph: NOPE, key: "id")'
            ),
            "unknown join__Graph value 'NOPE'",
        ),
        (SDL.replace('requires: "price weight"', 'requires: "price {"'), "invalid field set"),
    ],
)
def test_malformed_supergraphs_are_rejected_with_a_reason(sdl: str, reason: str) -> None:
    with pytest.raises(SupergraphError, match=reason):
        Supergraph.parse(sdl)


def test_input_fields_missing_from_some_subgraphs_are_not_exposed() -> None:
    sdl = SDL.replace(
        """input ProductInput
  @join__type(graph: PRODUCTS)
{""",
        """input ProductInput
  @join__type(graph: PRODUCTS)
  @join__type(graph: REVIEWS)
{
  note: String @join__field(graph: PRODUCTS)
  tag: String @join__field(graph: PRODUCTS) @join__field(graph: REVIEWS)""",
    )
    api = Supergraph.parse(sdl).api_schema
    product_input = api.type_map["ProductInput"]
    assert isinstance(product_input, GraphQLInputObjectType)
    assert list(product_input.fields) == ["tag", "upc", "name", "price"]


def test_other_linked_specs_stay_out_of_the_api() -> None:
    sdl = (
        SDL.replace(
            '@link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)',
            '@link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)\n'
            '  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)',
        )
        .replace(
            "scalar join__FieldSet",
            "scalar join__FieldSet\nscalar requiresScopes__Scope\n"
            "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION",
        )
        .replace(
            "  me: User @join__field(graph: ACCOUNTS)",
            '  me: User @join__field(graph: ACCOUNTS) @requiresScopes(scopes: [["read"]])',
        )
    )
    api = Supergraph.parse(sdl).api_schema
    assert "requiresScopes__Scope" not in api.type_map
    assert "requiresScopes" not in {d.name for d in api.directives}


def test_links_on_a_schema_extension() -> None:
    head, rest = SDL.split("{\n  query: Query", 1)
    sdl = (
        "extend "
        + head.replace("schema\n", "schema\n", 1)
        + "\n"
        + "schema {\n  query: Query"
        + rest
    )
    supergraph = Supergraph.parse(sdl)
    assert "Query" in supergraph.api_schema.type_map
    assert supergraph.resolving_graphs("Product", "inStock") == ["inventory"]
