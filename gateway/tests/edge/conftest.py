"""Fixtures for the gateway's server and edge tests: a small engine and app builders.

`FakeEngine` runs operations with graphql-core against a tiny schema, so the HTTP and
WebSocket layers can be tested with real parsing, validation and execution while the
federated engine is replaced.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    ExecutionResult,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    subscribe,
    validate,
)
from graphql import GraphQLError as CoreError
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # The test client prefers the `httpx2` package and warns when it runs on `httpx`.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from gateway.app import build_app
from gateway.reload import Built
from gateway.settings import GatewaySettings
from gateway.types import JSON, GraphQLRequest, RequestContext

from .redis_backend import RedisBackend

SDL = """
type Query {
  hello(name: String = "world"): String
  me: String
  version: String
  slow: String
  nested: Node
  headers: String
}
type Node { id: ID  name: String  child: Node }
type Mutation { bump: Int }
type Subscription { ticks(count: Int!): Int  failing: Int  slowTicks: Int }
"""


def _nested(depth: int) -> dict[str, Any] | None:
    return (
        None if depth == 0 else {"id": str(depth), "name": f"n{depth}", "child": _nested(depth - 1)}
    )


class FakeEngine:
    """Executes against `SDL`; `version` tells which generation served a request."""

    def __init__(self, version: str = "v1", slow_seconds: float = 0.0) -> None:
        self.version = version
        self.slow_seconds = slow_seconds
        self.gate: threading.Event | None = None
        self.schema: GraphQLSchema = build_schema(SDL)
        self.calls: list[tuple[GraphQLRequest, RequestContext]] = []
        self.bumps = 0

    def _root(self, ctx: RequestContext) -> dict[str, Any]:
        async def slow(info: Any) -> str:
            if self.gate is not None:
                while not self.gate.is_set():  # set from the test's thread
                    await asyncio.sleep(0.005)
            else:
                await asyncio.sleep(self.slow_seconds)
            return self.version

        def bump(info: Any) -> int:
            self.bumps += 1
            return self.bumps

        async def ticks(info: Any, count: int) -> AsyncIterator[dict[str, int]]:
            for tick in range(count):
                yield {"ticks": tick}
                await asyncio.sleep(0)

        async def failing(info: Any) -> AsyncIterator[dict[str, int]]:
            yield {"failing": 1}
            raise CoreError("the stream broke")

        async def slow_ticks(info: Any) -> AsyncIterator[dict[str, int]]:
            tick = 0
            while True:
                yield {"slowTicks": tick}
                tick += 1
                await asyncio.sleep(10)

        return {
            "slowTicks": slow_ticks,
            "hello": lambda info, name: f"hello {name}",
            "me": ctx.principal_id,
            "version": self.version,
            "slow": slow,
            "nested": _nested(20),
            "headers": ",".join(f"{k}={v}" for k, v in sorted(ctx.headers.items())),
            "bump": bump,
            "ticks": ticks,
            "failing": failing,
        }

    async def execute(self, request: GraphQLRequest, ctx: RequestContext) -> JSON:
        self.calls.append((request, ctx))
        if request.operation_name == "Crash":
            raise RuntimeError("secret internals")
        document = parse(request.query)
        errors = validate(self.schema, document)
        if errors:
            return {"errors": [e.formatted for e in errors]}
        result = execute(
            self.schema,
            document,
            root_value=self._root(ctx),
            variable_values=dict(request.variables or {}),
            operation_name=request.operation_name,
        )
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result.formatted

    async def subscribe(
        self, request: GraphQLRequest, ctx: RequestContext
    ) -> AsyncIterator[JSON] | JSON:
        self.calls.append((request, ctx))
        document = parse(request.query)
        errors = validate(self.schema, document)
        if errors:
            return {"errors": [e.formatted for e in errors]}
        outcome = subscribe(
            self.schema,
            document,
            root_value=self._root(ctx),
            variable_values=dict(request.variables or {}),
            operation_name=request.operation_name,
        )
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if isinstance(outcome, ExecutionResult):
            return outcome.formatted

        async def events() -> AsyncIterator[JSON]:
            async for item in outcome:  # type: ignore[union-attr]
                yield item.formatted

        return events()


class StaticVerifier:
    """Tokens "good-<user>-<role>" verify; anything else is Unauthenticated."""

    async def verify(self, token: str) -> Any:
        from servicekit.errors import Unauthenticated

        if not token.startswith("good-"):
            raise Unauthenticated("invalid token")
        _, user, role = token.split("-", 2)

        class P:
            user_id = user

        P.role = role  # type: ignore[attr-defined]
        return P()


def engine_factory(engines: dict[str, FakeEngine]) -> Callable[[str], Any]:
    """A factory that builds a FakeEngine whose version is the SDL file's first line."""

    async def build(sdl: str) -> Built:
        version = sdl.strip().splitlines()[0].lstrip("# ").strip() if sdl.strip() else ""
        if version == "broken":
            raise ValueError("broken supergraph")
        engine = engines.get(version) or FakeEngine(version)
        engines[version] = engine

        async def close() -> None:
            engine.closed = True  # type: ignore[attr-defined]

        return Built(engine, close)

    return build


@pytest.fixture
def supergraph_file(tmp_path: Path) -> Path:
    path = tmp_path / "supergraph.graphql"
    path.write_text("# v1\n")
    return path


@pytest.fixture
def engines() -> dict[str, FakeEngine]:
    return {"v1": FakeEngine("v1", slow_seconds=0.3)}


@pytest.fixture
def make_client(
    supergraph_file: Path, engines: dict[str, FakeEngine]
) -> Iterator[Callable[..., TestClient]]:
    """Build and start an app with settings overrides; closed after the test."""
    clients: list[TestClient] = []

    def make(
        *, verifier: Any = None, redis: Any = None, metrics: Any = None, **overrides: Any
    ) -> TestClient:
        values: dict[str, Any] = {
            "supergraph_path": supergraph_file,
            "reload_interval": 0,
            "rate_limit_per_second": 0,
        }
        values.update(overrides)
        settings = GatewaySettings(**values)
        parts: dict[str, Any] = {
            "engine_factory": engine_factory(engines),
            "verifier": verifier if verifier is not None else StaticVerifier(),
            "metrics": metrics,
            "bus": None,
        }
        if "redis_url" not in overrides:
            parts["redis"] = redis
        app = build_app(settings, **parts)
        client = TestClient(app, client=("203.0.113.7", 5555))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def redis_backend() -> Iterator[RedisBackend]:
    """This test's Redis (the machine's when reachable, else fakeredis) and key prefix."""
    backend = RedisBackend.start()
    yield backend
    backend.clean()
