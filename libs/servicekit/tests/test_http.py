"""Probes and metrics every service exposes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from opentelemetry import trace as trace_api
from prometheus_client import REGISTRY
from servicekit.headers import LimitHeaders
from servicekit.http import GraphQLFirst, RequestMetrics, ServiceFront, service_app
from servicekit.shedding import Deadline, ShedLoad
from servicekit.telemetry import TraceRequests
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def sample(name: str, **labels: str) -> float:
    """A metric's current value in the process registry (0 before its first observation)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_readyz_reports_each_dependency_and_metrics_count_requests() -> None:
    healthy = {"value": True}

    async def database() -> bool:
        return healthy["value"]

    async def graphql(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    service = "probe-metrics"
    requests = "realty_http_requests_total"
    latency = "realty_http_request_seconds_count"
    before = {
        "ready_503": sample(requests, service=service, path="/readyz", status="503"),
        "graphql_200": sample(requests, service=service, path="/graphql", status="200"),
        "graphql_seconds": sample(latency, service=service, path="/graphql"),
        "unmatched_404": sample(requests, service=service, path="unmatched", status="404"),
    }
    app = service_app(graphql=graphql, checks={"database": database}, service=service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/healthz")).status_code == 200
        ready = await c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": True}}
        healthy["value"] = False
        down = await c.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"] == {"database": False}
        assert (await c.post("/graphql")).text == "ok"
        assert (await c.post("/graphql")).text == "ok"
        for probe in ("/wp-admin", "/.env", "/x/y/z"):
            assert (await c.get(probe)).status_code == 404
        exposed = (await c.get("/metrics")).text

    def grew(key: str, name: str, **labels: str) -> float:
        return sample(name, service=service, **labels) - before[key]

    assert grew("ready_503", requests, path="/readyz", status="503") == 1
    assert grew("graphql_200", requests, path="/graphql", status="200") == 2
    assert grew("graphql_seconds", latency, path="/graphql") == 2
    # Unknown paths share one label, so scanners cannot grow the metric without bound.
    assert grew("unmatched_404", requests, path="unmatched", status="404") == 3
    assert 'path="/wp-admin"' not in exposed
    # /metrics serves the same registry, in the exposition format.
    line = f'realty_http_requests_total{{path="/graphql",service="{service}",status="200"}}'
    assert f"{line} {sample(requests, service=service, path='/graphql', status='200')}" in exposed


class _Handler:
    """A subgraph stand-in: answers, raises, or outlives the deadline, by the request body."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = (await receive())["body"]
        if body == b"raise":
            raise RuntimeError("no")
        if body == b"slow":
            await asyncio.sleep(1)
        if body == b"late":  # begins its answer, then outlives the deadline
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await asyncio.sleep(1)
        trace = trace_api.get_current_span().get_span_context()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % (trace.trace_id != 0)})


def _chained(**options: Any) -> Starlette:
    """The service app as its middleware chain alone, without `ServiceFront`."""
    app = service_app(graphql=_Handler(), checks={}, **options)
    endpoint = next(r for r in app.routes if isinstance(r, Route) and r.path == "/graphql")
    return Starlette(
        routes=app.routes,
        middleware=[
            Middleware(LimitHeaders),
            Middleware(ShedLoad, max_in_flight=options.get("max_in_flight", 0)),
            Middleware(Deadline, seconds=options.get("request_timeout", 0.0)),
            Middleware(TraceRequests),
            Middleware(RequestMetrics, service=options["service"]),
            Middleware(GraphQLFirst, route=endpoint),
        ],
    )


@pytest.mark.parametrize("timeout", [0.0, 0.05])
async def test_the_front_answers_and_counts_as_the_middleware_chain(timeout: float) -> None:
    """Each request through `ServiceFront` and through the chain it folds: the same status,
    body and metric series, for answers, errors, deadlines, refused headers and shedding."""
    requests: list[tuple[str, dict[str, str]]] = [
        ("ok", {}),
        ("raise", {}),
        ("slow", {}),
        ("late", {}),
        ("ok", {"x-big": "y" * 9000}),
        ("ok", {"traceparent": "00-0af7651916cd43dd8420000000000000-b7ad6b7169203331-01"}),
    ]
    seen: dict[str, list[Any]] = {}
    for kind, make in (("front", service_app), ("chain", None)):
        service = f"front-{kind}-{timeout}"
        options = {"service": service, "request_timeout": timeout, "max_in_flight": 3}
        app = service_app(graphql=_Handler(), checks={}, **options) if make else _chained(**options)
        answers: list[Any] = []
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for body, headers in requests:
                if body in ("slow", "late") and not timeout:
                    continue
                try:
                    got = await client.post("/graphql", content=body, headers=headers)
                    answers.append((got.status_code, got.content))
                except Exception as error:  # a cancelled answer that had begun
                    answers.append(type(error).__name__)
        statuses = ("200", "201", "431", "500", "503")
        answers.append(
            [
                sample("realty_http_requests_total", service=service, path="/graphql", status=s)
                for s in statuses
            ]
        )
        answers.append(
            sample("realty_http_request_seconds_count", service=service, path="/graphql")
        )
        seen[kind] = answers
        assert isinstance(getattr(app.middleware_stack, "app", None), ServiceFront) == bool(make)
    assert seen["front"] == seen["chain"]
    assert (201, b"1") in seen["front"]
