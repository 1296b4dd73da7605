"""Gateway benchmark: what the gateway costs on top of the subgraph calls it makes.

Three processes on loopback: four subgraphs answering from memory (one uvicorn process,
one path each), the real gateway (`python -m gateway`, configured by environment like in
production, rate limiter on with a limit too high to bite), and this process generating
load with aiohttp. Two operations:

(a) one subgraph: `listing(id)` served by the listings subgraph alone;
(b) a tour page: `tour(id)` from scheduling, then — in parallel — the listing
    (listings), the buyer (identity) and the meeting (media), then the listing's realtor
    (identity): four subgraphs, two sequential entity hops.

Each is measured through the gateway and as the same subgraph calls made directly by the
client, with 50 concurrent clients (throughput and p50/p95/p99) and with one client
(the per-request latency, where the difference is the gateway's own overhead). Every run
is bounded by a request count and a time budget, and only talks to 127.0.0.1.

A second figure is independent of the other processes sharing the machine: the
gateway's own CPU time per request (this process's CPU clock), running the ASGI app in
process with the subgraphs answered from memory, for the server layer alone and for
(a) and (b) with the real engine. Tracing is set up as `python -m gateway` sets it up
(an SDK tracer provider, exporting only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_TRACES_EXPORTER` say so).

Run with `make bench`; `python gateway/bench/bench_gateway.py serve-subgraphs PORT` is how
the subgraph process is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memoized import memoized_subgraphs

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "50"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "4000"))
SERIAL_REQUESTS = int(os.environ.get("BENCH_SERIAL_REQUESTS", "600"))
TIME_BUDGET = float(os.environ.get("BENCH_SECONDS", "8"))
HOST = "127.0.0.1"

# The subgraphs ---------------------------------------------------------------------------

USERS = {"u1": "Ada Realtor", "u2": "Bo Buyer"}
LISTINGS = {"l1": {"title": "Sunny loft", "amount": 45_000_000, "currency": "USD", "realtor": "u1"}}
TOURS = {
    "t1": {
        "status": "SCHEDULED",
        "startsAt": "2026-12-01T10:00:00Z",
        "listing": "l1",
        "buyer": "u2",
    }
}

ENTITIES = "scalar _Any\nunion _Entity = {entity}\n"
ENTITY_FIELD = "_entities(representations: [_Any!]!): [_Entity]!"

SUBGRAPH_SDL = {
    "identity": f"type Query {{ user(id: ID!): User {ENTITY_FIELD} }}\n"
    "type User { id: ID! displayName: String! }\n" + ENTITIES.format(entity="User"),
    "listings": f"type Query {{ listing(id: ID!): Listing {ENTITY_FIELD} }}\n"
    "type Listing { id: ID! title: String! price: Money! realtor: User! }\n"
    "type Money { amount: Int! currency: String! }\ntype User { id: ID! }\n"
    + ENTITIES.format(entity="Listing"),
    "scheduling": f"type Query {{ tour(id: ID!): Tour {ENTITY_FIELD} }}\n"
    "type Tour { id: ID! status: String! startsAt: String! listing: Listing! buyer: User! }\n"
    "type Listing { id: ID! }\ntype User { id: ID! }\n" + ENTITIES.format(entity="Tour"),
    "media": f"type Query {{ {ENTITY_FIELD} }}\n"
    "type Tour { id: ID! meeting: Meeting }\ntype Meeting { joinUrl: String! }\n"
    + ENTITIES.format(entity="Tour"),
}


def _user(user_id: str) -> dict[str, Any]:
    return {"__typename": "User", "id": user_id, "displayName": USERS[user_id]}


def _listing(listing_id: str) -> dict[str, Any]:
    row = LISTINGS[listing_id]
    return {
        "__typename": "Listing",
        "id": listing_id,
        "title": row["title"],
        "price": {"amount": row["amount"], "currency": row["currency"]},
        "realtor": {"id": row["realtor"]},
    }


def _tour(tour_id: str) -> dict[str, Any]:
    row = TOURS[tour_id]
    return {
        "__typename": "Tour",
        "id": tour_id,
        "status": row["status"],
        "startsAt": row["startsAt"],
        "listing": {"id": row["listing"]},
        "buyer": {"id": row["buyer"]},
        "meeting": {"joinUrl": f"https://meet.example/{tour_id}"},
    }


ROOTS: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "identity": ("user", _user),
    "listings": ("listing", _listing),
    "scheduling": ("tour", _tour),
    "media": ("", _tour),
}


def subgraphs_app() -> Any:
    """One ASGI app serving the four subgraphs at /<name>; responses are memoised by body."""
    from graphql import GraphQLUnionType, build_schema

    schemas = {}
    for name, sdl in SUBGRAPH_SDL.items():
        schema = build_schema(sdl)
        union = schema.type_map["_Entity"]
        assert isinstance(union, GraphQLUnionType)
        union.resolve_type = lambda obj, *_: obj["__typename"]
        root_field, load = ROOTS[name]
        query = schema.query_type
        assert query is not None
        if root_field:
            query.fields[root_field].resolve = lambda _r, _i, id, load=load: load(id)
        query.fields["_entities"].resolve = lambda _r, _i, representations, load=load: [
            load(rep["id"]) for rep in representations
        ]
        schemas[name] = schema
    return memoized_subgraphs(schemas)


SUPERGRAPH = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{
  query: Query
}

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet
scalar link__Import

enum link__Purpose {
  SECURITY
  EXECUTION
}

enum join__Graph {
  IDENTITY @join__graph(name: "identity", url: "BASE/identity")
  LISTINGS @join__graph(name: "listings", url: "BASE/listings")
  MEDIA @join__graph(name: "media", url: "BASE/media")
  SCHEDULING @join__graph(name: "scheduling", url: "BASE/scheduling")
}

type Query
  @join__type(graph: IDENTITY)
  @join__type(graph: LISTINGS)
  @join__type(graph: MEDIA)
  @join__type(graph: SCHEDULING)
{
  user(id: ID!): User @join__field(graph: IDENTITY)
  listing(id: ID!): Listing @join__field(graph: LISTINGS)
  tour(id: ID!): Tour @join__field(graph: SCHEDULING)
}

type User
  @join__type(graph: IDENTITY, key: "id")
  @join__type(graph: LISTINGS, key: "id", resolvable: false)
  @join__type(graph: SCHEDULING, key: "id", resolvable: false)
{
  id: ID!
  displayName: String! @join__field(graph: IDENTITY)
}

type Listing
  @join__type(graph: LISTINGS, key: "id")
  @join__type(graph: SCHEDULING, key: "id", resolvable: false)
{
  id: ID!
  title: String! @join__field(graph: LISTINGS)
  price: Money! @join__field(graph: LISTINGS)
  realtor: User! @join__field(graph: LISTINGS)
}

type Money
  @join__type(graph: LISTINGS)
{
  amount: Int!
  currency: String!
}

type Tour
  @join__type(graph: MEDIA, key: "id")
  @join__type(graph: SCHEDULING, key: "id")
{
  id: ID!
  status: String! @join__field(graph: SCHEDULING)
  startsAt: String! @join__field(graph: SCHEDULING)
  listing: Listing! @join__field(graph: SCHEDULING)
  buyer: User! @join__field(graph: SCHEDULING)
  meeting: Meeting @join__field(graph: MEDIA)
}

type Meeting
  @join__type(graph: MEDIA)
{
  joinUrl: String!
}
"""


