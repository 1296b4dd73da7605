"""The whole gateway: its HTTP and WebSocket server in front of the federated engine.

The gateway app (as `python -m gateway` builds it) serves the corpus's supergraph with
the real engine and transport; a client speaks to it over HTTP and graphql-transport-ws.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn
from gateway.app import build_app
from gateway.settings import GatewaySettings

from .conftest import HERE


class Verifier:
    """Accepts `good-<user>` tokens, the way identity's JWKS would accept real ones."""

    async def verify(self, token: str) -> Any:
        from servicekit.errors import Unauthenticated

        if not token.startswith("good-"):
            raise Unauthenticated("invalid token")

        class Principal:
            user_id = token.removeprefix("good-")
            role = "BUYER"

        return Principal()


@pytest.fixture(scope="module")
async def gateway_url(
    subgraph_server: tuple[str, Any], tmp_path_factory: Any
) -> AsyncIterator[str]:
    base, _ = subgraph_server
    sdl = (HERE / "supergraph.graphql").read_text()
    for name in ("accounts", "inventory", "media", "products", "ratings", "reviews"):
        sdl = sdl.replace(f"http://{name}.invalid/graphql", f"{base}/{name}")
    path: Path = tmp_path_factory.mktemp("gateway") / "supergraph.graphql"
    path.write_text(sdl)
    settings = GatewaySettings(
        supergraph_path=path, reload_interval=0, rate_limit_per_second=0, redis_url=None
    )
    app = build_app(settings, verifier=Verifier(), redis=None)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/graphql"
    server.should_exit = True
    await task


async def test_query_over_http(gateway_url: str, subgraph_server: tuple[str, Any]) -> None:
    _, traffic = subgraph_server
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            gateway_url,
            json={"query": "{ topReviews(first: 1) { body author { name } product { inStock } } }"},
            headers={"authorization": "Bearer good-u1"},
        )
        assert response.status == 200
        body = await response.json()
    assert body == {
        "data": {
            "topReviews": [
                {
                    "body": "Love it!",
                    "author": {"name": "Ada Lovelace"},
                    "product": {"inStock": True},
                }
            ]
        }
    }
    assert traffic.requests[-1][2]["authorization"] == "Bearer good-u1"


async def test_validation_error_over_http(gateway_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            gateway_url,
            json={"query": "{ me { zzz } }"},
            headers={"accept": "application/graphql-response+json"},
        )
        assert response.status == 400
        body = await response.json(content_type=None)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_subscription_over_websocket(
    gateway_url: str, subgraph_server: tuple[str, Any]
) -> None:
    _, traffic = subgraph_server
    async with aiohttp.ClientSession() as client:
        socket = await client.ws_connect(
            "ws" + gateway_url[4:], protocols=("graphql-transport-ws",)
        )
        await socket.send_json(
            {"type": "connection_init", "payload": {"Authorization": "Bearer good-u2"}}
        )
        assert (await socket.receive_json())["type"] == "connection_ack"
        await socket.send_json(
            {
                "id": "s1",
                "type": "subscribe",
                "payload": {
                    "query": 'subscription { reviewAdded(upc: "2") { body author { name } } }'
                },
            }
        )
        messages = [await socket.receive_json() for _ in range(2)]
        await socket.close()
    assert messages == [
        {
            "id": "s1",
            "type": "next",
            "payload": {
                "data": {
                    "reviewAdded": {"body": "Could be worse.", "author": {"name": "Ada Lovelace"}}
                }
            },
        },
        {"id": "s1", "type": "complete"},
    ]
    assert traffic.ws_inits[-1] == {
        "type": "connection_init",
        "payload": {"Authorization": "Bearer good-u2"},
    }
