"""`@defer` through the gateway's server: `multipart/mixed` over HTTP, `next`s over WebSocket."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from .test_through_server import gateway_url  # noqa: F401  (the served gateway)

QUERY = '{ topReviews(first: 1) { body ... @defer(label: "who") { author { name } } } }'
FIRST = {"data": {"topReviews": [{"body": "Love it!"}]}, "hasNext": True}
LATER = {
    "incremental": [
        {"data": {"author": {"name": "Ada Lovelace"}}, "path": ["topReviews", 0], "label": "who"}
    ],
    "hasNext": False,
}


def _parts(body: bytes) -> list[Any]:
    """The JSON payloads of a `multipart/mixed; boundary="graphql"` body, checked for framing."""
    assert body.endswith(b"\r\n--graphql--\r\n")
    chunks = body[: -len(b"\r\n--graphql--\r\n")].split(b"\r\n--graphql\r\n")
    assert chunks[0] == b""
    payloads = []
    for chunk in chunks[1:]:
        head, _, json_body = chunk.partition(b"\r\n\r\n")
        assert head == b"content-type: application/json; charset=utf-8"
        payloads.append(orjson.loads(json_body))
    return payloads


async def test_defer_over_http_is_multipart(gateway_url: str) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            gateway_url,
            json={"query": QUERY},
            headers={"accept": "multipart/mixed;deferSpec=20220824, application/json"},
        )
        assert response.status == 200
        assert response.headers["content-type"] == (
            'multipart/mixed; boundary="graphql"; deferSpec=20220824'
        )
        body = await response.read()
    assert _parts(body) == [FIRST, LATER]


async def test_defer_without_multipart_in_accept_is_answered_whole(
    gateway_url: str,  # noqa: F811
) -> None:
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            gateway_url, json={"query": QUERY}, headers={"accept": "application/json"}
        )
        assert response.status == 200
        assert await response.json() == {
            "data": {"topReviews": [{"body": "Love it!", "author": {"name": "Ada Lovelace"}}]}
        }


async def test_a_request_error_with_defer_is_plain_json(gateway_url: str) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            gateway_url,
            json={"query": "{ topReviews { nope ... @defer { body } } }"},
            headers={"accept": "multipart/mixed;deferSpec=20220824, application/json"},
        )
        assert response.status == 200
        assert response.content_type == "application/json"
        body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_defer_over_websocket_is_a_next_per_payload(gateway_url: str) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as client:
        socket = await client.ws_connect(
            "ws" + gateway_url[4:], protocols=("graphql-transport-ws",)
        )
        await socket.send_json({"type": "connection_init"})
        assert (await socket.receive_json())["type"] == "connection_ack"
        await socket.send_json({"id": "d1", "type": "subscribe", "payload": {"query": QUERY}})
        messages = [await socket.receive_json() for _ in range(3)]
        await socket.close()
    assert messages == [
        {"id": "d1", "type": "next", "payload": FIRST},
        {"id": "d1", "type": "next", "payload": LATER},
        {"id": "d1", "type": "complete"},
    ]


# The newer incremental format, asked for by `Accept` over HTTP and by name over WebSocket.
PENDING = {
    "data": {"topReviews": [{"body": "Love it!"}]},
    "pending": [{"id": "0", "path": ["topReviews", 0], "label": "who"}],
    "hasNext": True,
}
COMPLETED = {
    "incremental": [{"id": "0", "data": {"author": {"name": "Ada Lovelace"}}}],
    "completed": [{"id": "0"}],
    "hasNext": False,
}


async def test_the_newer_format_over_http_when_accept_names_it(
    gateway_url: str,  # noqa: F811
) -> None:
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            gateway_url,
            json={"query": QUERY},
            headers={"accept": "multipart/mixed;incrementalSpec=v0.2, application/json"},
        )
        assert response.status == 200
        assert response.headers["content-type"] == (
            'multipart/mixed; boundary="graphql"; incrementalSpec=v0.2'
        )
        body = await response.read()
    assert _parts(body) == [PENDING, COMPLETED]


async def test_plain_multipart_keeps_the_default_format(gateway_url: str) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            gateway_url,
            json={"query": QUERY},
            headers={"accept": "multipart/mixed, application/json"},
        )
        assert response.headers["content-type"] == (
            'multipart/mixed; boundary="graphql"; deferSpec=20220824'
        )
        body = await response.read()
    assert _parts(body) == [FIRST, LATER]


async def test_the_newer_format_over_websocket(gateway_url: str) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as client:
        socket = await client.ws_connect(
            "ws" + gateway_url[4:], protocols=("graphql-transport-ws",)
        )
        # Named for the connection, and overridden by one operation's `extensions`.
        await socket.send_json({"type": "connection_init", "payload": {"incrementalSpec": "v0.2"}})
        assert (await socket.receive_json())["type"] == "connection_ack"
        await socket.send_json({"id": "n1", "type": "subscribe", "payload": {"query": QUERY}})
        newer = [await socket.receive_json() for _ in range(3)]
        old = {"query": QUERY, "extensions": {"incrementalSpec": "20220824"}}
        await socket.send_json({"id": "o1", "type": "subscribe", "payload": old})
        older = [await socket.receive_json() for _ in range(3)]
        await socket.close()
    assert newer == [
        {"id": "n1", "type": "next", "payload": PENDING},
        {"id": "n1", "type": "next", "payload": COMPLETED},
        {"id": "n1", "type": "complete"},
    ]
    assert older == [
        {"id": "o1", "type": "next", "payload": FIRST},
        {"id": "o1", "type": "next", "payload": LATER},
        {"id": "o1", "type": "complete"},
    ]
