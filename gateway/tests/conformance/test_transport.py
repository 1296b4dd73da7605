"""HttpTransport against a small misbehaving server: failures become GraphQL errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from gateway.transport import HttpTransport
from gateway.types import RequestContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

SEEN: list[tuple[dict[str, str], Any, int]] = []


async def ok(request: Request) -> Response:
    SEEN.append((dict(request.headers), await request.json(), request.client.port))  # type: ignore[union-attr]
    return JSONResponse({"data": {"ok": True}})


async def broken(_: Request) -> Response:
    return PlainTextResponse("<html>bad gateway</html>", status_code=502)


async def rejecting(_: Request) -> Response:
    return JSONResponse({"errors": [{"message": "nope"}]}, status_code=400)


async def slow(_: Request) -> Response:
    await asyncio.sleep(0.6)
    return JSONResponse({"data": {}})


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[str]:
    app = Starlette(
        routes=[
            Route("/ok", ok, methods=["POST"]),
            Route("/broken", broken, methods=["POST"]),
            Route("/rejecting", rejecting, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
        ]
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    while not instance.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{instance.servers[0].sockets[0].getsockname()[1]}"
    instance.should_exit = True
    await task


def transport(base: str, **options: Any) -> HttpTransport:
    names = ("ok", "broken", "rejecting", "slow")
    return HttpTransport({name: f"{base}/{name}" for name in names}, **options)


async def test_forwards_headers_and_keeps_connections_alive(server: str) -> None:
    client = transport(server)
    ctx = RequestContext(
        headers={"authorization": "Bearer abc", "x-request-id": "r1", "content-length": "999"}
    )
    try:
        SEEN.clear()
        for _ in range(3):
            assert await client.fetch("ok", "{ ok }", {"a": 1}, ctx) == {"data": {"ok": True}}
    finally:
        await client.close()
    headers, body, _ = SEEN[0]
    assert headers["authorization"] == "Bearer abc"
    assert headers["x-request-id"] == "r1"
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] != "999"
    assert body == {"query": "{ ok }", "variables": {"a": 1}}
    assert len({port for _, _, port in SEEN}) == 1


async def test_non_graphql_answer_becomes_an_error(server: str) -> None:
    client = transport(server)
    try:
        result = await client.fetch("broken", "{ ok }", None, RequestContext())
    finally:
        await client.close()
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "Subgraph 'broken' answered HTTP 502 without a GraphQL response.",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "serviceName": "broken"},
            }
        ],
    }


async def test_graphql_errors_with_error_status_pass_through(server: str) -> None:
    client = transport(server)
    try:
        result = await client.fetch("rejecting", "{ ok }", None, RequestContext())
    finally:
        await client.close()
    assert result == {"errors": [{"message": "nope"}]}


async def test_timeout_and_unknown_subgraph(server: str) -> None:
    client = transport(server, timeout=0.2)
    try:
        timed_out = await client.fetch("slow", "{ ok }", None, RequestContext())
        unknown = await client.fetch("elsewhere", "{ ok }", None, RequestContext())
    finally:
        await client.close()
    assert timed_out["errors"][0]["message"] == "Subgraph 'slow' did not answer in time."
    assert unknown["errors"][0]["message"] == "Subgraph 'elsewhere' is not in the supergraph."
