"""Demand control: `@cost` / `@listSize` estimates, the maximum, the actual cost measured.

Weights: 1 per object, 0 per scalar or enum, `@cost` where given; list fields multiply
one item's cost by their slicing argument, else `assumedSize`, else the default size
(4 here); `sizedFields` move that size onto the named children; a mutation adds 10.
"""

from __future__ import annotations

from typing import Any

from gateway.metrics import GatewayMetrics
from gateway.types import GraphQLRequest

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
