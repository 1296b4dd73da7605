"""CSRF prevention: simple requests must carry a preflight-forcing header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

BODY = b'{"query": "{ hello }"}'


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_simple_posts_are_blocked(
    client: Any, engines: dict[str, Any], content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/graphql", content=BODY, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["reason"] == "CSRF_PREVENTED"
    assert engines["v1"].calls == []


def test_json_post_passes(client: Any) -> None:
    response = client.post("/graphql", content=BODY, headers={"content-type": "application/json"})
    assert response.json() == {"data": {"hello": "hello world"}}


@pytest.mark.parametrize("header", ["apollo-require-preflight", "x-apollo-operation-name"])
def test_preflight_header_lets_a_simple_request_through(client: Any, header: str) -> None:
    get = client.get("/graphql", params={"query": "{ hello }"}, headers={header: "yes"})
    assert get.status_code == 200
    assert get.json() == {"data": {"hello": "hello world"}}
    # text/plain passes CSRF with the header, then is refused as not JSON
    post = client.post(
        "/graphql", content=BODY, headers={header: "yes", "content-type": "text/plain"}
    )
    assert post.status_code == 415


def test_get_without_the_header_is_blocked(client: Any) -> None:
    response = client.get("/graphql", params={"query": "{ hello }"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["reason"] == "CSRF_PREVENTED"


def test_empty_preflight_header_does_not_count(client: Any) -> None:
    response = client.get(
        "/graphql", params={"query": "{ hello }"}, headers={"apollo-require-preflight": ""}
    )
    assert response.status_code == 400


def test_cors_preflight_and_origin(make_client: Callable[..., Any]) -> None:
    client = make_client(cors_origins=["https://app.realtyforyou.com"])
    preflight = client.options(
        "/graphql",
        headers={
            "origin": "https://app.realtyforyou.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.realtyforyou.com"
    foreign = client.options(
        "/graphql",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert foreign.status_code == 400
    simple = client.post(
        "/graphql",
        content=BODY,
        headers={"content-type": "application/json", "origin": "https://app.realtyforyou.com"},
    )
    assert simple.headers["access-control-allow-origin"] == "https://app.realtyforyou.com"


def test_cors_origins_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.settings import GatewaySettings

    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", "https://a.example, https://b.example")
    assert GatewaySettings().cors_origins == ["https://a.example", "https://b.example"]
