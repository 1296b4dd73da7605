"""graphql-transport-ws on /graphql: handshake, auth, operations and protocol errors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

PROTOCOL = ["graphql-transport-ws"]


@contextlib.contextmanager
def connect(client: Any, payload: dict[str, Any] | None = None) -> Iterator[Any]:
    """An acknowledged graphql-transport-ws connection."""
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json({"type": "connection_init", "payload": payload or {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        yield ws


def closed_with(ws: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_json()
    return closed.value.code


def test_subscription_streams_events_then_completes(client: Any) -> None:
    with connect(client) as ws:
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { ticks(count: 3) }"},
            }
        )
        events = [ws.receive_json() for _ in range(4)]
    assert events == [
        {"id": "1", "type": "next", "payload": {"data": {"ticks": 0}}},
        {"id": "1", "type": "next", "payload": {"data": {"ticks": 1}}},
        {"id": "1", "type": "next", "payload": {"data": {"ticks": 2}}},
        {"id": "1", "type": "complete"},
    ]


def test_queries_and_mutations_run_over_the_socket(client: Any) -> None:
    with connect(client) as ws:
        ws.send_json({"id": "q", "type": "subscribe", "payload": {"query": "{ hello }"}})
        assert ws.receive_json() == {
            "id": "q",
            "type": "next",
            "payload": {"data": {"hello": "hello world"}},
        }
        assert ws.receive_json() == {"id": "q", "type": "complete"}


def test_ping_pong(client: Any) -> None:
    with connect(client) as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_client_complete_stops_the_subscription_and_frees_the_id(client: Any) -> None:
    with connect(client) as ws:
        subscribe = {
            "id": "s",
            "type": "subscribe",
            "payload": {"query": "subscription { slowTicks }"},
        }
        ws.send_json(subscribe)
        assert ws.receive_json()["payload"] == {"data": {"slowTicks": 0}}
        ws.send_json({"id": "s", "type": "complete"})
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        ws.send_json(subscribe)
        assert ws.receive_json() == {
            "id": "s",
            "type": "next",
            "payload": {"data": {"slowTicks": 0}},
        }


def test_errors_are_sent_as_error_messages(make_client: Callable[..., Any]) -> None:
    client = make_client(max_depth=2)
    with connect(client) as ws:
        ws.send_json(
            {"id": "v", "type": "subscribe", "payload": {"query": "subscription { nope }"}}
        )
        invalid = ws.receive_json()
        assert invalid["type"] == "error" and invalid["id"] == "v"
        assert "nope" in invalid["payload"][0]["message"]
        deep = "{ nested { child { id } } }"
        ws.send_json({"id": "d", "type": "subscribe", "payload": {"query": deep}})
        limited = ws.receive_json()
        assert limited["type"] == "error"
        assert limited["payload"][0]["extensions"]["reason"] == "DEPTH_LIMIT_EXCEEDED"


def test_duplicate_operation_id_closes_4409(client: Any) -> None:
    with connect(client) as ws:
        subscribe = {
            "id": "s",
            "type": "subscribe",
            "payload": {"query": "subscription { slowTicks }"},
        }
        ws.send_json(subscribe)
        ws.receive_json()
        ws.send_json(subscribe)
        assert closed_with(ws) == 4409


def test_subscribe_before_ack_closes_4401(client: Any) -> None:
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ hello }"}})
        assert closed_with(ws) == 4401


def test_second_init_closes_4429(client: Any) -> None:
    with connect(client) as ws:
        ws.send_json({"type": "connection_init"})
        assert closed_with(ws) == 4429


def test_init_timeout_closes_4408(make_client: Callable[..., Any]) -> None:
    client = make_client(ws_init_timeout=0.1)
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert closed_with(ws) == 4408


def test_invalid_messages_close_4400(client: Any) -> None:
    for message in ("not json", '{"no": "type"}', '{"type": "next", "id": "1"}'):
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            ws.send_text(message)
            assert closed_with(ws) == 4400


def test_unknown_subprotocol_closes_4406(client: Any) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        assert closed_with(ws) == 4406


def test_authorization_in_connection_init(client: Any, engines: dict[str, Any]) -> None:
    for payload in (
        {"Authorization": "Bearer good-u7-BUYER"},
        {"headers": {"authorization": "Bearer good-u7-BUYER"}},
    ):
        with connect(client, payload) as ws:
            ws.send_json({"id": "m", "type": "subscribe", "payload": {"query": "{ me }"}})
            assert ws.receive_json()["payload"] == {"data": {"me": "u7"}}
        _, ctx = engines["v1"].calls[-1]
        assert ctx.headers["authorization"] == "Bearer good-u7-BUYER"


def test_anonymous_connection_is_allowed(client: Any) -> None:
    with connect(client) as ws:
        ws.send_json({"id": "m", "type": "subscribe", "payload": {"query": "{ me }"}})
        assert ws.receive_json()["payload"] == {"data": {"me": None}}


def test_invalid_token_closes_4403(client: Any) -> None:
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}})
        assert closed_with(ws) == 4403


def test_subscription_error_mid_stream(client: Any) -> None:
    with connect(client) as ws:
        ws.send_json(
            {"id": "f", "type": "subscribe", "payload": {"query": "subscription { failing }"}}
        )
        first = ws.receive_json()
        assert first == {"id": "f", "type": "next", "payload": {"data": {"failing": 1}}}
        second = ws.receive_json()
        assert second["id"] == "f" and second["type"] in ("next", "error")


def test_operations_per_connection_are_bounded(make_client: Callable[..., Any]) -> None:
    client = make_client(ws_max_operations=2)
    with connect(client) as ws:
        for operation_id in ("a", "b"):
            # Distinct documents: identical ones would share one stream (test_fanout.py).
            subscribe = {"query": f"subscription {operation_id.upper()} {{ slowTicks }}"}
            ws.send_json({"id": operation_id, "type": "subscribe", "payload": subscribe})
            assert ws.receive_json()["type"] == "next"
        ws.send_json({"id": "c", "type": "subscribe", "payload": {"query": "{ hello }"}})
        refused = ws.receive_json()
        assert refused["id"] == "c" and refused["type"] == "error"
        ws.send_json({"id": "a", "type": "complete"})
        ws.send_json({"id": "c", "type": "subscribe", "payload": {"query": "{ hello }"}})
        assert ws.receive_json() == {
            "id": "c",
            "type": "next",
            "payload": {"data": {"hello": "hello world"}},
        }


def _subscribe(ws: Any, operation_id: str) -> None:
    """A subscription of its own (distinct documents never share a stream)."""
    ws.send_json(
        {
            "id": operation_id,
            "type": "subscribe",
            "payload": {"query": f"subscription S{operation_id} {{ slowTicks }}"},
        }
    )


def test_one_users_flood_is_capped_and_another_user_is_still_served(
    make_client: Callable[..., Any],
) -> None:
    client = make_client(ws_max_subscriptions_per_user=2)
    flooder = {"Authorization": "Bearer good-flooder-BUYER"}
    with connect(client, flooder) as first, connect(client, flooder) as second:
        for operation_id in ("a", "b"):
            _subscribe(first, operation_id)
            assert first.receive_json()["type"] == "next"
        _subscribe(second, "c")  # the same user on another connection
        refused = second.receive_json()
        assert refused["id"] == "c" and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        with connect(client, {"Authorization": "Bearer good-neighbour-BUYER"}) as other:
            _subscribe(other, "n")
            assert other.receive_json() == {
                "id": "n",
                "type": "next",
                "payload": {"data": {"slowTicks": 0}},
            }
        first.send_json({"id": "a", "type": "complete"})  # a slot frees up
        first.send_json({"type": "ping"})
        assert first.receive_json() == {"type": "pong"}
        _subscribe(second, "d")
        assert second.receive_json()["type"] == "next"


class RevocableVerifier:
    """Tokens `t.<claims>.s`; a token stops verifying once revoked."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    async def verify(self, token: str) -> Any:
        from servicekit.errors import Unauthenticated

        if token in self.revoked:
            raise Unauthenticated("session ended")

        class P:
            user_id = "u1"
            role = "BUYER"

        return P()


def _token(exp: float) -> str:
    import base64
    import json

    claims = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return f"t.{claims}.s"


def test_a_socket_closes_when_its_token_expires(make_client: Callable[..., Any]) -> None:
    import time

    client = make_client(verifier=RevocableVerifier())
    with connect(client, {"Authorization": f"Bearer {_token(time.time() + 0.3)}"}) as ws:
        _subscribe(ws, "s")
        assert ws.receive_json()["type"] == "next"
        assert closed_with(ws) == 4403


def test_a_revoked_session_loses_its_sockets(make_client: Callable[..., Any]) -> None:
    import time

    verifier = RevocableVerifier()
    client = make_client(verifier=verifier, ws_reverify_seconds=0.05)
    token = _token(time.time() + 3600)
    with connect(client, {"Authorization": f"Bearer {token}"}) as ws:
        _subscribe(ws, "s")
        assert ws.receive_json()["type"] == "next"
        verifier.revoked.add(token)
        assert closed_with(ws) == 4403
