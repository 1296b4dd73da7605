"""Demand control: `@cost` / `@listSize` estimates, the maximum, the actual cost measured.

Weights: 1 per object, 0 per scalar or enum, `@cost` where given; list fields multiply
one item's cost by their slicing argument, else `assumedSize`, else the default size
(4 here); `sizedFields` move that size onto the named children; a mutation adds 10.
"""

from __future__ import annotations

from typing import Any

import pytest
from gateway.metrics import GatewayMetrics
from gateway.types import (
    DEFER_SPEC_20220824,
    INCREMENTAL_SPEC_V0_2,
    GraphQLRequest,
    RequestContext,
)

HOMES = [
    {"id": "h1", "price": 100, "agent": {"name": "Ada"}},
    {"id": "h2", "price": 200, "agent": None},
]


def _federation(kit: Any, **options: Any) -> Any:
    homes = kit.Service(
        "homes",
        """
        type Query {
          homes(first: Int): [Home!]! @listSize(slicingArguments: ["first"], assumedSize: 5)
          agents: [Agent!]!
          search(first: Int!): HomeConnection!
            @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
        }
        type Mutation { book(id: ID!): Home @cost(weight: 7) }
        type Home @key(fields: "id") { id: ID!  price: Int @cost(weight: 2)  agent: Agent }
        type Agent @cost(weight: 3) { name: String }
        type HomeConnection { edges: [HomeEdge!]!  total: Int }
        type HomeEdge { node: Home! }
        """,
        root={
            "homes": lambda args: HOMES,
            "agents": [{"name": "Ada"}],
            "search": lambda args: {"total": 2, "edges": [{"node": h} for h in HOMES]},
            "book": lambda args: HOMES[0],
        },
        entities={"Home": lambda rep: next(h for h in HOMES if h["id"] == rep["id"])},
    )
    return kit.Federation(homes, list_size=4, **options)


def test_composition_carries_cost_and_list_size(kit: Any) -> None:
    sdl = _federation(kit).supergraph.sdl
    assert '@link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@cost", "@listSize"])' in sdl
    assert "price: Int @cost(weight: 2)" in sdl
    assert "type Agent\n  @join__type(graph: HOMES)\n  @cost(weight: 3)\n{" in sdl
    assert '@listSize(slicingArguments: ["first"], assumedSize: 5)' in sdl


def _estimate(federation: Any, query: str, variables: dict[str, Any] | None = None) -> Any:
    return federation.engine.estimated_cost(GraphQLRequest(query, variables))


def test_estimates_follow_the_weights_and_list_sizes(kit: Any) -> None:
    federation = _federation(kit)
    # Each home: 1 + price 2 + agent 3 = 6, three of them.
    assert _estimate(federation, "{ homes(first: 3) { id price agent { name } } }") == 18
    assert _estimate(federation, "{ homes { id } }") == 5  # assumedSize
    query = "query($n: Int) { homes(first: $n) { price } }"
    assert _estimate(federation, query, {"n": 10}) == 30  # the variable's value
    assert _estimate(federation, "{ agents { name } }") == 12  # the default size, 4
    # The connection costs 1; its two edges cost 1 + node (1 + price 2) each.
    assert _estimate(federation, "{ search(first: 2) { total edges { node { price } } } }") == 9
    assert _estimate(federation, 'mutation { book(id: "h1") { price } }') == 19


async def test_over_the_maximum_is_refused_before_any_fetch(kit: Any) -> None:
    federation = _federation(kit, max_directive_cost=17)
    result = await federation.run("{ homes(first: 3) { id price agent { name } } }")
    assert result == {
        "errors": [
            {
                "message": "Operation estimated cost 18 exceeds the maximum of 17.",
                "extensions": {
                    "code": "COST_ESTIMATED_TOO_EXPENSIVE",
                    "cost": {"estimated": 18, "max": 17},
                },
            }
        ]
    }
    assert federation.fetched == []
    within = await federation.run("{ homes(first: 2) { id price } }")
    assert within == {"data": {"homes": [{"id": "h1", "price": 100}, {"id": "h2", "price": 200}]}}