def supergraph_sdl(base: str) -> str:
    return SUPERGRAPH.replace("BASE", base)


# The operations ---------------------------------------------------------------------------

ONE_SUBGRAPH = 'query Listing { listing(id: "l1") { id title price { amount currency } } }'
TOUR_PAGE = """query TourPage {
  tour(id: "t1") {
    id status startsAt
    listing { title price { amount currency } realtor { displayName } }
    buyer { displayName }
    meeting { joinUrl }
  }
}"""
DIRECT_ROOT = '{ tour(id: "t1") { __typename id status startsAt listing { __typename id } buyer { __typename id } } }'
DIRECT_LISTING = (
    "query($r: [_Any!]!) { _entities(representations: $r) "
    "{ ... on Listing { title price { amount currency } realtor { __typename id } } } }"
)
DIRECT_USER = (
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { displayName } } }"
)
DIRECT_MEETING = (
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on Tour { meeting { joinUrl } } } }"
)


# Measuring --------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    clients: int
    count: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rps(self) -> float:
        return self.count / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<34} clients={self.clients:<3} n={self.count:<5} rps={self.rps:8.0f}  "
            f"p50={self.percentile(50):6.2f} ms  p95={self.percentile(95):6.2f} ms  "
            f"p99={self.percentile(99):6.2f} ms  failures={self.failures}"
        )


async def measure(
    name: str, call: Callable[[], Awaitable[bool]], clients: int, total: int
) -> Result:
    """Run `call` `total` times from `clients` concurrent loops, within the time budget."""
    for _ in range(min(200, total)):
        await call()
    latencies: list[float] = []
    failures = 0
    remaining = total
    deadline = time.perf_counter() + TIME_BUDGET

    async def worker() -> None:
        nonlocal remaining, failures
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            started = time.perf_counter()
            ok = await call()
            latencies.append(time.perf_counter() - started)
            if not ok:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return Result(name, clients, len(latencies), time.perf_counter() - started, latencies, failures)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


