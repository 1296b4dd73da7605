"""Supergraph hot reload: atomic swap, in-flight work finishes on its own engine."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gateway.reload import fingerprint

HEADERS = {"content-type": "application/json"}


def wait_until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def ask(client: Any, query: str) -> Any:
    return client.post("/graphql", content=json.dumps({"query": query}), headers=HEADERS)


def serving(client: Any, sdl: str) -> bool:
    return bool(client.get("/health").json()["supergraph"] == fingerprint(sdl)[:12])


def test_in_flight_request_finishes_on_the_old_engine(
    make_client: Callable[..., Any], supergraph_file: Path, engines: dict[str, Any]
) -> None:
    client = make_client(reload_interval=0.02)
    engines["v1"].gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(ask, client, "{ slow }")
        wait_until(lambda: engines["v1"].calls)
        new_sdl = "# v2\nschema changed\n"
        supergraph_file.write_text(new_sdl)
        wait_until(lambda: serving(client, new_sdl))
        assert ask(client, "{ version }").json() == {"data": {"version": "v2"}}
        assert not getattr(engines["v1"], "closed", False)
        assert not slow.done()
        engines["v1"].gate.set()
        assert slow.result(timeout=5).json() == {"data": {"slow": "v1"}}
    wait_until(lambda: getattr(engines["v1"], "closed", False))


def test_broken_supergraph_keeps_the_running_engine(
    make_client: Callable[..., Any], supergraph_file: Path
) -> None:
    client = make_client(reload_interval=0.02)
    failed = 'gateway_supergraph_reloads_total{result="failed"}'

    def failures() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(failed):
                return float(line.split()[-1])
        return 0.0

    before = failures()
    supergraph_file.write_text("# broken\nnot a supergraph at all\n")
    wait_until(lambda: failures() > before)
    assert serving(client, "# v1\n")
    assert ask(client, "{ version }").json() == {"data": {"version": "v1"}}
    fixed = "# v3\nfixed again\n"
    supergraph_file.write_text(fixed)
    wait_until(lambda: serving(client, fixed))
    assert ask(client, "{ version }").json() == {"data": {"version": "v3"}}


def test_running_subscription_survives_a_reload(
    make_client: Callable[..., Any], supergraph_file: Path, engines: dict[str, Any]
) -> None:
    client = make_client(reload_interval=0.02)
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {"id": "s", "type": "subscribe", "payload": {"query": "subscription { slowTicks }"}}
        )
        assert ws.receive_json()["type"] == "next"
        new_sdl = "# v4\nanother\n"
        supergraph_file.write_text(new_sdl)
        wait_until(lambda: serving(client, new_sdl))
        assert not getattr(engines["v1"], "closed", False)
        ws.send_json({"id": "s", "type": "complete"})
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    wait_until(lambda: getattr(engines["v1"], "closed", False))


def test_missing_supergraph_fails_start_up_loudly(tmp_path: Path) -> None:
    import pytest
    from gateway.app import build_app
    from gateway.settings import GatewaySettings

    from .conftest import StaticVerifier, TestClient, engine_factory

    settings = GatewaySettings(supergraph_path=tmp_path / "missing.graphql")
    app = build_app(
        settings, engine_factory=engine_factory({}), verifier=StaticVerifier(), redis=None, bus=None
    )
    with pytest.raises(RuntimeError, match="make supergraph"), TestClient(app):
        pass
