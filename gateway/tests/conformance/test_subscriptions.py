"""Subscriptions: forwarded to the owning subgraph over graphql-transport-ws, each event
completed with fields from the other subgraphs."""

from __future__ import annotations

from typing import Any

from gateway.engine import is_request_error
from gateway.types import GraphQLRequest, RequestContext


async def test_subscription_events_are_completed_across_subgraphs(gateway: Any) -> None:
    events = await gateway.engine.subscribe(
        GraphQLRequest(
            """subscription S($upc: String) {
                 reviewAdded(upc: $upc) { body author { name } product { name inStock } } }""",
            {"upc": "1"},
        ),
        RequestContext(headers={"authorization": "Bearer sub-token"}),
    )
    received = [event async for event in events]
    assert received == [
        {
            "data": {
                "reviewAdded": {
                    "body": "Love it!",
                    "author": {"name": "Ada Lovelace"},
                    "product": {"name": "Table", "inStock": True},
                }
            }
        },
        {
            "data": {
                "reviewAdded": {
                    "body": "Too expensive.",
                    "author": {"name": "Alan Turing"},
                    "product": {"name": "Table", "inStock": True},
                }
            }
        },
    ]
    assert gateway.traffic.ws_inits[-1] == {
        "type": "connection_init",
        "payload": {"Authorization": "Bearer sub-token"},
    }
    subscribe_call = gateway.transport.calls[0]
    assert subscribe_call[0] == "reviews"
    assert subscribe_call[1].startswith("subscription")
    assert subscribe_call[2] == {"upc": "1"}
    # per event: accounts, then products (name and inventory's key), then inventory
    assert gateway.transport.subgraphs[1:] == ["accounts", "products", "inventory"] * 2


async def test_subscription_can_be_closed_early(gateway: Any) -> None:
    events = await gateway.engine.subscribe(
        GraphQLRequest("subscription { reviewAdded { id } }"), RequestContext()
    )
    assert not isinstance(events, dict)
    first = await anext(events)
    assert first == {"data": {"reviewAdded": {"id": "r1"}}}
    await events.aclose()


async def test_invalid_subscription_is_a_request_error(gateway: Any) -> None:
    result = await gateway.engine.subscribe(
        GraphQLRequest("subscription { reviewAdded { nope } }"), RequestContext()
    )
    assert isinstance(result, dict) and is_request_error(result)
    query_instead = await gateway.engine.subscribe(
        GraphQLRequest("{ me { id } }"), RequestContext()
    )
    assert isinstance(query_instead, dict) and is_request_error(query_instead)
    over_http = await gateway.run("subscription { reviewAdded { id } }")
    assert is_request_error(over_http)
    skipped = await gateway.engine.subscribe(
        GraphQLRequest("subscription { reviewAdded @skip(if: true) { id } }"), RequestContext()
    )
    assert isinstance(skipped, dict) and is_request_error(skipped)


async def test_unreachable_subscription_subgraph_yields_an_error(
    subgraph_server: tuple[str, Any], supergraph: Any
) -> None:
    from .conftest import make_gateway

    base, traffic = subgraph_server
    built, _ = make_gateway(
        base, traffic, supergraph, urls={"reviews": "http://127.0.0.1:9/reviews"}
    )
    try:
        events = await built.engine.subscribe(
            GraphQLRequest("subscription { reviewAdded { id } }"), RequestContext()
        )
        assert not isinstance(events, dict)
        received = [event async for event in events]
    finally:
        await built.transport.close()
    assert received == [
        {
            "data": None,
            "errors": [
                {
                    "message": "Subgraph 'reviews' is unreachable.",
                    "path": ["reviewAdded"],
                    "extensions": {"code": "UNAVAILABLE", "serviceName": "reviews"},
                }
            ],
        }
    ]
