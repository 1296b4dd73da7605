"""Queries through the gateway against the corpus subgraphs: exact responses, every feature."""

from __future__ import annotations

from typing import Any


async def test_single_subgraph_query(gateway: Any) -> None:
    result = await gateway.run("{ me { id name address { city } } }")
    assert result == {
        "data": {"me": {"id": "u1", "name": "Ada Lovelace", "address": {"city": "London"}}}
    }
    assert gateway.transport.subgraphs == ["accounts"]


async def test_entity_jump_with_provides_shortcut(gateway: Any) -> None:
    result = await gateway.run(
        "{ topReviews(first: 2) { body author { username name } product { name } } }"
    )
    assert result == {
        "data": {
            "topReviews": [
                {
                    "body": "Love it!",
                    "author": {"username": "@ada", "name": "Ada Lovelace"},
                    "product": {"name": "Table"},
                },
                {
                    "body": "Too expensive.",
                    "author": {"username": "@alan", "name": "Alan Turing"},
                    "product": {"name": "Table"},
                },
            ]
        }
    }


async def test_provided_field_needs_no_extra_fetch(gateway: Any) -> None:
    result = await gateway.run("{ topReviews(first: 1) { author { username } } }")
    assert result == {"data": {"topReviews": [{"author": {"username": "@ada"}}]}}
    assert gateway.transport.subgraphs == ["reviews"]


async def test_requires_with_arguments_and_nested_and_chained(gateway: Any) -> None:
    result = await gateway.run(
        """{ topProducts(first: 2) {
             name shippingEstimate(zip: "123") deliveryNote shippingLabel } }"""
    )
    assert result == {
        "data": {
            "topProducts": [
                {
                    "name": "Table",
                    "shippingEstimate": 13,
                    "deliveryNote": "large parcel, 100g",
                    "shippingLabel": "LABEL: large parcel, 100g",
                },
                {
                    "name": "Couch",
                    "shippingEstimate": 3,
                    "deliveryNote": "huge parcel, 1000g",
                    "shippingLabel": "LABEL: huge parcel, 1000g",
                },
            ]
        }
    }
    # products -> inventory (shippingEstimate, deliveryNote) -> reviews (shippingLabel)
    assert gateway.transport.subgraphs == ["products", "inventory", "reviews"]
    sent = [rep for reps in gateway.transport.calls[1][2].values() for rep in reps]
    assert {"__typename": "Product", "sku": "sku-1", "price": 899, "weight": 100} in sent
    assert {
        "__typename": "Product",
        "sku": "sku-1",
        "dimensions": {"size": "large", "weight": 100},
    } in sent


async def test_chain_of_requires_alone(gateway: Any) -> None:
    result = await gateway.run('{ product(upc: "2") { shippingLabel } }')
    assert result == {"data": {"product": {"shippingLabel": "LABEL: huge parcel, 1000g"}}}
    assert gateway.transport.subgraphs == ["products", "inventory", "reviews"]
    assert gateway.transport.calls[2][2] == {
        "_reps0": [{"__typename": "Product", "upc": "2", "deliveryNote": "huge parcel, 1000g"}]
    }


async def test_multiple_keys_use_the_one_the_target_knows(gateway: Any) -> None:
    result = await gateway.run('{ product(upc: "1") { name inStock restockDate } }')
    assert result == {
        "data": {"product": {"name": "Table", "inStock": True, "restockDate": "2030-01-01"}}
    }
    assert gateway.transport.calls[1][2] == {"_reps0": [{"__typename": "Product", "sku": "sku-1"}]}


async def test_key_fetched_from_another_subgraph_first(gateway: Any) -> None:
    """reviews knows Product by upc only; inventory by sku only: products bridges them."""
    result = await gateway.run("{ topReviews(first: 1) { product { inStock } } }")
    assert result == {"data": {"topReviews": [{"product": {"inStock": True}}]}}
    assert gateway.transport.subgraphs == ["reviews", "products", "inventory"]


async def test_compound_nested_key(gateway: Any) -> None:
    result = await gateway.run(
        "{ topProducts(first: 3) { name seller { name rating region { code } } } }"
    )
    assert result == {
        "data": {
            "topProducts": [
                {
                    "name": "Table",
                    "seller": {"name": "Oak & Co", "rating": 5, "region": {"code": "EU"}},
                },
                {
                    "name": "Couch",
                    "seller": {"name": "Sofa Inc", "rating": 3, "region": {"code": "US"}},
                },
                {"name": "Chair", "seller": None},
            ]
        }
    }
    assert gateway.transport.calls[1][2] == {
        "_reps0": [
            {"__typename": "Seller", "id": "s1", "region": {"code": "EU"}},
            {"__typename": "Seller", "id": "s2", "region": {"code": "US"}},
        ]
    }


