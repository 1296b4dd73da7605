"""Probes and metrics every service exposes."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from servicekit.http import service_app
from starlette.requests import Request
from starlette.responses import PlainTextResponse


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
