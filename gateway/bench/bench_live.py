"""Live updates through the gateway: one change fanned out to many WebSocket subscribers.

Two subgraphs in one process: `live` streams `itemChanged(topic)` over graphql-transport-ws
(every subscription of every topic receives each change fired by `POST /fire`, stamped
with the wall clock), `catalog` resolves the item's `name` (one entity hop per event, as
our tour and meeting subscriptions have). The subgraph runs any number of operations on
one socket and executes a change once per document (the topic does not change it), so it
stands for a subgraph that is not the limit. The real gateway (`python -m gateway`, one
worker) sits in between; this process holds the client sockets (aiohttp clients, each
receipt stamped as it is read). Each process's CPU per change is read from /proc across
the measured changes: it is the figure to compare on a loaded machine.

- **Fan-out** (`BENCH_LIVE_SUBSCRIBERS`, 1,000): every subscriber subscribes, a warm-up
  change is fired until every subscriber has seen one, then `BENCH_LIVE_FIRES` (3)
  changes are fired one at a time; for each, the delay from the fire to each subscriber's
  receipt (same machine, same clock) gives p50/p95/max. Three times: all subscribers asking
  the same subscription (same topic, anonymous), each its own topic (anonymous, one
  address: one caller), and each its own topic as a caller of its own (`x-device-id`).
- **Idle** (`BENCH_LIVE_IDLE`, 10,000): that many subscriptions held open (10 per socket)
  with distinct topics, until the subgraph holds every one upstream; the gateway's
  resident memory before and after, per subscription.

Run with `make bench` (or `python gateway/bench/bench_live.py`; `BENCH_LIVE_CASES`, e.g.
`distinct,idle`, picks cases); figures move with the machine's load.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SUBSCRIBERS = int(os.environ.get("BENCH_LIVE_SUBSCRIBERS", "1000"))
FIRES = int(os.environ.get("BENCH_LIVE_FIRES", "3"))
IDLE = int(os.environ.get("BENCH_LIVE_IDLE", "10000"))
PER_SOCKET = 10
CASES = os.environ.get("BENCH_LIVE_CASES", "same,distinct,callers,idle").split(",")
SUBSCRIPTION = (
    "subscription Live($topic: String!) { itemChanged(topic: $topic) { id version firedAt name } }"
)
FEDERATION = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'
)
FEDERATED_SDL = {
    "live": FEDERATION + "type Query { liveVersion: Int }\n"
    "type Subscription { itemChanged(topic: String!): Item! }\n"
    'type Item @key(fields: "id") { id: ID!  version: Int!  firedAt: Float! }\n',
    "catalog": FEDERATION + "type Query { item(id: ID!): Item }\n"
    'type Item @key(fields: "id") { id: ID!  name: String! }\n',
}


def subgraphs_app() -> Any:
    """`/live` (HTTP and WebSocket), `/catalog` (HTTP), `POST /fire`, `GET /count`."""
    import orjson
    from graphql import GraphQLUnionType, build_schema, execute, parse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    catalog = build_schema(
        "type Query { item(id: ID!): Item  _entities(representations: [_Any!]!): [_Entity]! }\n"
        "type Item { id: ID!  name: String! }\nscalar _Any\nunion _Entity = Item"
    )
    union = catalog.type_map["_Entity"]
    assert isinstance(union, GraphQLUnionType)
    union.resolve_type = lambda obj, *_: obj["__typename"]
    query = catalog.query_type
    assert query is not None
    query.fields["_entities"].resolve = lambda _r, _i, representations: [
        {"__typename": "Item", "id": rep["id"], "name": f"Item {rep['id']}"}
        for rep in representations
    ]
    live = build_schema(
        "type Query { liveVersion: Int }\n"
        "type Subscription { itemChanged(topic: String!): Item! }\n"
        "type Item { id: ID!  version: Int!  firedAt: Float! }"
    )
    subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
    answers: dict[bytes, bytes] = {}
    frames: dict[tuple[str, int, float], str] = {}
    held = [0]  # operations subscribed on every socket

    async def graphql_http(request: Request) -> Response:
        body = await request.body()
        answer = answers.get(body)
        if answer is None:
            payload = orjson.loads(body)
            result = execute(
                catalog, parse(payload["query"]), variable_values=payload.get("variables")
            )
            answer = answers[body] = orjson.dumps(result.formatted)  # type: ignore[union-attr]
        return Response(answer, media_type="application/json")

    async def stream(socket: WebSocket) -> None:
        """graphql-transport-ws with any number of operations on the socket, by id."""
        await socket.accept(subprotocol="graphql-transport-ws")
        await socket.receive_text()
        await socket.send_text('{"type":"connection_ack"}')
        operations: dict[str, dict[str, Any]] = {}  # id -> the subscribe payload
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                event = await queue.get()
                for operation_id, payload in list(operations.items()):
                    # The change does not depend on the topic: executed once per document.
                    key = (payload["query"], event["version"], event["firedAt"])
                    frame = frames.get(key)
                    if frame is None:
                        result = execute(
                            live,
                            parse(payload["query"]),
                            root_value={"itemChanged": event},
                            variable_values=payload.get("variables"),
                        )
                        frame = frames[key] = orjson.dumps(
                            {"id": "ID", "type": "next", "payload": result.formatted}  # type: ignore[union-attr]
                        ).decode()
                    await socket.send_text(frame.replace('"ID"', json.dumps(operation_id), 1))

        subscribers.add(queue)
        sender = asyncio.create_task(deliver())
        try:
            while True:
                message = orjson.loads(await socket.receive_text())
                if message["type"] == "subscribe":
                    operations[message["id"]] = message["payload"]
                    held[0] += 1
                elif message["type"] == "complete" and operations.pop(message["id"], None):
                    held[0] -= 1
                elif message["type"] == "ping":
                    await socket.send_text('{"type":"pong"}')
        except WebSocketDisconnect:
            pass
        finally:
            held[0] -= len(operations)
            subscribers.discard(queue)
            sender.cancel()

    async def fire(request: Request) -> Response:
        version = int(request.query_params["version"])
        event = {"__typename": "Item", "id": "i1", "version": version, "firedAt": time.time()}
        for queue in list(subscribers):
            queue.put_nowait(event)
        return Response(str(held[0]))

    async def count(request: Request) -> Response:
        return Response(str(held[0]))

    return Starlette(
        routes=[
            Route("/live", graphql_http, methods=["POST"]),
            Route("/catalog", graphql_http, methods=["POST"]),
            WebSocketRoute("/live", stream),
            Route("/fire", fire, methods=["POST"]),
            Route("/count", count),
        ]
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (from /proc, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Subscriber:
    """One client socket holding `topics` subscriptions; records when each change arrived."""

    def __init__(
        self, session: Any, url: str, topics: list[str], device: str | None = None
    ) -> None:
        self._session = session
        self._url = url
        self.topics = topics
        self._headers = {"x-device-id": device} if device else {}
        self.received: dict[int, list[float]] = {}
        self.fired: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None
        self.errors: list[Any] = []

    async def run(self, acked: asyncio.Event) -> None:
        import orjson

        async with self._session.ws_connect(
            self._url, protocols=("graphql-transport-ws",), max_msg_size=0, headers=self._headers
        ) as ws:
            await ws.send_str('{"type":"connection_init"}')
            await ws.receive()
            for n, topic in enumerate(self.topics):
                await ws.send_str(
                    orjson.dumps(
                        {
                            "id": str(n),
                            "type": "subscribe",
                            "payload": {"query": SUBSCRIPTION, "variables": {"topic": topic}},
                        }
                    ).decode()
                )
            acked.set()
            async for message in ws:
                now = time.time()
                frame = orjson.loads(message.data)
                if frame.get("type") != "next":
                    self.errors.append(frame)
                    continue
                data = (frame.get("payload") or {}).get("data") or {}
                item = data.get("itemChanged")
                if item is None:
                    self.errors.append(frame)
                    continue
                self.received.setdefault(item["version"], []).append(now)
                self.fired[item["version"]] = item["firedAt"]


async def _post(session: Any, url: str) -> str:
    async with session.post(url) as response:
        return str(await response.text())


async def _get(session: Any, url: str) -> str:
    async with session.get(url) as response:
        return str(await response.text())


async def until_everyone_saw(
    session: Any, base: str, subscribers: list[Subscriber], version: int, count: int
) -> None:
    """Fire `version` until every subscription has received it (120 s at most)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        await _post(session, f"{base}/fire?version={version}")
        for _ in range(100):  # fire again only after 5 s: each fire is N events
            if all(len(s.received.get(version, [])) >= count for s in subscribers):
                return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"not every subscriber received change {version}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def fan_out(
    session: Any, base: str, gateway: str, case: str, pids: dict[str, int]
) -> dict[str, float]:
    """Delivery delays of `FIRES` changes, and each process's CPU per change meanwhile.

    `same`: one subscription of one caller; `distinct`: one caller's subscriptions of as many
    topics; `callers`: as many topics, each of its own caller (its own `x-device-id`, which
    subgraphs are told, so nothing upstream is shared between them)."""
    subscribers = [
        Subscriber(
            session,
            gateway,
            ["same" if case == "same" else f"topic-{n}"],
            device=f"device-{n}" if case == "callers" else None,
        )
        for n in range(SUBSCRIBERS)
    ]
    await _start(subscribers)
    try:
        await until_everyone_saw(session, base, subscribers, 0, 1)
        delays: list[float] = []
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        for version in range(1, FIRES + 1):
            await until_everyone_saw(session, base, subscribers, version, 1)
            for s in subscribers:
                delays.extend(t - s.fired[version] for t in s.received[version][:1])
        spent = {
            f"cpu_{name}": (cpu_seconds(pid) - cpu[name]) * 1000 / FIRES
            for name, pid in pids.items()
        }
        return {
            **spent,
            "p50": percentile(delays, 50) * 1000,
            "p95": percentile(delays, 95) * 1000,
            "max": max(delays) * 1000,
            "errors": float(sum(len(s.errors) for s in subscribers)),
        }
    finally:
        await _stop(subscribers)


