"""Cold work runs off the event loop: a cached operation is answered while another plans."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from gateway.coldwork import ColdWork
from gateway.engine import FederatedEngine
from gateway.planner import Plan, QueryPlanner
from gateway.types import JSON, GraphQLRequest, RequestContext
from graphql import FragmentDefinitionNode, OperationDefinitionNode, print_ast

LIGHT = "{ me { name } }"
HEAVY = "{ topProducts(first: 1) { name } }"


class HeldPlanner:
    """The real planner, except that planning an operation naming `held` waits for `release`.

    It stands for a pathological operation that takes the planner its whole budget.
    `events` records, in order, when a held plan was let go (or gave up waiting).
    """

    def __init__(self, inner: QueryPlanner, held: str, events: list[str]) -> None:
        self.inner = inner
        self.held = held
        self.events = events
        self.started = threading.Event()
        self.release = threading.Event()
        self.held_plans = 0

    def plan(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        denied: frozenset[tuple[str, str]],
        *,
        labels: frozenset[str] = frozenset(),
    ) -> Plan:
        if self.held in print_ast(operation):
            self.held_plans += 1
            self.started.set()
            released = self.release.wait(timeout=2)
            self.events.append("heavy planned" if released else "heavy gave up waiting")
        return self.inner.plan(operation, fragments, variables, denied, labels=labels)


def hold(
    engine: FederatedEngine, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> HeldPlanner:
    planner = HeldPlanner(engine._planner, "topProducts", events)
    monkeypatch.setattr(engine, "_planner", planner)
    return planner


async def execute(engine: FederatedEngine, query: str) -> JSON:
    return await engine.execute(GraphQLRequest(query), RequestContext())


async def test_a_cached_operation_is_answered_while_another_is_planned(
    gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: FederatedEngine = gateway.engine
    events: list[str] = []
    planner = hold(engine, monkeypatch, events)
    await execute(engine, LIGHT)  # parsed, validated and planned: cached from now on

    heavy = asyncio.create_task(execute(engine, HEAVY))
    assert await asyncio.to_thread(planner.started.wait, 5)
    light = await execute(engine, LIGHT)
    events.append("light answered")
    planner.release.set()
    heavy_result = await heavy

    assert events == ["light answered", "heavy planned"]
    assert light == {"data": {"me": {"name": "Ada Lovelace"}}}
    assert heavy_result["data"]["topProducts"][0]["name"]
    assert (engine.plan_cache_misses, engine.plan_cache_hits) == (2, 1)


async def test_identical_cold_operations_are_planned_once(
    gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: FederatedEngine = gateway.engine
    events: list[str] = []
    planner = hold(engine, monkeypatch, events)

    first = asyncio.create_task(execute(engine, HEAVY))
    assert await asyncio.to_thread(planner.started.wait, 5)
    second = asyncio.create_task(execute(engine, HEAVY))
    for _ in range(100):  # let the second reach the plan cache (a few loop turns)
        if engine.plan_cache_misses == 2:
            break
        await asyncio.sleep(0)
    assert engine.plan_cache_misses == 2
    planner.release.set()
    results = await asyncio.gather(first, second)

    assert planner.held_plans == 1
    assert results[0] == results[1]
    assert results[0]["data"]["topProducts"][0]["name"]
    await execute(engine, HEAVY)
    assert (planner.held_plans, engine.plan_cache_hits) == (1, 1)


async def test_a_planning_failure_reaches_every_caller_of_the_run() -> None:
    cold = ColdWork(1)
    release = threading.Event()

    def fail() -> int:
        release.wait(timeout=5)
        raise ValueError("no plan")

    callers = [asyncio.create_task(cold.run("key", fail)) for _ in range(2)]
    await asyncio.sleep(0)
    assert cold.running == 1
    release.set()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["no plan", "no plan"]
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert cold.running == 0


async def test_a_cancelled_caller_leaves_the_run_to_the_others() -> None:
    cold = ColdWork(1)
    release = threading.Event()

    def work() -> str:
        release.wait(timeout=5)
        return "planned"

    gone = asyncio.create_task(cold.run("key", work))
    staying = asyncio.create_task(cold.run("key", work))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.wait([gone])
    release.set()
    assert await staying == "planned"
    assert gone.cancelled()
