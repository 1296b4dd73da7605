"""The engine records every fetch and plan-cache look-up into the metrics it was given."""

from __future__ import annotations

from typing import Any

from gateway.metrics import GatewayMetrics

from .conftest import make_gateway

QUERY = "{ topReviews(first: 1) { body product { name } } }"


async def test_fetches_and_plan_cache_look_ups_are_counted(
    subgraph_server: tuple[str, Any], supergraph: Any
) -> None:
    metrics = GatewayMetrics()
    base, traffic = subgraph_server
    gateway, _ = make_gateway(base, traffic, supergraph, metrics=metrics)
    fetched: list[str] = []
    try:
        for _ in range(3):
            assert "errors" not in await gateway.run(QUERY)
            fetched.extend(gateway.transport.subgraphs)
    finally:
        await gateway.transport.close()
    assert metrics.value("gateway_plan_cache_total", result="miss") == 1
    assert metrics.value("gateway_plan_cache_total", result="hit") == 2
    assert len(set(fetched)) >= 2
    for subgraph in set(fetched):
        count = metrics.value("gateway_subgraph_fetch_duration_seconds_count", subgraph=subgraph)
        assert count == fetched.count(subgraph)
        assert metrics.value("gateway_subgraph_fetch_errors_total", subgraph=subgraph) == 0


async def test_a_failed_fetch_is_an_error_of_its_subgraph(
    subgraph_server: tuple[str, Any], supergraph: Any
) -> None:
    metrics = GatewayMetrics()
    base, traffic = subgraph_server
    gateway, _ = make_gateway(
        base,
        traffic,
        supergraph,
        urls={"inventory": "http://127.0.0.1:9/inventory"},
        metrics=metrics,
    )
    try:
        await gateway.run('{ product(upc: "1") { name shippingEstimate } }')
    finally:
        await gateway.transport.close()
    assert metrics.value("gateway_subgraph_fetch_errors_total", subgraph="inventory") == 1
    assert metrics.value("gateway_subgraph_fetch_errors_total", subgraph="products") == 0
    assert metrics.value("gateway_subgraph_fetch_duration_seconds_count", subgraph="products") == 1


def test_each_set_of_metrics_counts_on_its_own() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.record_plan_cache(True)
    first.observe_fetch("a", 0.002, ok=False)
    assert first.value("gateway_plan_cache_total", result="hit") == 1
    assert first.value("gateway_subgraph_fetch_errors_total", subgraph="a") == 1
    assert first.value("gateway_subgraph_fetch_duration_seconds_sum", subgraph="a") == 0.002
    assert second.value("gateway_plan_cache_total", result="hit") == 0