async def idle(session: Any, base: str, gateway: str, gateway_pid: int) -> dict[str, float]:
    before = rss_mib(gateway_pid)
    sockets = max(1, IDLE // PER_SOCKET)
    subscribers = [
        Subscriber(session, gateway, [f"idle-{n}-{k}" for k in range(PER_SOCKET)])
        for n in range(sockets)
    ]
    await _start(subscribers)
    try:
        # Held once the subgraph has every one upstream (distinct subscriptions share none).
        deadline = time.monotonic() + 300
        while (held := int(await _get(session, f"{base}/count"))) < len(subscribers) * PER_SOCKET:
            if time.monotonic() > deadline:
                errors = [e for s in subscribers for e in s.errors][:3]
                raise RuntimeError(f"only {held} idle subscriptions reached the subgraph: {errors}")
            await asyncio.sleep(0.5)
        after = rss_mib(gateway_pid)
        return {
            "subscriptions": float(sockets * PER_SOCKET),
            "before": before,
            "after": after,
            "per": (after - before) * 1024 / (sockets * PER_SOCKET),
        }
    finally:
        await _stop(subscribers)


async def _start(subscribers: list[Subscriber]) -> None:
    for batch in range(0, len(subscribers), 50):
        acks = []
        for s in subscribers[batch : batch + 50]:
            acked = asyncio.Event()
            acks.append(acked)
            s.task = asyncio.create_task(s.run(acked))
        async with asyncio.timeout(120):
            await asyncio.gather(*(a.wait() for a in acks))


async def _stop(subscribers: list[Subscriber]) -> None:
    for s in subscribers:
        if s.task is not None:
            s.task.cancel()
    await asyncio.gather(*(s.task for s in subscribers if s.task), return_exceptions=True)


async def run(tmp: Path) -> list[str]:
    import aiohttp
    from gateway.compose import SubgraphSource, compose

    sub_port, gw_port = _free_port(), _free_port()
    base = f"http://{HOST}:{sub_port}"
    supergraph = tmp / "supergraph.graphql"
    supergraph.write_text(
        compose([SubgraphSource(n, f"{base}/{n}", sdl) for n, sdl in FEDERATED_SDL.items()])
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    gateway_env = {
        **env,
        "GATEWAY_HOST": HOST,
        "GATEWAY_PORT": str(gw_port),
        "GATEWAY_SUPERGRAPH_PATH": str(supergraph),
        "GATEWAY_WORKERS": "1",
        "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "GATEWAY_RELOAD_INTERVAL": "0",
        "GATEWAY_RESPONSE_CACHE": "false",
        "GATEWAY_MAX_IN_FLIGHT": "0",
        "GATEWAY_WS_MAX_SUBSCRIPTIONS_PER_USER": "0",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("REDIS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        gateway_env.pop(name, None)
    lines = []
    with (
        running(
            [sys.executable, __file__, "serve-subgraphs", str(sub_port)], env, tmp / "s.log"
        ) as subgraphs,
        running([sys.executable, "-m", "gateway"], gateway_env, tmp / "g.log") as gateway,
    ):
        pids = {"gateway": gateway.pid, "subgraphs": subgraphs.pid, "clients": os.getpid()}
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(OSError, aiohttp.ClientError):
                    async with session.get(f"http://{HOST}:{gw_port}/health") as response:
                        if response.status == 200:
                            break
                if time.monotonic() > deadline or gateway.poll() is not None:
                    raise RuntimeError((tmp / "g.log").read_text()[-2000:])
                await asyncio.sleep(0.2)
            url = f"ws://{HOST}:{gw_port}/graphql"
            labels = {
                "same": "same subscription",
                "distinct": "distinct subscriptions",
                "callers": "distinct subscriptions of distinct callers",
            }
            for case, label in labels.items():
                if case not in CASES:
                    continue
                figures = await fan_out(session, base, url, case, pids)
                _report(
                    lines,
                    f"  fan-out to {SUBSCRIBERS} subscribers ({label}): delivery "
                    f"p50={figures['p50']:.0f} ms  p95={figures['p95']:.0f} ms  "
                    f"max={figures['max']:.0f} ms  errors={figures['errors']:.0f}; CPU per "
                    f"change: gateway {figures['cpu_gateway']:.0f} ms, subgraphs "
                    f"{figures['cpu_subgraphs']:.0f} ms, clients {figures['cpu_clients']:.0f} ms",
                )
            if "idle" in CASES:
                figures = await idle(session, base, url, gateway.pid)
                _report(
                    lines,
                    f"  {figures['subscriptions']:.0f} idle subscriptions ({PER_SOCKET} per "
                    f"socket, distinct): gateway RSS {figures['before']:.0f} MiB -> "
                    f"{figures['after']:.0f} MiB, {figures['per']:.1f} KiB per subscription",
                )
    return lines


def _report(lines: list[str], line: str) -> None:
    """Keep a figure for the summary and show it at once (a later case may fail)."""
    lines.append(line)
    print(line, file=sys.stderr, flush=True)


def report() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lines = asyncio.run(run(Path(tmp)))
    print("\nlive updates through the gateway (2 shared cores; figures move with load)")
    for line in lines:
        print(line)


def bench_live() -> None:
    # A process of its own, where `gateway` imports as the installed package (collected
    # from the repository root, `gateway` is that folder, a namespace without the code).
    done = subprocess.run([sys.executable, __file__], timeout=1800, check=False)
    assert done.returncode == 0, "bench_live failed (its output is above)"


def _serve_subgraphs(port: int) -> None:
    import uvicorn

    uvicorn.run(
        subgraphs_app(),
        host=HOST,
        port=port,
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",
        loop="uvloop",
        backlog=16384,
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve-subgraphs":
        _serve_subgraphs(int(sys.argv[2]))
    else:
        report()
