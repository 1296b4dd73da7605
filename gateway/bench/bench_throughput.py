"""Requests per second through the gateway of the real stack, as `make dev` runs it.

Every service and the gateway are started by the same supervisor as `make dev`
(`tests.stack.running_stack`: one process each, real PostgreSQL and NATS), the demo data
loaded with `python -m listings.seed`, the gateway's rate limit off. Two more gateway
processes on the same services run with the public response cache off, one keeping its
entity cache (`entities only`: every request reaches listings, the realtors come from
the cache) and one with no cache at all (`no caches`: every request reaches listings
and identity), so all three are measured against the same data:

- `listing`: the listing page, `listing(id)` with its realtor joined from identity, the
  ids of the first 100 seeded listings taken in turn (the frontends' `LISTING` query);
- `search`: a city search, 20 listings with their realtors, the demo cities in turn.

`BENCH_CONCURRENCY` (50) clients in a closed loop, each query for `BENCH_SECONDS` (8)
after `BENCH_WARM_UP_SECONDS` (2) of the same load unmeasured. The clients run in this
process on uvloop with aiohttp, the bodies encoded once (a cheap load generator leaves
the machine's cores to the stack). Printed per gateway and query: req/s, p50/p95/p99,
failures, the response cache's hits among the gateway's answers, and the CPU that the
gateway, listings, identity and the load generator itself spent per request (from /proc
and this process's resource usage): on a shared machine the CPU per request is the
figure to compare, the wall-clock ones move with the load, and a load generator on the
same cores as the stack takes its share of them.

Targets: `listing` >= 1,000 req/s with p95 <= 100 ms, `search` >= 600 req/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from servicekit.embedded import free_port

from tests.stack import Stack, running_stack

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
WARM_UP = float(os.environ.get("BENCH_WARM_UP_SECONDS", "2"))
LISTINGS = int(os.environ.get("BENCH_LISTINGS", "300"))
TICK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"

LISTING = """query($id: ID!) { listing(id: $id) { id slug title description status propertyType
  bedrooms bathrooms livingAreaSqft timeZone price { amount currency }
  address { street city state postalCode } location { lat lng }
  realtor { id displayName avatarUrl } } }"""
SEARCH = """query($f: ListingFilter, $first: Int) { listings(filter: $f, first: $first) {
  edges { cursor node { id slug title price { amount currency } bedrooms bathrooms
  address { city state } realtor { id displayName } } } pageInfo { hasNextPage endCursor } } }"""
IDS = "{ listings(first: 100) { edges { node { id address { city } } } } }"


@dataclass
class Gateway:
    name: str
    port: int
    pid: int


@dataclass
class Result:
    rps: float
    p50: float
    p95: float
    p99: float
    requests: int
    failures: int
    hits: int
    cpu_ms: dict[str, float] = field(default_factory=dict)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _request(query: str, variables: dict[str, Any]) -> bytes:
    """One request body, encoded once and sent as it is by every client."""
    return orjson.dumps({"query": query, "variables": variables})


def _cache_hits(port: int) -> int:
    text = httpx.get(f"http://{HOST}:{port}/metrics", timeout=10).text
    found = re.search(r'^gateway_response_cache_total\{result="hit"\} ([0-9.e+]+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


@contextlib.contextmanager
def _second_gateway(stack: Stack, name: str, env: dict[str, str], log: Path) -> Iterator[Gateway]:
    """Another gateway process on the same supergraph and services, with `env` on top."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway"],
            env={**stack.devstack.env, **env, "GATEWAY_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the second gateway did not start: {log.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            yield Gateway(name, port, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _load(gateway: Gateway, requests: list[bytes], watched: dict[str, int]) -> Result:
    import aiohttp

    url = f"http://{HOST}:{gateway.port}/graphql"
    headers = {"content-type": "application/json", "accept": "application/json"}
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2, keepalive_timeout=60)
    )
    latencies: list[float] = []
    failures = 0

    async def client(offset: int, deadline: float, measured: bool) -> None:
        nonlocal failures
        turn = offset
        while time.perf_counter() < deadline:
            request = requests[turn % len(requests)]
            turn += CONCURRENCY
            started = time.perf_counter()
            try:
                async with session.post(url, data=request, headers=headers) as response:
                    body = await response.read()
                    ok = response.status == 200 and b'"errors"' not in body
            except (OSError, aiohttp.ClientError):
                ok = False
            if measured:
                latencies.append(time.perf_counter() - started)
                failures += not ok

    try:
        deadline = time.perf_counter() + WARM_UP
        await asyncio.gather(*(client(i, deadline, False) for i in range(CONCURRENCY)))
        hits = _cache_hits(gateway.port)
        cpu = {name: _cpu_seconds(pid) for name, pid in watched.items()}
        cpu["load generator"] = _own_cpu_seconds()
        started = time.perf_counter()
        deadline = started + SECONDS
        await asyncio.gather(*(client(i, deadline, True) for i in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        spent = {name: _cpu_seconds(pid) - cpu[name] for name, pid in watched.items()}
        spent["load generator"] = _own_cpu_seconds() - cpu["load generator"]
        hits = _cache_hits(gateway.port) - hits
    finally:
        await session.close()
    ordered = sorted(latencies)
    count = max(1, len(ordered))

    def at(share: float) -> float:
        return ordered[min(count - 1, int(count * share))] * 1000 if ordered else 0.0

    return Result(
        rps=len(ordered) / elapsed,
        p50=at(0.5),
        p95=at(0.95),
        p99=at(0.99),
        requests=len(ordered),
        failures=failures,
        hits=hits,
        cpu_ms={name: seconds / count * 1000 for name, seconds in spent.items()},
    )


def _seed(stack: Stack) -> None:
    identity = stack.ports["identity"][0]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "listings.seed",
            "--count",
            str(LISTINGS),
            "--seed",
            "16",
            "--identity-url",
            f"http://{HOST}:{identity}/graphql",
        ],
        env=stack.devstack.env,
        check=True,
        capture_output=True,
    )


