"""Fixtures of the conformance corpus: the subgraphs served once per session, and a gateway.

`gateway` is a fresh `FederatedEngine` over `HttpTransport` for each test, with a
transport wrapper recording every fetch so tests can assert the shape of plans.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn
from gateway.compose import SubgraphSource, compose
from gateway.engine import FederatedEngine
from gateway.supergraph import Supergraph
from gateway.transport import HttpTransport
from gateway.types import JSON, GraphQLRequest, RequestContext

HERE = Path(__file__).parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"conformance_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


subgraphs = _load("subgraphs")
federated = _load("federated")


class RecordingTransport:
    """Wraps a transport; remembers (subgraph, document, variables) of every fetch."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.enforces_timeout = getattr(inner, "enforces_timeout", False)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.idempotent: list[bool] = []  # what each fetch said about sending it again

    async def fetch(
        self,
        subgraph: str,
        query: str,
        variables: Mapping[str, Any] | None,
        ctx: RequestContext,
        *,
        idempotent: bool = False,
    ) -> JSON:
        self.calls.append((subgraph, query, dict(variables or {})))
        self.idempotent.append(idempotent)
        result: JSON = await self.inner.fetch(
            subgraph, query, variables, ctx, idempotent=idempotent
        )
        return result

    def subscribe(
        self, subgraph: str, query: str, variables: Mapping[str, Any] | None, ctx: RequestContext
    ) -> AsyncIterator[JSON]:
        self.calls.append((subgraph, query, dict(variables or {})))
        iterator: AsyncIterator[JSON] = self.inner.subscribe(subgraph, query, variables, ctx)
        return iterator

    async def close(self) -> None:
        await self.inner.close()

    @property
    def subgraphs(self) -> list[str]:
        return [call[0] for call in self.calls]


@dataclass
class Gateway:
    engine: FederatedEngine
    transport: RecordingTransport
    traffic: Any

    async def run(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> JSON:
        self.transport.calls.clear()
        self.transport.idempotent.clear()
        request = GraphQLRequest(query, variables, operation_name)
        return await self.engine.execute(request, RequestContext(headers=headers or {}))


@pytest.fixture(scope="session")
async def subgraph_server() -> AsyncIterator[tuple[str, Any]]:
    traffic = subgraphs.Traffic()
    config = uvicorn.Config(
        subgraphs.build_app(traffic),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", traffic
    server.should_exit = True
    await task


@pytest.fixture(scope="session", params=["hand-written", "composed"])
def supergraph(request: pytest.FixtureRequest) -> Supergraph:
    """The corpus's supergraph: the hand-written file, and `gateway compose`'s own output."""
    if request.param == "hand-written":
        return Supergraph.parse((HERE / "supergraph.graphql").read_text())
    sources = [
        SubgraphSource(name, f"http://{name}.invalid/graphql", sdl)
        for name, sdl in subgraphs.FEDERATION_SDL.items()
    ]
    return Supergraph.parse(compose(sources))


def make_gateway(
    base: str, traffic: Any, supergraph: Supergraph, **options: Any
) -> tuple[Gateway, dict[str, str]]:
    urls = {name: f"{base}/{name}" for name in supergraph.subgraph_urls}
    urls.update(options.pop("urls", {}))
    transport = RecordingTransport(HttpTransport(urls, timeout=options.pop("timeout", 5.0)))
    return Gateway(FederatedEngine(supergraph, transport, **options), transport, traffic), urls


@pytest.fixture
async def gateway(
    subgraph_server: tuple[str, Any], supergraph: Supergraph
) -> AsyncIterator[Gateway]:
    base, traffic = subgraph_server
    built, _ = make_gateway(base, traffic, supergraph)
    yield built
    await built.transport.close()


@pytest.fixture
def kit() -> ModuleType:
    """The `federated` module: `Service` and `Federation` for cases with their own subgraphs."""
    return federated
