"""HttpTransport against a small misbehaving server: failures become GraphQL errors."""

from __future__ import annotations

import asyncio
import contextlib
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


RELEASE_SLOW = asyncio.Event()  # set by the test once the gateway gave up waiting


async def slow(_: Request) -> Response:
    await RELEASE_SLOW.wait()
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


async def test_each_request_forwards_its_own_headers(server: str) -> None:
    """The forwarded head is encoded once per set of headers: interleaved client requests
    (and a header changed between fetches) each reach the subgraph as they are."""
    client = transport(server)
    first = RequestContext(headers={"authorization": "Bearer one", "x-request-id": "r1"})
    second = RequestContext(headers={"x-request-id": "r2", "x-evil": "a\r\nx-injected: 1"})
    try:
        SEEN.clear()
        for ctx in (first, second, first, second):
            assert await client.fetch("ok", "{ ok }", None, ctx) == {"data": {"ok": True}}
        first.headers["authorization"] = "Bearer changed"
        assert await client.fetch("ok", "{ ok }", None, first) == {"data": {"ok": True}}
    finally:
        await client.close()
    seen = [(h.get("authorization"), h["x-request-id"]) for h, _, _ in SEEN]
    assert seen == [
        ("Bearer one", "r1"),
        (None, "r2"),
        ("Bearer one", "r1"),
        (None, "r2"),
        ("Bearer changed", "r1"),
    ]
    assert all("x-injected" not in h and "x-evil" not in h for h, _, _ in SEEN)


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
                "extensions": {"code": "UNAVAILABLE", "serviceName": "broken"},
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
        RELEASE_SLOW.set()
        await client.close()
    assert timed_out["errors"][0]["message"] == "Subgraph 'slow' did not answer in time."
    assert unknown["errors"][0]["message"] == "Subgraph 'elsewhere' is not in the supergraph."


async def raw_server(answer: bytes, *, close_after: bool = False) -> tuple[asyncio.Server, str]:
    """A bare TCP server replying `answer` to every request it reads (one per connection)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):  # client left
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                writer.write(answer)
                await writer.drain()
                if close_after:
                    break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/graphql"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"data":{"a":1}}',
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"dat\r\nb;ext=1\r\na":{"a":1}}\r\n0\r\nX-Trailer: 1\r\n\r\n',
        b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"data":{"a":1}}',
    ],
    ids=["content-length", "chunked-with-trailer", "until-close"],
)
async def test_http1_framings(answer: bytes) -> None:
    close_after = b"HTTP/1.0" in answer
    server, url = await raw_server(answer, close_after=close_after)
    client = HttpTransport({"raw": url})
    try:
        for _ in range(2):
            assert await client.fetch("raw", "{ a }", None, RequestContext()) == {"data": {"a": 1}}
    finally:
        await client.close()
        server.close()


async def test_idle_connection_closed_by_the_server_is_replaced() -> None:
    answer = b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"data":{"a":1}}'
    server, url = await raw_server(answer, close_after=True)  # never keeps a connection
    client = HttpTransport({"raw": url})
    try:
        for _ in range(3):
            assert await client.fetch("raw", "{ a }", None, RequestContext()) == {"data": {"a": 1}}
    finally:
        await client.close()
        server.close()


async def test_malformed_http_becomes_an_error() -> None:
    server, url = await raw_server(b"HTTP/1.1 abc nonsense\r\n\r\n")
    client = HttpTransport({"raw": url})
    try:
        result = await client.fetch("raw", "{ a }", None, RequestContext())
    finally:
        await client.close()
        server.close()
    assert result["errors"][0]["message"] == "Subgraph 'raw' answered with malformed HTTP."


async def test_no_content_answer_is_not_graphql() -> None:
    server, url = await raw_server(b"HTTP/1.1 204 No Content\r\n\r\n")
    client = HttpTransport({"raw": url})
    try:
        result = await client.fetch("raw", "{ a }", None, RequestContext())
    finally:
        await client.close()
        server.close()
    assert result["errors"][0]["message"] == (
        "Subgraph 'raw' answered HTTP 204 without a GraphQL response."
    )