async def test_the_actual_cost_is_measured_from_the_response(kit: Any) -> None:
    metrics = GatewayMetrics()
    federation = _federation(kit, metrics=metrics)
    result = await federation.run("{ homes(first: 3) { id price agent { name } } }")
    assert result["data"]["homes"][1]["agent"] is None
    # Two homes came back, not three: 1 + 2 + 3 for the first, 1 + 2 for the second.
    assert metrics.value("gateway_operation_cost_sum", measure="estimated") == 18
    assert metrics.value("gateway_operation_cost_sum", measure="actual") == 9
    assert metrics.value("gateway_operation_cost_count", measure="actual") == 1


async def test_no_costs_without_directives_or_a_maximum(kit: Any) -> None:
    plain = kit.Service(
        "plain",
        "type Query { n: Int }",
        root={"n": 1},
    )
    metrics = GatewayMetrics()
    federation = kit.Federation(plain, metrics=metrics)
    assert await federation.run("{ n }") == {"data": {"n": 1}}
    assert metrics.value("gateway_operation_cost_count", measure="estimated") == 0


async def _incremental(federation: Any, query: str, spec: str) -> list[Any]:
    payloads = await federation.engine.execute_incremental(
        GraphQLRequest(query), RequestContext(), spec=spec
    )
    assert not isinstance(payloads, dict)
    return [payload async for payload in payloads]


@pytest.mark.parametrize("spec", [DEFER_SPEC_20220824, INCREMENTAL_SPEC_V0_2])
async def test_the_actual_cost_with_defer_adds_up_every_payload(kit: Any, spec: str) -> None:
    metrics = GatewayMetrics()
    federation = _federation(kit, metrics=metrics)
    query = "{ homes(first: 3) { id ... @defer { price agent { name } } } }"
    payloads = await federation.engine.execute_incremental(
        GraphQLRequest(query), RequestContext(), spec=spec
    )
    assert not isinstance(payloads, dict)
    first = await anext(payloads)
    assert first["data"] == {"homes": [{"id": "h1"}, {"id": "h2"}]}
    # Measured once the last payload is out: the deferred prices and agent not yet.
    assert metrics.value("gateway_operation_cost_count", measure="actual") == 0
    rest = [payload async for payload in payloads]
    assert rest[-1]["hasNext"] is False
    # The same 9 as the answer without `@defer`: the homes in the first payload (1 each),
    # then price 2 + agent 3 for the first, price 2 for the second, in the deferred one.
    assert metrics.value("gateway_operation_cost_sum", measure="estimated") == 18
    assert metrics.value("gateway_operation_cost_sum", measure="actual") == 9
    assert metrics.value("gateway_operation_cost_count", measure="actual") == 1


async def test_streamed_items_are_counted_and_a_departed_client_has_no_actual(
    kit: Any,
) -> None:
    metrics = GatewayMetrics()
    federation = _federation(kit, metrics=metrics)
    streamed = "{ homes(first: 3) @stream(initialCount: 1) { id price } }"
    payloads = await _incremental(federation, streamed, INCREMENTAL_SPEC_V0_2)
    assert payloads[1]["incremental"] == [{"id": "0", "items": [{"id": "h2", "price": 200}]}]
    assert metrics.value("gateway_operation_cost_sum", measure="actual") == 6  # (1 + 2) * 2
    # A client that leaves after the first payload: its estimate is recorded alone.
    deferred = "{ homes(first: 3) { id ... @defer { price } } }"
    left = await federation.engine.execute_incremental(GraphQLRequest(deferred), RequestContext())
    assert not isinstance(left, dict)
    await anext(left)
    await left.aclose()
    assert metrics.value("gateway_operation_cost_count", measure="estimated") == 2
    assert metrics.value("gateway_operation_cost_count", measure="actual") == 1


async def test_an_expensive_deferred_operation_is_refused_whole(kit: Any) -> None:
    federation = _federation(kit, max_directive_cost=17)
    query = "{ homes(first: 3) { id ... @defer { price agent { name } } } }"
    refused = await federation.engine.execute_incremental(
        GraphQLRequest(query), RequestContext(), spec=INCREMENTAL_SPEC_V0_2
    )
    assert isinstance(refused, dict)  # one answer, no payloads
    assert refused["errors"][0]["extensions"]["cost"] == {"estimated": 18, "max": 17}
    assert "data" not in refused