async def _wait_ready(session: Any, url: str, body: dict[str, Any] | None, process: Any) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if body is None:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            else:
                async with session.post(url, json=body) as response:
                    if response.status == 200:
                        return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def run_benchmarks(tmp: Path) -> list[Result]:
    import aiohttp

    sub_port, gw_port = _free_port(), _free_port()
    base = f"http://{HOST}:{sub_port}"
    supergraph = tmp / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl(base))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    gateway_env = {
        **env,
        "GATEWAY_HOST": HOST,
        "GATEWAY_PORT": str(gw_port),
        "GATEWAY_SUPERGRAPH_PATH": str(supergraph),
        "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
        "GATEWAY_RATE_LIMIT_BURST": "1000000",
        "GATEWAY_RELOAD_INTERVAL": "1",
        "GATEWAY_LOOP": os.environ.get("BENCH_GATEWAY_LOOP", "auto"),
        "LOG_LEVEL": "WARNING",
    }
    gateway_env.pop("REDIS_URL", None)
    gateway_env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    serve_subgraphs = [sys.executable, __file__, "serve-subgraphs", str(sub_port)]
    results: list[Result] = []
    with (
        _process(serve_subgraphs, env) as subgraphs,
        _process([sys.executable, "-m", "gateway"], gateway_env) as gateway,
    ):
        connector = aiohttp.TCPConnector(limit=CONCURRENCY, keepalive_timeout=60)
        async with aiohttp.ClientSession(connector=connector) as session:
            await _wait_ready(
                session, f"{base}/identity", {"query": '{ user(id: "u1") { id } }'}, subgraphs
            )
            await _wait_ready(session, f"http://{HOST}:{gw_port}/health", None, gateway)
            gateway_url = f"http://{HOST}:{gw_port}/graphql"

            async def post(url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
                body = {"query": query, "variables": variables} if variables else {"query": query}
                async with session.post(url, json=body) as response:
                    payload = await response.json(content_type=None)
                    return payload if response.status == 200 else None

            async def via_gateway(query: str) -> bool:
                payload = await post(gateway_url, query)
                return bool(payload) and "errors" not in payload

            async def direct_one() -> bool:
                payload = await post(f"{base}/listings", ONE_SUBGRAPH)
                return bool(payload) and "errors" not in payload

            async def direct_tour_page() -> bool:
                root = await post(f"{base}/scheduling", DIRECT_ROOT)
                tour = root["data"]["tour"]
                listing, buyer, meeting = await asyncio.gather(
                    post(f"{base}/listings", DIRECT_LISTING, {"r": [tour["listing"]]}),
                    post(f"{base}/identity", DIRECT_USER, {"r": [tour["buyer"]]}),
                    post(
                        f"{base}/media",
                        DIRECT_MEETING,
                        {"r": [{"__typename": "Tour", "id": tour["id"]}]},
                    ),
                )
                realtor = listing["data"]["_entities"][0]["realtor"]
                user = await post(f"{base}/identity", DIRECT_USER, {"r": [realtor]})
                return all(p and "errors" not in p for p in (listing, buyer, meeting, user))

            check = await post(gateway_url, TOUR_PAGE)
            assert check == {
                "data": {
                    "tour": {
                        "id": "t1",
                        "status": "SCHEDULED",
                        "startsAt": "2026-12-01T10:00:00Z",
                        "listing": {
                            "title": "Sunny loft",
                            "price": {"amount": 45_000_000, "currency": "USD"},
                            "realtor": {"displayName": "Ada Realtor"},
                        },
                        "buyer": {"displayName": "Bo Buyer"},
                        "meeting": {"joinUrl": "https://meet.example/t1"},
                    }
                }
            }, check
            scenarios: list[tuple[str, Callable[[], Awaitable[bool]]]] = [
                ("(a) one subgraph, direct", direct_one),
                ("(a) one subgraph, via gateway", lambda: via_gateway(ONE_SUBGRAPH)),
                ("(b) tour page, direct calls", direct_tour_page),
                ("(b) tour page, via gateway", lambda: via_gateway(TOUR_PAGE)),
            ]
            for name, call in scenarios:
                results.append(await measure(name, call, CONCURRENCY, REQUESTS))
            for name, call in scenarios:
                results.append(await measure(name, call, 1, SERIAL_REQUESTS))
    return results


def report(results: list[Result]) -> None:
    print()
    print(
        f"gateway benchmark ({os.cpu_count()} cores; load generator, gateway and subgraphs share them)"
    )
    for result in results:
        print("  " + result.line())
    by = {(r.name, r.clients): r for r in results}
    for label, direct, gateway in (
        ("(a)", "(a) one subgraph, direct", "(a) one subgraph, via gateway"),
        ("(b)", "(b) tour page, direct calls", "(b) tour page, via gateway"),
    ):
        serial = by[(gateway, 1)].percentile(50) - by[(direct, 1)].percentile(50)
        loaded = by[(gateway, CONCURRENCY)].percentile(50) - by[(direct, CONCURRENCY)].percentile(
            50
        )
        print(
            f"  gateway overhead {label}: p50 +{serial:.2f} ms with one client, "
            f"+{loaded:.2f} ms at {CONCURRENCY} clients"
        )


# The gateway's own CPU time per request, without network or other processes ----------------


class _MemoryTransport:
    """Calls the in-memory subgraphs' ASGI app directly: no sockets, no other process."""

    def __init__(self) -> None:
        self._app = subgraphs_app()

    async def fetch(
        self, subgraph: str, query: str, variables: Any, ctx: Any, *, idempotent: bool = False
    ) -> dict[str, Any]:
        import orjson

        body = orjson.dumps(
            {"query": query, "variables": variables} if variables else {"query": query}
        )
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message["body"])

        await self._app({"type": "http", "path": f"/{subgraph}"}, receive, send)
        answer: dict[str, Any] = orjson.loads(chunks[0])
        return answer

    def subscribe(self, *args: Any) -> Any:
        raise TypeError("the in-process benchmark transport measures queries only")

    async def close(self) -> None:
        return None


