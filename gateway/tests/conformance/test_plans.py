"""Plan shapes: which subgraphs are called, how often, in which order, how concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from gateway.engine import FederatedEngine
from gateway.planner import Plan
from gateway.types import GraphQLRequest, RequestContext


async def test_entity_fetches_are_batched_and_deduplicated(gateway: Any) -> None:
    result = await gateway.run("{ topReviews { author { name } } }")
    assert result == {
        "data": {
            "topReviews": [
                {"author": {"name": "Ada Lovelace"}},
                {"author": {"name": "Alan Turing"}},
                {"author": {"name": "Ada Lovelace"}},
            ]
        }
    }
    assert gateway.transport.subgraphs == ["reviews", "accounts"]
    assert gateway.transport.calls[1][2] == {
        "_reps0": [{"__typename": "User", "id": "u1"}, {"__typename": "User", "id": "u2"}]
    }


async def test_one_entities_call_per_subgraph_per_step(gateway: Any) -> None:
    result = await gateway.run(
        "{ topProducts(first: 2) { inStock shippingEstimate deliveryNote reviews { id } } }"
    )
    assert [p["inStock"] for p in result["data"]["topProducts"]] == [True, False]
    assert sorted(gateway.transport.subgraphs) == ["inventory", "products", "reviews"]


async def test_fields_of_one_subgraph_share_one_fetch(gateway: Any) -> None:
    await gateway.run("{ me { name username address { city } } users { name } }")
    assert gateway.transport.subgraphs == ["accounts"]


async def test_mutation_root_fields_run_in_order(gateway: Any) -> None:
    result = await gateway.run(
        """mutation {
             a: updateName(id: "u2", name: "A. Turing") { name }
             b: updateName(id: "u2", name: "Alan M. Turing") { name }
             c: createProduct(input: {upc: "9", name: "Lamp"}) { name inStock }
             d: updateName(id: "u2", name: "Alan Turing") { id name } }"""
    )
    assert result == {
        "data": {
            "a": {"name": "A. Turing"},
            "b": {"name": "Alan M. Turing"},
            "c": {"name": "Lamp", "inStock": False},
            "d": {"id": "u2", "name": "Alan Turing"},
        }
    }
    assert gateway.transport.subgraphs == ["accounts", "products", "inventory", "accounts"]
    assert "a: updateName" in gateway.transport.calls[0][1]
    assert "b: updateName" in gateway.transport.calls[0][1]
    assert gateway.transport.calls[0][1].startswith("mutation")
    assert gateway.transport.calls[2][1].startswith("query")
    # Mutation roots must reach their subgraph at most once; the entity fetch may go again.
    assert gateway.transport.idempotent == [False, False, True, False]


async def test_query_fetches_are_idempotent(gateway: Any) -> None:
    await gateway.run("{ topReviews(first: 1) { body product { name } } }")
    assert len(gateway.transport.idempotent) >= 2
    assert all(gateway.transport.idempotent)


async def test_plans_are_cached_by_normalised_document(gateway: Any) -> None:
    engine: FederatedEngine = gateway.engine
    await gateway.run("{ me { name } }")
    await gateway.run("{ me { name } }")
    await gateway.run("query {\n  me {\n    name # comment\n  }\n}")
    assert (engine.plan_cache_misses, engine.plan_cache_hits) == (1, 2)


async def test_skip_include_values_select_distinct_plans(gateway: Any) -> None:
    engine: FederatedEngine = gateway.engine
    query = "query Q($r: Boolean!) { me { name reviews @include(if: $r) { id } } }"
    with_reviews = engine.plan_for(GraphQLRequest(query, {"r": True}))
    without = engine.plan_for(GraphQLRequest(query, {"r": False}))
    assert isinstance(with_reviews, Plan) and isinstance(without, Plan)
    assert sum(len(w) for w in with_reviews.steps[0].waves) == 1
    assert without.steps[0].waves == []


async def test_headers_are_forwarded_to_subgraphs(gateway: Any) -> None:
    await gateway.run(
        "{ me { reviews { id } } }",
        headers={"authorization": "Bearer t0k3n", "traceparent": "00-abc-def-01"},
    )
    received = gateway.traffic.requests[-2:]
    assert [name for name, _, _ in received] == ["accounts", "reviews"]
    for _, _, headers in received:
        assert headers["authorization"] == "Bearer t0k3n"
        assert headers["traceparent"] == "00-abc-def-01"


class PairingTransport:
    """Holds every fetch until one other fetch is in flight with it (pairs, in turn).

    Fetches that ran one after the other would never meet: the first would give up
    after `patience` seconds and the test fail, however fast or slow the machine is.
    """

    def __init__(self, inner: Any, patience: float = 10.0) -> None:
        self.inner = inner
        self.patience = patience
        self.pairs: list[tuple[str, ...]] = []
        self._waiting: list[str] = []
        self._met = asyncio.Event()

    async def fetch(
        self,
        subgraph: str,
        query: str,
        variables: Mapping[str, Any] | None,
        ctx: RequestContext,
        *,
        idempotent: bool = False,
    ) -> Any:
        self._waiting.append(subgraph)
        if len(self._waiting) == 2:
            self.pairs.append(tuple(sorted(self._waiting)))
            self._waiting = []
            self._met.set()
        else:
            self._met = met = asyncio.Event()
            try:
                await asyncio.wait_for(met.wait(), self.patience)
            except TimeoutError:
                raise AssertionError(f"{subgraph} was fetched alone") from None
        return await self.inner.fetch(subgraph, query, variables, ctx, idempotent=idempotent)

    def subscribe(self, *args: Any) -> AsyncIterator[Any]:
        raise AssertionError("not used")

    async def close(self) -> None:
        await self.inner.close()


async def test_independent_fetches_run_concurrently(gateway: Any, supergraph: Any) -> None:
    transport = PairingTransport(gateway.transport.inner)
    engine = FederatedEngine(supergraph, transport)
    result = await engine.execute(
        GraphQLRequest("{ me { name } topProducts(first: 1) { inStock reviews { id } } }"),
        RequestContext(),
    )
    assert "errors" not in result
    assert result["data"]["me"] == {"name": "Ada Lovelace"}
    # Roots together, then the entity wave (inventory and reviews) together.
    assert transport.pairs == [("accounts", "products"), ("inventory", "reviews")]


async def test_plan_description(gateway: Any) -> None:
    plan = gateway.engine.plan_for(
        GraphQLRequest('{ search(term: "x") { ... on Book { title } } me { reviews { id } } }')
    )
    assert isinstance(plan, Plan)
    assert plan.describe() == [
        {
            "roots": [
                {
                    "subgraph": "products",
                    "document": 'query { search(term: "x") { __typename ... on Book { id } } }',
                },
                {"subgraph": "accounts", "document": "query { me { id } }"},
            ],
            "waves": [
                [
                    {
                        "subgraph": "media",
                        "path": ["search", ["Book"]],
                        "entities": "... on Book { title }",
                    },
                    {
                        "subgraph": "reviews",
                        "path": ["me"],
                        "entities": "... on User { reviews { id } }",
                    },
                ]
            ],
        }
    ]
