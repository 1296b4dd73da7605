"""CPU per request of a service's ASGI app, in this process, and where that CPU goes.

The benchmarks drive the app the production process serves (middleware, subgraph, real
database) by calling it as ASGI, one request after another, and read
`time.process_time()`: on a machine shared with other work that figure stays meaningful
where requests per second do not. `where_cpu_goes` runs the same loop under cProfile and
sums own time per top-level package (sqlalchemy, strawberry, graphql, psycopg, ...).
"""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message

Body = Callable[[int], dict[str, Any]]


@dataclass(frozen=True)
class CpuFigures:
    requests: int
    cpu_ms: float  # process CPU per request
    wall_ms: float  # elapsed per request, one at a time

    def line(self, name: str) -> str:
        return (
            f"{name:<28} CPU {self.cpu_ms:6.2f} ms/request   wall {self.wall_ms:6.2f} ms/request"
            f"   (n={self.requests}, sequential, in-process)"
        )


@contextmanager
def collected_as_served(young_threshold: int) -> Iterator[None]:
    """The cyclic collector as a service process runs it once built (`tune_collector`: what
    exists now frozen, young collections every `young_threshold` allocations), so the
    figures are those the process pays; Python's defaults again afterwards, nothing left
    frozen for the benchmarks that follow."""
    threshold = gc.get_threshold()
    if young_threshold > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(young_threshold, threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def _scope(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("service", 80),
    }


async def post(app: ASGIApp, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """One POST /graphql straight into the ASGI app (no client library's CPU counted)."""
    body = json.dumps(payload).encode()
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(_scope(body, headers), receive, send)
    answer: dict[str, Any] = json.loads(b"".join(chunks))
    if status != 200 or answer.get("errors"):
        raise AssertionError(f"request failed: {status} {answer}")
    return answer


async def _loop(app: ASGIApp, body: Body, count: int, headers: dict[str, str]) -> None:
    for i in range(count):
        await post(app, body(i), headers)


async def cpu_per_request(
    app: ASGIApp,
    body: Body,
    *,
    count: int = 300,
    warmup: int = 30,
    headers: dict[str, str] | None = None,
) -> CpuFigures:
    """CPU and wall time per request of `body(i)` posted to `/graphql`, after a warm-up."""
    await _loop(app, body, warmup, headers or {})
    cpu, wall = time.process_time(), time.perf_counter()
    await _loop(app, body, count, headers or {})
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return CpuFigures(count, cpu * 1000 / count, wall * 1000 / count)


def _package(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for root in ("services", "libs", "gateway"):
        if root in parts:
            return parts[parts.index(root) + 2] if root != "gateway" else "gateway"
    if filename.startswith(("~", "<")):
        return "builtins"
    return "stdlib:" + (parts[-1] if parts else filename)


async def where_cpu_goes(
    app: ASGIApp,
    body: Body,
    *,
    count: int = 200,
    headers: dict[str, str] | None = None,
    top: int = 8,
) -> list[tuple[str, float]]:
    """Share of own CPU time per package over `count` requests, largest first."""
    await _loop(app, body, 20, headers or {})
    profile = cProfile.Profile(time.process_time)  # CPU, not time spent waiting
    profile.enable()
    await _loop(app, body, count, headers or {})
    profile.disable()
    stats: Any = getattr(pstats.Stats(profile), "stats")  # noqa: B009 (untyped in typeshed)
    own: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        own[_package(filename)] += tottime
    total = sum(own.values()) or 1.0
    return sorted(((k, v / total) for k, v in own.items()), key=lambda kv: -kv[1])[:top]


def profile_line(shares: list[tuple[str, float]]) -> str:
    return "  ".join(f"{name} {share:.0%}" for name, share in shares)


def _subgraph_schema(app: Any) -> Any:
    """The schema behind `app`'s `/graphql` route, under whatever middleware wraps it."""
    while not hasattr(app, "routes"):
        app = app.app
    route = next(r for r in app.routes if getattr(r, "path", "") == "/graphql")
    return route.app.schema


async def entities_batched_side_by_side(
    app: ASGIApp, body: Body, typename: str, *, rounds: int = 6, count: int = 100
) -> dict[str, float]:
    """CPU per request of an `_entities` body resolved as one batch (`resolve_references`)
    and item by item (`resolve_reference`, a task each), rounds alternated in this process
    so the machine's load weighs on both alike: {"batched": ms, "per item": ms}."""
    batches = _subgraph_schema(app).__dict__.setdefault("_batches", {})
    await post(app, body(0), {})
    declared = batches[typename]
    spent = {"batched": 0.0, "per item": 0.0}
    try:
        for _ in range(rounds):
            for label, batch in (("batched", declared), ("per item", None)):
                batches[typename] = batch
                started = time.process_time()
                await _loop(app, body, count, {})
                spent[label] += time.process_time() - started
    finally:
        batches[typename] = declared
    return {k: v * 1000 / (rounds * count) for k, v in spent.items()}
