"""The engine's own CPU per request on the race's operations, subgraph cost excluded.

The race's supergraph and subgraphs (`bench_race.py`), but no sockets and no subgraph
process: every subgraph answer is computed once by the race's subgraph executor and kept
as the JSON bytes it sent, and each fetch hands the engine a fresh parse of those bytes
(parsing a subgraph's answer is the gateway's work, so it is counted). Each request is
executed (nothing coalesced or cached), and its result serialised with orjson as the
server does. Printed: the median and best of `BENCH_ENGINE_ROUNDS` rounds of
`BENCH_ENGINE_REQUESTS` requests, in ms of process CPU per request, for `deep` (the public
gateway benchmark's nested query), `heavy` and `light`.

Run with `make bench`, or `python gateway/bench/bench_engine.py [deep|heavy|light]`;
`python gateway/bench/bench_engine.py profile deep` prints a cProfile of the run.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_race import DEEP, HEAVY, LIGHT, subgraphs_app, supergraph_sdl

ROUNDS = 7
QUERIES = {"deep": DEEP, "heavy": HEAVY, "light": LIGHT}


def _settings() -> tuple[int, int]:
    import os

    return (
        int(os.environ.get("BENCH_ENGINE_ROUNDS", str(ROUNDS))),
        int(os.environ.get("BENCH_ENGINE_REQUESTS", "200")),
    )


class CannedTransport:
    """Answers each fetch with a fresh parse of what the race's subgraphs answered to it."""

    def __init__(self) -> None:
        self._app = subgraphs_app()
        self._answers: dict[bytes, bytes] = {}

    async def _ask(self, subgraph: str, body: bytes) -> bytes:
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message["body"])

        await self._app({"type": "http", "path": f"/{subgraph}"}, receive, send)
        return chunks[0]

    async def fetch(
        self, subgraph: str, query: str, variables: Any, ctx: Any, *, idempotent: bool = False
    ) -> dict[str, Any]:
        # The request body is encoded as the HTTP transport encodes it: its cost is ours.
        body = orjson.dumps({"query": query, "variables": variables})
        key = subgraph.encode() + body
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = await self._ask(subgraph, body)
        parsed: dict[str, Any] = orjson.loads(answer)
        return parsed

    def subscribe(self, *args: Any) -> Any:
        raise TypeError("the engine benchmark measures queries only")

    async def close(self) -> None:
        return None


def build_engine() -> Any:
    from gateway.engine import FederatedEngine
    from gateway.supergraph import Supergraph

    return FederatedEngine(
        Supergraph.parse(supergraph_sdl("http://127.0.0.1:9")), CannedTransport()
    )


async def measure(query: str, rounds: int, requests: int) -> tuple[list[float], int]:
    """CPU ms per request of each round, and the size of the serialised answer."""
    from gateway.types import GraphQLRequest, RequestContext

    engine = build_engine()
    request = GraphQLRequest(query=query)
    ctx = RequestContext()
    result = await engine.execute(request, ctx)
    assert "errors" not in result, result["errors"]
    size = len(orjson.dumps(result))
    for _ in range(20):
        orjson.dumps(await engine.execute(request, ctx))
    figures = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(requests):
            orjson.dumps(await engine.execute(request, ctx))
        figures.append((time.process_time() - started) / requests * 1000)
    return figures, size


def report(labels: list[str]) -> None:
    rounds, requests = _settings()
    print()
    print(
        f"engine CPU per request, in process (subgraph answers canned, parsed per fetch; "
        f"{rounds} rounds of {requests}; a shared machine: compare runs back to back)"
    )
    for label in labels:
        figures, size = asyncio.run(measure(QUERIES[label], rounds, requests))
        print(
            f"  {label:<6} median {statistics.median(figures):6.3f} ms  "
            f"best {min(figures):6.3f} ms  (answer {size / 1024:.1f} KiB)"
        )


def profile(label: str) -> None:
    import cProfile
    import pstats

    rounds, requests = _settings()
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(measure(QUERIES[label], rounds, requests))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def bench_engine_cpu_per_request() -> None:
    import subprocess

    # A process of its own, where `gateway` imports as the installed package.
    done = subprocess.run(
        [sys.executable, __file__], capture_output=True, text=True, timeout=600, check=False
    )
    print(done.stdout, end="")
    assert done.returncode == 0, done.stderr[-3000:]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "profile":
        profile(sys.argv[2])
    else:
        report(sys.argv[1:] or list(QUERIES))
