"""Probes and metrics every service exposes."""

from __future__ import annotations

import httpx
from servicekit.http import service_app
from starlette.requests import Request
from starlette.responses import PlainTextResponse


async def test_readyz_reports_each_dependency_and_metrics_count_requests() -> None:
    healthy = {"value": True}

    async def database() -> bool:
        return healthy["value"]

    async def graphql(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = service_app(graphql=graphql, checks={"database": database}, service="probe")
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
        metrics = (await c.get("/metrics")).text
    assert 'realty_http_requests_total{path="/readyz",service="probe",status="503"} 1.0' in metrics
    assert 'realty_http_requests_total{path="/graphql",service="probe",status="200"} 1.0' in metrics
