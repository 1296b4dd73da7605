"""Oversized request headers are refused with 431 before any route runs, logged once."""

from __future__ import annotations

import logging

import httpx
import pytest
from servicekit.http import service_app
from starlette.responses import PlainTextResponse


def app_with_counter() -> tuple[httpx.AsyncClient, list[int]]:
    calls: list[int] = []

    class Graphql:
        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            calls.append(1)
            await PlainTextResponse("ok")(scope, receive, send)

    graphql = Graphql()

    async def ready() -> bool:
        return True

    app = service_app(graphql=graphql, checks={"x": ready})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"), calls


@pytest.mark.parametrize(
    "headers",
    [
        {"x-huge": "a" * 9000},
        {f"x-{i}": "b" * 900 for i in range(20)},
        {f"x-{i}": "c" for i in range(120)},
    ],
)
async def test_oversized_headers_are_431_and_reach_no_route(headers: dict[str, str]) -> None:
    client, calls = app_with_counter()
    response = await client.post("/graphql", headers=headers, content=b"{}")
    assert response.status_code == 431
    assert response.json()["errors"][0]["extensions"]["reason"] == "HEADERS_TOO_LARGE"
    assert calls == []


async def test_ordinary_headers_pass() -> None:
    client, calls = app_with_counter()
    response = await client.post(
        "/graphql", headers={"authorization": "Bearer " + "t" * 2000}, content=b"{}"
    )
    assert response.status_code == 200
    assert calls == [1]


async def test_a_refused_value_is_logged_truncated_and_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = app_with_counter()
    with caplog.at_level(logging.WARNING, logger="servicekit.headers"):
        for _ in range(5):
            await client.get("/healthz", headers={"x-huge": "z" * 50_000})
    lines = [r.getMessage() for r in caplog.records if r.name == "servicekit.headers"]
    assert len(lines) == 1
    assert len(lines[0]) < 300
