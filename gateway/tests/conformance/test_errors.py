"""Errors through the gateway: null propagation, re-pathing, failing subgraphs, bad requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway.engine import is_request_error

from .conftest import make_gateway


async def test_non_null_error_propagates_to_nearest_nullable_parent(gateway: Any) -> None:
    result = await gateway.run("{ me { name reviews { body flaky } } }")
    assert result == {
        "data": {"me": None},
        "errors": [{"message": "flaky failed", "path": ["me", "reviews", 0, "flaky"]}],
    }


async def test_nullable_field_error_keeps_siblings(gateway: Any) -> None:
    result = await gateway.run("{ me { name reviews { body flakyNullable } } }")
    assert result == {
        "data": {
            "me": {
                "name": "Ada Lovelace",
                "reviews": [
                    {"body": "Love it!", "flakyNullable": None},
                    {"body": "Could be worse.", "flakyNullable": None},
                ],
            }
        },
        "errors": [
            {"message": "flaky failed", "path": ["me", "reviews", 0, "flakyNullable"]},
            {"message": "flaky failed", "path": ["me", "reviews", 1, "flakyNullable"]},
        ],
    }


async def test_root_subgraph_error_is_repathed(gateway: Any) -> None:
    result = await gateway.run("{ topReviews(first: 1) { body flakyNullable } }")
    assert result == {
        "data": {"topReviews": [{"body": "Love it!", "flakyNullable": None}]},
        "errors": [{"message": "flaky failed", "path": ["topReviews", 0, "flakyNullable"]}],
    }


async def test_enum_value_hidden_from_clients_becomes_an_error(gateway: Any) -> None:
    result = await gateway.run('{ product(upc: "3") { name category } }')
    assert result == {
        "data": {"product": {"name": "Chair", "category": None}},
        "errors": [
            {
                "message": "Product.category did not resolve to a value of its enum.",
                "path": ["product", "category"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ],
    }


@pytest.fixture
async def broken_inventory(subgraph_server: tuple[str, Any], supergraph: Any) -> AsyncIterator[Any]:
    from .conftest import make_gateway

    base, traffic = subgraph_server
    built, _ = make_gateway(
        base, traffic, supergraph, urls={"inventory": "http://127.0.0.1:9/inventory"}
    )
    yield built
    await built.transport.close()


async def test_unreachable_subgraph_gives_partial_data(broken_inventory: Any) -> None:
    result = await broken_inventory.run('{ product(upc: "1") { name shippingEstimate } }')
    assert result == {
        "data": {"product": {"name": "Table", "shippingEstimate": None}},
        "errors": [
            {
                "message": "Subgraph 'inventory' is unreachable.",
                "path": ["product"],
                "extensions": {"code": "UNAVAILABLE", "serviceName": "inventory"},
            }
        ],
    }


async def test_unreachable_subgraph_non_null_field_nulls_parent(broken_inventory: Any) -> None:
    result = await broken_inventory.run('{ product(upc: "1") { name inStock } me { name } }')
    assert result == {
        "data": {"product": None, "me": {"name": "Ada Lovelace"}},
        "errors": [
            {
                "message": "Subgraph 'inventory' is unreachable.",
                "path": ["product"],
                "extensions": {"code": "UNAVAILABLE", "serviceName": "inventory"},
            }
        ],
    }


async def test_unreachable_root_subgraph(broken_inventory: Any) -> None:
    result = await broken_inventory.run('{ productBySku(sku: "sku-1") { inStock } }')
    assert result == {
        "data": {"productBySku": None},
        "errors": [
            {
                "message": "Subgraph 'inventory' is unreachable.",
                "path": ["productBySku"],
                "extensions": {"code": "UNAVAILABLE", "serviceName": "inventory"},
            }
        ],
    }


async def test_fetch_timeout(subgraph_server: tuple[str, Any], supergraph: Any) -> None:
    from .conftest import make_gateway

    base, traffic = subgraph_server
    built, _ = make_gateway(base, traffic, supergraph, timeout=0.2)
    try:
        result = await built.run("{ sleepy(ms: 1000) me { name } }")
    finally:
        await built.transport.close()
    assert result == {
        "data": {"sleepy": None, "me": None},
        "errors": [
            {
                "message": "Subgraph 'accounts' did not answer in time.",
                "path": ["sleepy"],
                "extensions": {"code": "UNAVAILABLE", "serviceName": "accounts"},
            }
        ],
    }


async def test_non_null_root_field_failure_nulls_data(broken_inventory: Any) -> None:
    result = await broken_inventory.run("{ topProducts(first: 1) { name inStock } }")
    assert result["data"] is None
    assert result["errors"][0]["path"] == ["topProducts", 0]


async def test_parse_error_is_a_request_error(gateway: Any) -> None:
    result = await gateway.run("{ me { name }")
    assert is_request_error(result)
    assert result["errors"][0]["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
    assert gateway.transport.calls == []


async def test_validation_error_is_a_request_error(gateway: Any) -> None:
    result = await gateway.run("{ me { zzz } }")
    assert result == {
        "errors": [
            {
                "message": "Cannot query field 'zzz' on type 'User'.",
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ]
    }


async def test_suggestions_name_schema_members_only_when_introspection_is_on(
    subgraph_server: tuple[str, Any], supergraph: Any
) -> None:
    base, traffic = subgraph_server
    for hide, shown in ((False, True), (True, False)):
        built, _ = make_gateway(base, traffic, supergraph, hide_suggestions=hide)
        try:
            typo = await built.run("{ me { nam } }")
        finally:
            await built.transport.close()
        message = typo["errors"][0]["message"]
        assert ("Did you mean" in message) is shown, message


async def test_inaccessible_elements_are_not_queryable(gateway: Any) -> None:
    for query in (
        "{ me { birthYear } }",
        '{ product(upc: "1") { secret } }',
        '{ __type(name: "join__FieldSet") { name } _entities(representations: []) { __typename } }',
        'mutation { createProduct(input: {upc: "1", name: "x", secretNote: "y"}) { upc } }',
    ):
        result = await gateway.run(query)
        assert is_request_error(result), query
        assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_variable_coercion_error(gateway: Any) -> None:
    result = await gateway.run("query Q($n: Int!) { topProducts(first: $n) { upc } }", {})
    assert is_request_error(result)
    assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "$n" in result["errors"][0]["message"]


async def test_operation_name_selection(gateway: Any) -> None:
    document = "query A { me { name } } query B { users { id } }"
    missing = await gateway.run(document)
    assert is_request_error(missing)
    unknown = await gateway.run(document, operation_name="C")
    assert unknown["errors"][0]["message"] == 'Unknown operation named "C".'
    chosen = await gateway.run(document, operation_name="B")
    assert chosen == {"data": {"users": [{"id": "u1"}, {"id": "u2"}]}}


async def test_engine_times_out_transports_without_their_own_timeout(
    gateway: Any, supergraph: Any
) -> None:
    from gateway.engine import FederatedEngine
    from gateway.types import GraphQLRequest, RequestContext

    class Plain:
        """A transport that would wait forever."""

        async def fetch(self, *_: Any, **__: Any) -> Any:
            await asyncio.sleep(30)

    engine = FederatedEngine(supergraph, Plain(), fetch_timeout=0.1)  # type: ignore[arg-type]
    result = await engine.execute(GraphQLRequest("{ me { name } }"), RequestContext())
    assert result == {
        "data": {"me": None},
        "errors": [
            {
                "message": "Subgraph 'accounts' did not answer in time.",
                "path": ["me"],
                "extensions": {"code": "UNAVAILABLE", "serviceName": "accounts"},
            }
        ],
    }


async def test_unplannable_field_is_an_execution_error(supergraph: Any) -> None:
    from gateway.engine import FederatedEngine
    from gateway.supergraph import Supergraph
    from gateway.types import GraphQLRequest, RequestContext

    # Drop reviews' key on Product: nothing can reach Product.reviews from products any more.
    sdl = supergraph.sdl.replace('  @join__type(graph: REVIEWS, key: "upc")\n{', "{", 1)
    orphaned = Supergraph.parse(sdl)
    engine = FederatedEngine(orphaned, object())  # type: ignore[arg-type]
    result = await engine.execute(
        GraphQLRequest('{ product(upc: "1") { reviews { id } } }'), RequestContext()
    )
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {
        "code": "QUERY_PLANNING_FAILED",
        "reason": "UNSATISFIABLE_FIELD",
    }
    assert "Product.reviews" in result["errors"][0]["message"]