class _ConstantEngine:
    async def execute(self, request: Any, ctx: Any) -> dict[str, Any]:
        return {"data": {"listing": {"id": "l1"}}}

    async def subscribe(self, request: Any, ctx: Any) -> dict[str, Any]:
        return {"errors": []}


async def cpu_per_request(
    tmp: Path, query: str, *, constant_engine: bool, count: int = 2000
) -> float:
    """Microseconds of this process's CPU per request through the ASGI app (server + engine)."""
    import orjson
    from gateway.app import build_app
    from gateway.engine import FederatedEngine
    from gateway.reload import Built
    from gateway.settings import GatewaySettings
    from gateway.supergraph import Supergraph

    async def factory(sdl: str) -> Built:
        async def close() -> None:
            return None

        if constant_engine:
            return Built(_ConstantEngine(), close)
        return Built(FederatedEngine(Supergraph.parse(sdl), _MemoryTransport()), close)

    path = tmp / "cpu-supergraph.graphql"
    path.write_text(supergraph_sdl("http://127.0.0.1:9"))
    settings = GatewaySettings(
        supergraph_path=path, reload_interval=0, rate_limit_per_second=1e9, rate_limit_burst=10**9
    )
    app = build_app(settings, engine_factory=factory, verifier=None, redis=None, bus=None)
    body = orjson.dumps({"query": query})
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:4000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"application/graphql-response+json"),
        ],
        "client": ("127.0.0.1", 50000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200

    async with app.router.lifespan_context(app):
        for _ in range(300):
            await app(dict(scope), receive, send)
        started = time.process_time()
        for _ in range(count):
            await app(dict(scope), receive, send)
        return (time.process_time() - started) / count * 1e6


def report_cpu(tmp: Path) -> None:
    from servicekit.telemetry import setup_telemetry

    # As `python -m gateway` does: an SDK tracer provider (no exporter unless configured).
    setup_telemetry("gateway")

    async def run() -> list[tuple[str, float]]:
        return [
            (
                "server layer alone (constant engine)",
                await cpu_per_request(tmp, ONE_SUBGRAPH, constant_engine=True),
            ),
            (
                "(a) one subgraph, server + engine",
                await cpu_per_request(tmp, ONE_SUBGRAPH, constant_engine=False),
            ),
            (
                "(b) tour page, server + engine",
                await cpu_per_request(tmp, TOUR_PAGE, constant_engine=False),
            ),
        ]

    print("gateway CPU per request, in process (subgraphs answered in memory, no sockets):")
    for name, micros in asyncio.run(run()):
        print(f"  {name:<40} {micros:8.1f} µs")


def bench_gateway_cpu_per_request(tmp_path: Path) -> None:
    # A process of its own, where `gateway` imports as the installed package.
    done = subprocess.run(
        [sys.executable, __file__, "cpu", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    print()
    print(done.stdout, end="")
    assert done.returncode == 0, done.stderr[-3000:]


def bench_gateway_overhead(tmp_path: Path) -> None:
    results = asyncio.run(run_benchmarks(tmp_path))
    report(results)
    assert all(result.failures == 0 for result in results), [r.line() for r in results]


def _serve_subgraphs(port: int) -> None:
    import uvicorn

    uvicorn.run(
        subgraphs_app(), host=HOST, port=port, log_level="warning", access_log=False, lifespan="off"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve-subgraphs":
        _serve_subgraphs(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "cpu":
        report_cpu(Path(sys.argv[2]))
    else:
        print("usage: bench_gateway.py serve-subgraphs PORT | cpu DIR  (or run `make bench`)")
        sys.exit(2)