def _workload(url: str) -> dict[str, list[bytes]]:
    answer = httpx.post(url, json={"query": IDS}, timeout=30).json()
    nodes = [edge["node"] for edge in answer["data"]["listings"]["edges"]]
    ids = [node["id"] for node in nodes]
    cities = sorted({node["address"]["city"] for node in nodes})
    return {
        "listing": [_request(LISTING, {"id": id_}) for id_ in ids],
        "search": [_request(SEARCH, {"f": {"city": c}, "first": 20}) for c in cities],
    }


@pytest.fixture(scope="module")
def stack(
    postgres_url: str, nats_url: str, aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    saved = os.environ.get("GATEWAY_RATE_LIMIT_PER_SECOND")
    os.environ["GATEWAY_RATE_LIMIT_PER_SECOND"] = "0"
    try:
        with running_stack(
            postgres_url=postgres_url,
            nats_url=nats_url,
            aws_endpoint=aws_endpoint,
            data_dir=tmp_path_factory.mktemp("bench-throughput"),
            name="benchtput",
        ) as running:
            _seed(running)
            yield running
    finally:
        if saved is None:
            os.environ.pop("GATEWAY_RATE_LIMIT_PER_SECOND", None)
        else:
            os.environ["GATEWAY_RATE_LIMIT_PER_SECOND"] = saved


def bench_listing_and_search_through_the_gateway(stack: Stack, tmp_path: Path) -> None:
    import uvloop

    main = stack.child("gateway")
    port = int(stack.graphql_url.split(":")[2].split("/")[0])
    services = {name: stack.child(name).proc.pid for name in ("listings", "identity")}
    results: dict[tuple[str, str], Result] = {}
    with (
        _second_gateway(
            stack,
            "entities only",
            {"GATEWAY_RESPONSE_CACHE": "false"},
            tmp_path / "gateway-entities-only.log",
        ) as entities_only,
        _second_gateway(
            stack,
            "no caches",
            {"GATEWAY_RESPONSE_CACHE": "false", "GATEWAY_ENTITY_CACHE": "false"},
            tmp_path / "gateway-no-caches.log",
        ) as uncached,
    ):
        for gateway in (Gateway("cache on", port, main.proc.pid), entities_only, uncached):
            workload = _workload(f"http://{HOST}:{gateway.port}/graphql")
            for query, requests in workload.items():
                watched = {"gateway": gateway.pid, **services}
                results[(gateway.name, query)] = uvloop.run(_load(gateway, requests, watched))
    print()
    print(
        f"through the gateway (the stack as `make dev` runs it, {LISTINGS} demo listings, rate "
        f"limit off): {CONCURRENCY} clients, {SECONDS:.0f} s per query; {os.cpu_count()} shared "
        "cores, CPU ms per request from /proc"
    )
    for (name, query), result in results.items():
        cpu = "  ".join(f"{who}={ms:.3f}" for who, ms in result.cpu_ms.items())
        print(
            f"  {query:<8} {name:<13} rps={result.rps:7.0f}  p50={result.p50:7.2f} ms  "
            f"p95={result.p95:7.2f} ms  p99={result.p99:7.2f} ms  n={result.requests:<6} "
            f"failures={result.failures}  cache hits={result.hits / max(1, result.requests):.0%}"
            f"  cpu/request: {cpu}"
        )
