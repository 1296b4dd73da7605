"""The real engine behind the real server (uvicorn), with subgraphs over real HTTP/WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from gateway.app import build_app
from gateway.metrics import GatewayMetrics
from gateway.settings import GatewaySettings
from websockets.asyncio.client import connect

from .conftest import StaticVerifier
from .federation import Traffic, subgraphs_app, supergraph

pytest.importorskip("gateway.engine")

STRICT = {"content-type": "application/json", "accept": "application/graphql-response+json"}


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"127.0.0.1:{port}"


@dataclass
class Stack:
    url: str
    ws_url: str
    traffic: Traffic
    subgraphs: str
    supergraph_path: Path
    metrics: GatewayMetrics


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    traffic = Traffic()
    sub_server, sub_task, sub_address = await serve(subgraphs_app(traffic))
    base = f"http://{sub_address}"
    path = tmp_path / "supergraph.graphql"
    path.write_text(supergraph(base))
    settings = GatewaySettings(
        supergraph_path=path, reload_interval=0.05, rate_limit_per_second=0, fetch_timeout=5.0
    )
    metrics = GatewayMetrics()
    gw_server, gw_task, gw_address = await serve(
        build_app(settings, verifier=StaticVerifier(), redis=None, metrics=metrics, bus=None)
    )
    try:
        yield Stack(
            f"http://{gw_address}/graphql",
            f"ws://{gw_address}/graphql",
            traffic,
            base,
            path,
            metrics,
        )
    finally:
        gw_server.should_exit = True
        await gw_task
        sub_server.should_exit = True
        await sub_task


async def post(stack: Stack, query: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            stack.url, content=json.dumps({"query": query}), headers={**STRICT, **headers}
        )


async def test_query_across_two_subgraphs(stack: Stack) -> None:
    response = await post(stack, "{ topReviews { body author { name } } }")
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "topReviews": [
                {"body": "Lovely light", "author": {"name": "Ada"}},
                {"body": "Noisy street", "author": {"name": "Bo"}},
            ]
        }
    }


async def test_authorization_and_trace_context_reach_the_subgraphs(stack: Stack) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await post(
        stack,
        "{ me { name reviews { body } } }",
        authorization="Bearer good-u1-BUYER",
        traceparent=traceparent,
    )
    assert response.json() == {
        "data": {"me": {"name": "Ada", "reviews": [{"body": "Lovely light"}]}}
    }
    seen = {name: headers for name, headers in stack.traffic.headers}
    for name in ("users", "reviews"):
        assert seen[name]["authorization"] == "Bearer good-u1-BUYER"
        assert seen[name]["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


async def test_subgraph_fetch_metrics_are_exposed(stack: Stack) -> None:
    for _ in range(3):
        assert (await post(stack, "{ topReviews { author { name } } }")).status_code == 200
    metrics = stack.metrics
    for subgraph in ("reviews", "users"):  # the root fetch, then one entity fetch each time
        assert (
            metrics.value("gateway_subgraph_fetch_duration_seconds_count", subgraph=subgraph) == 3
        )
        assert metrics.value("gateway_subgraph_fetch_errors_total", subgraph=subgraph) == 0
    assert metrics.value("gateway_plan_cache_total", result="miss") == 1
    assert metrics.value("gateway_plan_cache_total", result="hit") == 2
    async with httpx.AsyncClient() as client:
        text = (await client.get(stack.url.replace("/graphql", "/metrics"))).text
    assert 'gateway_subgraph_fetch_duration_seconds_count{subgraph="users"} 3.0' in text
    assert 'gateway_plan_cache_total{result="hit"} 2.0' in text


async def test_a_failed_fetch_is_counted_as_an_error(tmp_path: Path) -> None:
    path = tmp_path / "supergraph.graphql"
    path.write_text(supergraph("http://127.0.0.1:9"))  # nothing listens there
    settings = GatewaySettings(supergraph_path=path, reload_interval=0, rate_limit_per_second=0)
    metrics = GatewayMetrics()
    server, task, address = await serve(
        build_app(settings, verifier=StaticVerifier(), redis=None, metrics=metrics, bus=None)
    )
    try:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://{address}/graphql",
                content=json.dumps({"query": "{ topReviews { body } }"}),
                headers=STRICT,
            )
    finally:
        server.should_exit = True
        await task
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert metrics.value("gateway_subgraph_fetch_errors_total", subgraph="reviews") == 1
    assert metrics.value("gateway_subgraph_fetch_duration_seconds_count", subgraph="reviews") == 1
    assert metrics.value("gateway_request_errors_total", code="UNAVAILABLE") == 1


async def test_validation_errors_from_the_engine_are_400(stack: Stack) -> None:
    response = await post(stack, "{ me { nickname } }")
    assert response.status_code == 400
    assert "data" not in response.json()


async def test_invalid_token_never_reaches_a_subgraph(stack: Stack) -> None:
    response = await post(stack, "{ me { name } }", authorization="Bearer forged")
    assert response.status_code == 401
    assert stack.traffic.headers == []


async def test_subscription_through_the_gateway_joins_other_subgraphs(stack: Stack) -> None:
    async with connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": "Bearer good-u2-BUYER"}}
            )
        )
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        query = "subscription { reviewAdded { body author { name } } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        messages = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
    assert messages == [
        {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {"reviewAdded": {"body": "Lovely light", "author": {"name": "Ada"}}}
            },
        },
        {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {"reviewAdded": {"body": "Noisy street", "author": {"name": "Bo"}}}
            },
        },
        {"id": "1", "type": "complete"},
    ]


async def test_hot_reload_swaps_in_the_new_supergraph(stack: Stack) -> None:
    assert (await post(stack, "{ me { nickname } }")).status_code == 400
    stack.supergraph_path.write_text(supergraph(stack.subgraphs, with_nickname=True))
    for _ in range(200):
        response = await post(stack, "{ me { nickname } }", authorization="Bearer good-u1-BUYER")
        if response.status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert response.json() == {"data": {"me": {"nickname": "ada"}}}
