"""The directive settings reach the engine the composition root builds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from gateway.app import federated_engine_factory
from gateway.metrics import GatewayMetrics
from gateway.settings import GatewaySettings
from gateway.types import GraphQLRequest, RequestContext
from opentelemetry.trace import NoOpTracerProvider


def grant_everything(claims: Mapping[str, Any] | None, policies: frozenset[str]) -> frozenset[str]:
    """The hook the settings below name: every policy, for any caller."""
    return policies


def _sdl(kit: Any) -> str:
    homes = kit.Service(
        "homes",
        """
        type Query { homes: [Home!]! @listSize(assumedSize: 50) }
        type Home { id: ID  notes: String @policy(policies: [["staff"]]) }
        """,
    )
    sdl: str = kit.compose_sdl(homes)
    return sdl


async def test_the_maximum_and_the_policy_hook_come_from_settings(kit: Any) -> None:
    settings = GatewaySettings(
        max_directive_cost=49, policy_hook=f"{__name__}:grant_everything", scope_claim="perms"
    )
    build = federated_engine_factory(settings, GatewayMetrics(), NoOpTracerProvider())
    built = await build(_sdl(kit))
    try:
        refused = await built.engine.execute(GraphQLRequest("{ homes { id } }"), RequestContext())
        assert refused["errors"][0]["extensions"] == {
            "code": "COST_ESTIMATED_TOO_EXPENSIVE",
            "cost": {"estimated": 50, "max": 49},
        }
        engine: Any = built.engine
        assert engine._policy_hook is grant_everything
        assert engine._scope_claim == "perms"
    finally:
        await built.close()


async def test_a_policy_hook_that_does_not_import_stops_start_up() -> None:
    settings = GatewaySettings(policy_hook="gateway.nowhere:hook")
    with pytest.raises(ModuleNotFoundError):
        federated_engine_factory(settings, GatewayMetrics(), NoOpTracerProvider())


async def test_override_labels_come_from_settings(kit: Any) -> None:
    old = kit.Service(
        "old",
        'type Query { home: Home }\ntype Home @key(fields: "id") { id: ID  price: Int }',
    )
    new = kit.Service(
        "new",
        'type Home @key(fields: "id") { id: ID  price: Int @override(from: "old", label: "v2") }',
    )
    settings = GatewaySettings(override_labels=["v2"])
    build = federated_engine_factory(settings, GatewayMetrics(), NoOpTracerProvider())
    built = await build(kit.compose_sdl(old, new))
    try:
        plan = built.engine.plan_for(GraphQLRequest("{ home { price } }"))
        assert [root["subgraph"] for root in plan.describe()[0]["roots"]] == ["old"]
        assert plan.describe()[0]["waves"][0][0]["subgraph"] == "new"
    finally:
        await built.close()
