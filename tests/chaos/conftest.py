"""The real stack with a switch in front of each service's database and of NATS.

The proxies run on an event loop of their own, in a thread, because the stack is started
synchronously and outlives every test's loop. `CHAOS_OUTAGE_SECONDS` sets how long an
outage lasts (2 s in `make test`; `make chaos` runs longer ones under load).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest
from servicekit.testing.proxy import TcpProxy
from sqlalchemy.engine import make_url

from tests.stack import SERVICES, Stack, running_stack

OUTAGE_SECONDS = float(os.environ.get("CHAOS_OUTAGE_SECONDS", "2"))
LOAD_CLIENTS = int(os.environ.get("CHAOS_LOAD_CLIENTS", "2"))


class Switchboard:
    """TCP proxies served from a background thread; each can be switched off and on."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._proxies: list[TcpProxy] = []

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=30)

    def proxy(self, host: str, port: int) -> TcpProxy:
        proxy = TcpProxy(host, port)
        self._run(proxy.start())
        self._proxies.append(proxy)
        return proxy

    def down(self, proxy: TcpProxy) -> None:
        async def switch() -> None:
            proxy.go_down()

        self._run(switch())

    def up(self, proxy: TcpProxy) -> None:
        async def switch() -> None:
            proxy.come_up()

        self._run(switch())

    def close(self) -> None:
        for proxy in self._proxies:
            self._run(proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@dataclass(frozen=True)
class Chaos:
    stack: Stack
    switchboard: Switchboard
    databases: dict[str, TcpProxy]  # service -> the proxy in front of its database
    nats: TcpProxy

    def down(self, proxy: TcpProxy) -> None:
        self.switchboard.down(proxy)

    def up(self, proxy: TcpProxy) -> None:
        self.switchboard.up(proxy)


@pytest.fixture(scope="session")
def chaos(
    postgres_url: str, nats_url: str, aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chaos]:
    switchboard = Switchboard()
    server = make_url(postgres_url)
    databases = {
        service: switchboard.proxy(server.host or "127.0.0.1", server.port or 5432)
        for service in SERVICES
    }
    nats = urlparse(nats_url)
    nats_proxy = switchboard.proxy(nats.hostname or "127.0.0.1", nats.port or 4222)
    try:
        with running_stack(
            postgres_url=postgres_url,
            nats_url=nats_url,
            aws_endpoint=aws_endpoint,
            data_dir=tmp_path_factory.mktemp("chaos"),
            name="chaos",
            database_servers={
                service: server.set(host="127.0.0.1", port=proxy.port).render_as_string(
                    hide_password=False
                )
                for service, proxy in databases.items()
            },
            service_nats_url=f"nats://127.0.0.1:{nats_proxy.port}",
        ) as stack:
            yield Chaos(stack, switchboard, databases, nats_proxy)
    finally:
        switchboard.close()