async def test_override_sends_field_to_the_new_owner(gateway: Any) -> None:
    result = await gateway.run('{ product(upc: "2") { inStock } }')
    assert result == {"data": {"product": {"inStock": False}}}
    assert gateway.transport.subgraphs == ["products", "inventory"]


async def test_resolvable_false_reference_is_resolved_by_the_owner(gateway: Any) -> None:
    result = await gateway.run("{ media { ... on Book { title author { id name } } } }")
    assert result == {
        "data": {
            "media": [
                {"title": "Dune", "author": {"id": "u2", "name": "Alan Turing"}},
                {},
            ]
        }
    }
    assert gateway.transport.subgraphs == ["media", "accounts"]


async def test_interface_with_fragments_and_interface_object_fields(gateway: Any) -> None:
    result = await gateway.run(
        """{ media { __typename id title
                     ... on Book { pages } ... on Movie { minutes } rating } }"""
    )
    assert result == {
        "data": {
            "media": [
                {"__typename": "Book", "id": "b1", "title": "Dune", "pages": 412, "rating": 4.5},
                {
                    "__typename": "Movie",
                    "id": "m1",
                    "title": "Alien",
                    "minutes": 117,
                    "rating": 3.9,
                },
            ]
        }
    }
    assert gateway.transport.subgraphs == ["media", "ratings"]
    # Book and Movie positions ask ratings the same thing: one _entities field for both
    assert gateway.transport.calls[1][2] == {
        "_reps0": [{"__typename": "Media", "id": "b1"}, {"__typename": "Media", "id": "m1"}]
    }


async def test_interface_object_root_finds_concrete_types(gateway: Any) -> None:
    result = await gateway.run(
        "{ topRated { __typename id rating title ... on Movie { minutes } } }"
    )
    assert result == {
        "data": {
            "topRated": [
                {"__typename": "Book", "id": "b1", "rating": 4.5, "title": "Dune"},
                {
                    "__typename": "Movie",
                    "id": "m1",
                    "rating": 3.9,
                    "title": "Alien",
                    "minutes": 117,
                },
            ]
        }
    }
    assert gateway.transport.subgraphs == ["ratings", "media"]
    assert gateway.transport.calls[1][2] == {
        "_reps0": [{"__typename": "Media", "id": "b1"}, {"__typename": "Media", "id": "m1"}]
    }


async def test_union_members_some_subgraphs_do_not_know(gateway: Any) -> None:
    result = await gateway.run(
        """{ search(term: "dune") { __typename ... on Book { title rating }
                                   ... on Movie { minutes } ... on Product { name } }
             mediaSearch { __typename ... on Movie { title } ... on Product { name } } }"""
    )
    assert result == {
        "data": {
            "search": [{"__typename": "Book", "title": "Dune", "rating": 4.5}],
            "mediaSearch": [{"__typename": "Book"}, {"__typename": "Movie", "title": "Alien"}],
        }
    }
    products_call = next(c for c in gateway.transport.calls if c[0] == "products")
    assert "Movie" not in products_call[1]


async def test_union_of_local_members(gateway: Any) -> None:
    result = await gateway.run('{ search(term: "c") { ... on Product { upc name } } }')
    assert result == {
        "data": {"search": [{"upc": "2", "name": "Couch"}, {"upc": "3", "name": "Chair"}]}
    }
    assert gateway.transport.subgraphs == ["products"]


async def test_shareable_root_field_takes_the_cheapest_subgraph(gateway: Any) -> None:
    only_stock = await gateway.run('{ productBySku(sku: "sku-1") { inStock } }')
    assert only_stock == {"data": {"productBySku": {"inStock": True}}}
    assert gateway.transport.subgraphs == ["inventory"]
    only_name = await gateway.run('{ productBySku(sku: "sku-1") { name price } }')
    assert only_name == {"data": {"productBySku": {"name": "Table", "price": 899}}}
    assert gateway.transport.subgraphs == ["products"]


