"""Identical queries in flight share one execution; different callers never do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway.app import build_app
from gateway.coalescing import Coalescer
from gateway.metrics import GatewayMetrics
from gateway.reload import Built
from gateway.settings import GatewaySettings
from gateway.types import JSON, GraphQLRequest, RequestContext

from .conftest import StaticVerifier

JSON_HEADERS = {"content-type": "application/json"}


class GatedEngine:
    """Every execution waits for `gate`; `calls` records who ran what."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls: list[tuple[GraphQLRequest, RequestContext]] = []

    async def execute(self, request: GraphQLRequest, ctx: RequestContext) -> JSON:
        self.calls.append((request, ctx))
        number = len(self.calls)
        await self.gate.wait()
        return {"data": {"me": ctx.principal_id, "execution": number}}

    async def subscribe(self, request: GraphQLRequest, ctx: RequestContext) -> JSON:
        return {"errors": [{"message": "no subscriptions here"}]}


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition that must become true (never used to prove an absence)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


@pytest.fixture
async def gateway(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, GatedEngine, GatewayMetrics]]:
    path = tmp_path / "supergraph.graphql"
    path.write_text("# gated\n")
    engine = GatedEngine()

    async def factory(sdl: str) -> Built:
        async def close() -> None:
            return None

        return Built(engine, close)

    metrics = GatewayMetrics()
    app = build_app(
        GatewaySettings(supergraph_path=path, reload_interval=0, rate_limit_per_second=0),
        engine_factory=factory,
        verifier=StaticVerifier(),
        redis=None,
        metrics=metrics,
        bus=None,
    )
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        yield client, engine, metrics


def post(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/graphql", json=body, headers={**JSON_HEADERS, **headers})


async def test_identical_queries_in_flight_share_one_execution(gateway: Any) -> None:
    client, engine, metrics = gateway
    body = {"query": "query Me($x: Int) { me }", "variables": {"x": 1}}
    requests = [
        asyncio.ensure_future(
            post(client, body, authorization="Bearer good-u1-buyer", **{"x-request-id": f"r{n}"})
        )
        for n in range(5)
    ]
    await until(lambda: metrics.value("gateway_coalesced_requests_total") == 4)
    engine.gate.set()
    answers = [response.json() for response in await asyncio.gather(*requests)]
    assert len(engine.calls) == 1
    assert answers == [{"data": {"me": "u1", "execution": 1}}] * 5


async def test_a_query_after_the_flight_landed_runs_again(gateway: Any) -> None:
    client, engine, _ = gateway
    engine.gate.set()
    first = await post(client, {"query": "{ me }"})
    second = await post(client, {"query": "{ me }"})
    assert first.json()["data"]["execution"] == 1
    assert second.json()["data"]["execution"] == 2


async def test_different_callers_never_share(gateway: Any) -> None:
    client, engine, metrics = gateway
    body = {"query": "{ me }"}
    requests = [
        asyncio.ensure_future(post(client, body, authorization="Bearer good-u1-buyer")),
        asyncio.ensure_future(post(client, body, authorization="Bearer good-u2-buyer")),
        asyncio.ensure_future(post(client, body)),
        # Same user, another device: the forwarded headers differ.
        asyncio.ensure_future(
            post(client, body, authorization="Bearer good-u1-buyer", **{"x-device-id": "tablet"})
        ),
    ]
    await until(lambda: len(engine.calls) == 4)
    engine.gate.set()
    answers = [response.json()["data"]["me"] for response in await asyncio.gather(*requests)]
    assert answers == ["u1", "u2", None, "u1"]
    assert metrics.value("gateway_coalesced_requests_total") == 0


async def test_different_variables_or_operations_never_share(gateway: Any) -> None:
    client, engine, _ = gateway
    document = "query A($x: Int) { me } query B($x: Int) { me }"
    bodies = [
        {"query": document, "operationName": "A", "variables": {"x": 1}},
        {"query": document, "operationName": "A", "variables": {"x": 2}},
        {"query": document, "operationName": "B", "variables": {"x": 1}},
    ]
    requests = [asyncio.ensure_future(post(client, body)) for body in bodies]
    await until(lambda: len(engine.calls) == 3)
    engine.gate.set()
    assert all(r.status_code == 200 for r in await asyncio.gather(*requests))


async def test_mutations_never_share(gateway: Any) -> None:
    client, engine, metrics = gateway
    body = {"query": "mutation { bump }"}
    requests = [
        asyncio.ensure_future(post(client, body, authorization="Bearer good-u1-buyer"))
        for _ in range(2)
    ]
    await until(lambda: len(engine.calls) == 2)
    engine.gate.set()
    await asyncio.gather(*requests)
    assert metrics.value("gateway_coalesced_requests_total") == 0


async def test_a_waiter_that_goes_away_does_not_cancel_the_others() -> None:
    coalescer = Coalescer()
    gate = asyncio.Event()
    runs = 0

    async def work() -> JSON:
        nonlocal runs
        runs += 1
        await gate.wait()
        return {"data": {"n": runs}}

    leader = asyncio.ensure_future(coalescer.run("k", work))
    follower = asyncio.ensure_future(coalescer.run("k", work))
    await until(lambda: coalescer.shared == 1)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    gate.set()
    assert await follower == {"data": {"n": 1}}
    assert runs == 1
    assert coalescer.in_flight == 0


async def test_the_shared_execution_is_cancelled_when_every_waiter_is() -> None:
    coalescer = Coalescer()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def work() -> JSON:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    waiters = [asyncio.ensure_future(coalescer.run("k", work)) for _ in range(2)]
    await started.wait()
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    async with asyncio.timeout(5):
        await cancelled.wait()
    await until(lambda: coalescer.in_flight == 0)


async def test_a_failure_reaches_every_waiter_once() -> None:
    coalescer = Coalescer()
    gate = asyncio.Event()

    async def work() -> JSON:
        await gate.wait()
        raise RuntimeError("subgraph exploded")

    waiters = [asyncio.ensure_future(coalescer.run("k", work)) for _ in range(3)]
    await until(lambda: coalescer.shared == 2)
    gate.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [RuntimeError] * 3
