"""Subgraph client benchmark: this process's CPU per fetch, gateway client against others.

A subgraph stand-in runs in a process of its own (a bare asyncio server answering every
POST with the same ~1 KiB GraphQL response, keep-alive), so its CPU is not counted. This
process makes the same fetch (orjson body out, POST, read, orjson answer in) through:

- the gateway's `HttpTransport` (its own HTTP/1.1 client, `gateway.http1`),
- an aiohttp `ClientSession` (what the gateway uses for https:// subgraphs),
- an httpx `AsyncClient`,

with 10 fetches in flight, and reports the CPU time of this process per fetch. Rounds
alternate between the clients so that drift on a shared machine falls on all of them.
Every run is bounded by a fetch count and talks only to 127.0.0.1.

Run with `make bench`, or `python gateway/bench/bench_transport.py` alone.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

FETCHES = int(os.environ.get("BENCH_TRANSPORT_FETCHES", "3000"))
ROUNDS = int(os.environ.get("BENCH_TRANSPORT_ROUNDS", "3"))
IN_FLIGHT = 10
HOST = "127.0.0.1"
QUERY = "query($id: ID!) { listing(id: $id) { id title price { amount currency } } }"


def _answer() -> bytes:
    import orjson

    listing = {
        "id": "l1",
        "title": "Sunny loft with a view over the river",
        "price": {"amount": 45_000_000, "currency": "USD"},
        "photos": [f"https://cdn.example/l1/{n}.jpg" for n in range(20)],
    }
    body = orjson.dumps({"data": {"listing": listing}})
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\ndate: Wed, 02 Dec 2026 06:00:00 GMT\r\n"
        "server: uvicorn\r\n\r\n"
    )
    return head.encode() + body


async def _serve(port: int) -> None:
    answer = _answer()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, HOST, port)
    async with server:
        await server.serve_forever()


Fetch = Callable[[], Awaitable[Any]]


async def _cpu_per_fetch(fetch: Fetch, count: int) -> float:
    """Microseconds of this process's CPU per fetch, `IN_FLIGHT` at a time."""
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            answer = await fetch()
            assert (answer.get("data") or {}).get("listing", {}).get("id") == "l1", answer

    for _ in range(100):  # warm up connections and caches
        await fetch()
    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return (time.process_time() - started) / count * 1e6


async def _clients(url: str) -> tuple[dict[str, Fetch], Callable[[], Awaitable[None]]]:
    import aiohttp
    import httpx
    import orjson
    from gateway.transport import HttpTransport
    from gateway.types import RequestContext

    transport = HttpTransport({"listings": url})
    ctx = RequestContext(headers={"authorization": "Bearer token", "x-request-id": "r1"})
    variables = {"id": "l1"}
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "authorization": "Bearer token",
        "x-request-id": "r1",
    }
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))

    async def gateway_client() -> Any:
        return await transport.fetch("listings", QUERY, variables, ctx, idempotent=True)

    async def aiohttp_client() -> Any:
        body = orjson.dumps({"query": QUERY, "variables": variables})
        async with session.post(url, data=body, headers=headers) as response:
            return orjson.loads(await response.read())

    async def httpx_client() -> Any:
        body = orjson.dumps({"query": QUERY, "variables": variables})
        response = await client.post(url, content=body, headers=headers)
        return orjson.loads(response.content)

    async def close() -> None:
        await transport.close()
        await session.close()
        await client.aclose()

    fetches: dict[str, Fetch] = {
        "gateway client (gateway.http1)": gateway_client,
        "aiohttp ClientSession": aiohttp_client,
        "httpx AsyncClient": httpx_client,
    }
    return fetches, close


async def run(url: str) -> dict[str, list[float]]:
    fetches, close = await _clients(url)
    figures: dict[str, list[float]] = {name: [] for name in fetches}
    try:
        for _ in range(ROUNDS):
            for name, fetch in fetches.items():
                figures[name].append(await _cpu_per_fetch(fetch, FETCHES))
    finally:
        await close()
    return figures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def measure() -> dict[str, list[float]]:
    """Start the stand-in subgraph, run the rounds, stop it; CPU µs per fetch by client."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "serve", str(port)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        return asyncio.run(run(f"http://{HOST}:{port}/graphql"))
    finally:
        server.terminate()
        server.wait(timeout=10)


def report(figures: dict[str, list[float]]) -> None:
    print(
        f"subgraph client CPU per fetch ({FETCHES} fetches x {ROUNDS} rounds, {IN_FLIGHT} in flight):"
    )
    best = {name: min(values) for name, values in figures.items()}
    ours = best["gateway client (gateway.http1)"]
    for name, values in figures.items():
        rounds = " ".join(f"{value:6.1f}" for value in values)
        print(f"  {name:<32} best {best[name]:6.1f} µs  ({rounds})  x{best[name] / ours:.2f}")


def bench_transport_cpu_per_fetch() -> None:
    figures = measure()
    print()
    report(figures)
    assert all(values for values in figures.values())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        asyncio.run(_serve(int(sys.argv[2])))
    else:
        report(measure())