async def test_aliases_including_ones_clashing_with_keys(gateway: Any) -> None:
    result = await gateway.run(
        "{ me { id: name name: id reviews { key: id body } } first: topProducts(first: 1) { upc } }"
    )
    assert result == {
        "data": {
            "me": {
                "id": "Ada Lovelace",
                "name": "u1",
                "reviews": [
                    {"key": "r1", "body": "Love it!"},
                    {"key": "r3", "body": "Could be worse."},
                ],
            },
            "first": [{"upc": "1"}],
        }
    }
    assert gateway.transport.calls[-1][2] == {"_reps0": [{"__typename": "User", "id": "u1"}]}


async def test_same_field_with_different_arguments_under_aliases(gateway: Any) -> None:
    result = await gateway.run(
        """{ product(upc: "1") { a: shippingEstimate(zip: "1") b: shippingEstimate(zip: "123")
                                  c: shippingEstimate } }"""
    )
    assert result == {"data": {"product": {"a": 11, "b": 13, "c": 10}}}


async def test_named_and_inline_fragments(gateway: Any) -> None:
    result = await gateway.run(
        """
        query { me { ...Who ... on User { reviews { ...R } } } }
        fragment Who on User { name ... { username } }
        fragment R on Review { rating product { ... on Product { name } } }
        """
    )
    assert result == {
        "data": {
            "me": {
                "name": "Ada Lovelace",
                "username": "@ada",
                "reviews": [
                    {"rating": 5, "product": {"name": "Table"}},
                    {"rating": 3, "product": {"name": "Couch"}},
                ],
            }
        }
    }


async def test_variables_with_defaults_are_forwarded_only_where_used(gateway: Any) -> None:
    query = """query Q($n: Int, $zip: String = "99", $upc: String!) {
        topProducts(first: $n) { upc shippingEstimate(zip: $zip) }
        product(upc: $upc) { name } }"""
    result = await gateway.run(query, {"n": 1, "upc": "3"})
    assert result == {
        "data": {
            "topProducts": [{"upc": "1", "shippingEstimate": 12}],
            "product": {"name": "Chair"},
        }
    }
    products_call, inventory_call = gateway.transport.calls
    assert products_call[2] == {"n": 1, "upc": "3"}
    assert "zip" not in products_call[1]
    assert inventory_call[2]["zip"] == "99"
    assert set(inventory_call[2]) == {"zip", "_reps0"}


async def test_default_argument_of_the_schema_applies(gateway: Any) -> None:
    result = await gateway.run("{ topProducts { upc } }")
    assert result == {"data": {"topProducts": [{"upc": "1"}, {"upc": "2"}, {"upc": "3"}]}}


async def test_skip_and_include_with_variables_and_literals(gateway: Any) -> None:
    query = """query Q($reviews: Boolean!, $noName: Boolean = false) {
        me { name @skip(if: $noName) id @include(if: false)
             ... @include(if: $reviews) { reviews { body } } } }"""
    without = await gateway.run(query, {"reviews": False})
    assert without == {"data": {"me": {"name": "Ada Lovelace"}}}
    assert gateway.transport.subgraphs == ["accounts"]
    with_reviews = await gateway.run(query, {"reviews": True, "noName": True})
    assert with_reviews == {
        "data": {"me": {"reviews": [{"body": "Love it!"}, {"body": "Could be worse."}]}}
    }
    assert gateway.transport.subgraphs == ["accounts", "reviews"]


async def test_typename_everywhere(gateway: Any) -> None:
    result = await gateway.run(
        """{ __typename me { __typename reviews { __typename product { __typename } } }
             media { __typename } }"""
    )
    assert result == {
        "data": {
            "__typename": "Query",
            "me": {
                "__typename": "User",
                "reviews": [
                    {"__typename": "Review", "product": {"__typename": "Product"}},
                    {"__typename": "Review", "product": {"__typename": "Product"}},
                ],
            },
            "media": [{"__typename": "Book"}, {"__typename": "Movie"}],
        }
    }


async def test_input_object_with_default_field(gateway: Any) -> None:
    result = await gateway.run(
        'mutation { createProduct(input: {upc: "7", name: "Lamp"}) { name price } }'
    )
    assert result == {"data": {"createProduct": {"name": "Lamp", "price": 100}}}


async def test_input_object_variable_is_coerced_and_forwarded(gateway: Any) -> None:
    result = await gateway.run(
        "mutation M($p: ProductInput!) { createProduct(input: $p) { upc name price } }",
        {"p": {"upc": "8", "name": "Rug"}},
    )
    assert result == {"data": {"createProduct": {"upc": "8", "name": "Rug", "price": 100}}}
    assert gateway.transport.calls[0][2] == {"p": {"upc": "8", "name": "Rug", "price": 100}}


