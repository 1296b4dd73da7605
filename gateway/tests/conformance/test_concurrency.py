"""Fetches of one wave overlap, and cancelling an operation cancels every fetch in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from gateway.engine import FederatedEngine
from gateway.types import JSON, GraphQLRequest, RequestContext

# Two root fields answered by two subgraphs: one wave of two root fetches.
TWO_ROOTS = "{ me { id } topProducts(first: 1) { name } }"


class Gate:
    """A transport whose fetches wait until `expected` of them are in flight at once."""

    enforces_timeout = False

    def __init__(self, expected: int, *, forever: bool = False) -> None:
        self.expected = expected
        self.forever = forever
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.all_in = asyncio.Event()

    async def fetch(
        self,
        subgraph: str,
        query: str,
        variables: Mapping[str, Any] | None,
        ctx: RequestContext,
        *,
        idempotent: bool = False,
    ) -> JSON:
        self.started.append(subgraph)
        if len(self.started) >= self.expected:
            self.all_in.set()
        try:
            await self.all_in.wait()
            if self.forever:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.append(subgraph)
            raise
        return {"data": None, "errors": [{"message": f"{subgraph} says no"}]}

    def subscribe(self, *args: Any) -> Any:
        raise TypeError("this transport records query fetches only")

    async def close(self) -> None:
        return None


async def test_root_fetches_of_a_step_run_concurrently(supergraph: Any) -> None:
    gate = Gate(2)
    engine = FederatedEngine(supergraph, gate, fetch_timeout=5)
    result = await asyncio.wait_for(
        engine.execute(GraphQLRequest(TWO_ROOTS), RequestContext()), timeout=5
    )
    assert sorted(gate.started) == ["accounts", "products"]
    assert sorted(e["message"] for e in result["errors"]) == [
        "accounts says no",
        "products says no",
    ]


async def test_cancelling_the_operation_cancels_every_fetch(supergraph: Any) -> None:
    gate = Gate(2, forever=True)
    engine = FederatedEngine(supergraph, gate, fetch_timeout=60)
    running = asyncio.create_task(engine.execute(GraphQLRequest(TWO_ROOTS), RequestContext()))
    await asyncio.wait_for(gate.all_in.wait(), timeout=5)
    running.cancel()
    done, _ = await asyncio.wait([running], timeout=5)
    assert done and running.cancelled()
    await asyncio.sleep(0)
    assert sorted(gate.cancelled) == ["accounts", "products"]