async def test_introspection_of_the_api_schema(gateway: Any) -> None:
    result = await gateway.run(
        """{ __schema { queryType { name } }
             user: __type(name: "User") { fields { name } }
             product: __type(name: "Product") { fields { name } }
             hidden: __type(name: "join__Graph") { name } }"""
    )
    user_fields = [f["name"] for f in result["data"]["user"]["fields"]]
    assert user_fields == ["id", "name", "username", "address", "reviews"]
    assert "secret" not in [f["name"] for f in result["data"]["product"]["fields"]]
    assert result["data"]["__schema"] == {"queryType": {"name": "Query"}}
    assert result["data"]["hidden"] is None
    assert gateway.transport.calls == []


async def test_introspection_beside_federated_fields(gateway: Any) -> None:
    result = await gateway.run('{ me { name } __type(name: "Genre") { enumValues { name } } }')
    assert result == {
        "data": {
            "me": {"name": "Ada Lovelace"},
            "__type": {"enumValues": [{"name": "SCIFI"}, {"name": "HORROR"}]},
        }
    }


async def test_response_keys_follow_the_client_order(gateway: Any) -> None:
    result = await gateway.run(
        """{ me { reviews { product { inStock name } body } name id }
             topReviews(first: 1) { author { name username } id } }"""
    )
    me = result["data"]["me"]
    assert list(me) == ["reviews", "name", "id"]
    assert list(me["reviews"][0]) == ["product", "body"]
    assert list(me["reviews"][0]["product"]) == ["inStock", "name"]
    assert list(result["data"]) == ["me", "topReviews"]
    assert list(result["data"]["topReviews"][0]) == ["author", "id"]
    assert list(result["data"]["topReviews"][0]["author"]) == ["name", "username"]


async def test_skipped_root_field_and_typename_only_need_no_fetch(gateway: Any) -> None:
    result = await gateway.run("{ __typename me @skip(if: true) { id } }")
    assert result == {"data": {"__typename": "Query"}}
    assert gateway.transport.calls == []


async def test_entities_under_nested_lists(gateway: Any) -> None:
    result = await gateway.run("{ users { name reviews { product { name inStock } } } }")
    assert result == {
        "data": {
            "users": [
                {
                    "name": "Ada Lovelace",
                    "reviews": [
                        {"product": {"name": "Table", "inStock": True}},
                        {"product": {"name": "Couch", "inStock": False}},
                    ],
                },
                {
                    "name": "Alan Turing",
                    "reviews": [{"product": {"name": "Table", "inStock": True}}],
                },
            ]
        }
    }
    assert gateway.transport.subgraphs == ["accounts", "reviews", "products", "inventory"]
    products_reps = gateway.transport.calls[2][2]["_reps0"]
    assert products_reps == [
        {"__typename": "Product", "upc": "1"},
        {"__typename": "Product", "upc": "2"},
    ]


async def test_same_entity_reached_twice_is_merged(gateway: Any) -> None:
    result = await gateway.run(
        """{ product(upc: "1") { name reviews { product { upc name } } } }"""
    )
    assert result == {
        "data": {
            "product": {
                "name": "Table",
                "reviews": [
                    {"product": {"upc": "1", "name": "Table"}},
                    {"product": {"upc": "1", "name": "Table"}},
                ],
            }
        }
    }
    assert gateway.transport.calls[2][2] == {"_reps0": [{"__typename": "Product", "upc": "1"}]}


async def test_requirement_on_a_field_with_arguments(gateway: Any) -> None:
    result = await gateway.run(
        '{ product(upc: "1") { usd: convertedPrice(currency: "USD") exportPrice } }'
    )
    assert result == {"data": {"product": {"usd": 2697, "exportPrice": "EUR 1798"}}}
    products_call, inventory_call = gateway.transport.calls
    assert 'convertedPrice(currency: "EUR")' in products_call[1]
    assert inventory_call[2] == {
        "_reps0": [{"__typename": "Product", "sku": "sku-1", "convertedPrice": 1798}]
    }


async def test_interface_object_fields_alone_need_no_owner_fetch(gateway: Any) -> None:
    result = await gateway.run("{ topRated { id rating } }")
    assert result == {
        "data": {"topRated": [{"id": "b1", "rating": 4.5}, {"id": "m1", "rating": 3.9}]}
    }
    assert gateway.transport.subgraphs == ["ratings"]
