"""The race: our gateway side by side with Apollo Gateway and Hive Gateway.

Four subgraphs of the classic federation shape (accounts, products, inventory, reviews),
written here and served from memory by one uvicorn process (answers memoised by request
body, so a fetch costs the subgraph process a few tens of microseconds and the subgraphs
are not what is measured), composed into one supergraph by our composer. Each gateway
runs as one process on its own port: ours (`python -m gateway`, one worker, coalescing on
as configured by default, and once more with `GATEWAY_COALESCE=false`), Apollo Gateway
(`@apollo/gateway` + `@apollo/server`, `race/apollo.mjs`) and Hive Gateway
(`hive-gateway supergraph`, one fork). The Node gateways are installed by this bench with
`npm ci` from the pinned `race/package.json` + `package-lock.json` into `.tools/race`
(ignored by git); without npm, or when the install fails, the bench says so and skips.

Three operations: a heavy one (top products with their inventory, which `@requires` price
and weight, and their reviews with each author: two entity hops, three subgraphs after
the root), a light one (`me`, one subgraph) and `deep`, the public gateway benchmark's
nested query (users and top products down through reviews, products, authors and their
reviews again: three waves of entity fetches, a ~60 KiB answer); `BENCH_RACE_QUERIES`
(default `heavy,light,deep`) picks them, `BENCH_RACE_GATEWAYS` (names as printed, separated by
`;`, e.g. `ours, no coalescing;Hive Gateway`; default all) the gateways. Rounds alternate between the gateways
(`BENCH_RACE_ROUNDS`, each `BENCH_RACE_SECONDS` per gateway and operation after
`BENCH_RACE_WARM_UP_SECONDS` of the same load unmeasured, at
`BENCH_CONCURRENCY` clients from an aiohttp load generator in this process); for each
gateway and operation the best round is printed with requests/s, p50/p99 and the
gateway's CPU time per request (its process tree's user+system time over the round,
read from /proc, divided by the requests answered). Wall-clock figures move with
whatever else the machine runs; CPU per request moves less.

Run with `make bench` (or `python gateway/bench/bench_race.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The gateway's project folder first: collected from the repository root, `gateway` has
# already been imported as that folder (a namespace package without the code), so that
# stand-in is dropped and the package imported from where it lives.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if getattr(sys.modules.get("gateway"), "__file__", "") is None:
    del sys.modules["gateway"]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from memoized import memoized_subgraphs

HOST = "127.0.0.1"
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "50"))
ROUNDS = int(os.environ.get("BENCH_RACE_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_RACE_SECONDS", "4"))
WARM_UP = float(os.environ.get("BENCH_RACE_WARM_UP_SECONDS", "1.5"))
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INSTALL = REPO / ".tools" / "race"

# The subgraphs ----------------------------------------------------------------------------

FEDERATION = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable", "@external", "@requires", "@provides"])\n'
)
FEDERATED_SDL = {
    "accounts": FEDERATION + "type Query { me: User  users: [User] }\n"
    'type User @key(fields: "id") { id: ID!  name: String  username: String @shareable }\n',
    "products": FEDERATION + "type Query { topProducts(first: Int = 5): [Product] }\n"
    'type Product @key(fields: "upc") { upc: String!  name: String  price: Int  weight: Int }\n',
    "inventory": FEDERATION + 'type Product @key(fields: "upc") {\n'
    "  upc: String!  weight: Int @external  price: Int @external  inStock: Boolean\n"
    '  shippingEstimate: Int @requires(fields: "price weight")\n}\n',
    "reviews": FEDERATION + 'type Review @key(fields: "id") {\n'
    '  id: ID!  body: String  author: User @provides(fields: "username")  product: Product\n}\n'
    'type User @key(fields: "id") { id: ID!  username: String @external  reviews: [Review] }\n'
    'type Product @key(fields: "upc") { upc: String!  reviews: [Review] }\n',
}
# What each subgraph executes (graphql-core): the same types without federation directives.
EXECUTABLE_SDL = {
    "accounts": "type Query { me: User  users: [User] }\ntype User { id: ID!  name: String  username: String }",
    "products": "type Query { topProducts(first: Int = 5): [Product] }\n"
    "type Product { upc: String!  name: String  price: Int  weight: Int }",
    "inventory": "type Query { _unused: Int }\n"
    "type Product { upc: String!  weight: Int  price: Int  inStock: Boolean  shippingEstimate: Int }",
    "reviews": "type Query { _unused: Int }\n"
    "type Review { id: ID!  body: String  author: User  product: Product }\n"
    "type User { id: ID!  username: String  reviews: [Review] }\n"
    "type Product { upc: String!  reviews: [Review] }",
}
ENTITY_TYPES = {
    "accounts": "User",
    "products": "Product",
    "inventory": "Product",
    "reviews": "User | Product | Review",
}

USERS = {str(n): {"id": str(n), "name": f"User {n}", "username": f"user{n}"} for n in range(1, 11)}
PRODUCTS = [
    {"upc": str(n), "name": f"Product {n}", "price": 100 * n, "weight": 10 + n} for n in range(1, 6)
]
REVIEWS = [
    {
        "id": f"{p}-{r}",
        "body": f"Review {r} of product {p}: a fair amount of text to carry back and forth.",
        "author": str((p * 4 + r) % 10 + 1),
        "product": str(p),
    }
    for p in range(1, 6)
    for r in range(4)
]

HEAVY = """query Heavy {
  topProducts(first: 5) {
    upc name price weight inStock shippingEstimate
    reviews { id body author { id username name } }
  }
}"""
LIGHT = "query Light { me { id username name } }"
# The public gateway benchmark's nested query (graphql-gateways-benchmark): users and top
# products, each down through reviews, their products or authors, and those authors'
# reviews again: five levels of entity hops across accounts, reviews, products and
# inventory, and a large answer (~400 objects from these data).
DEEP = """fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }
query Deep {
  users {
    ...User
    reviews {
      ...Review
      product {
        ...Product
        reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } }
      }
    }
  }
  topProducts {
    ...Product
    reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } }
  }
}"""
QUERIES = {
    label: query
    for label, query in {"heavy": HEAVY, "light": LIGHT, "deep": DEEP}.items()
    if label in os.environ.get("BENCH_RACE_QUERIES", "heavy,light,deep").split(",")
}


def _review(review: dict[str, Any]) -> dict[str, Any]:
    """A review as the reviews subgraph resolves it; its author's and product's own
    reviews (fields of the same subgraph) are resolved when selected (graphql-core calls
    a callable value)."""
    author = USERS[review["author"]]
    upc = review["product"]
    return {
        "__typename": "Review",
        "id": review["id"],
        "body": review["body"],
        "author": {
            "__typename": "User",
            "id": author["id"],
            "username": author["username"],
            "reviews": lambda _info: [_review(r) for r in REVIEWS if r["author"] == author["id"]],
        },
        "product": {
            "__typename": "Product",
            "upc": upc,
            "reviews": lambda _info: [_review(r) for r in REVIEWS if r["product"] == upc],
        },
    }


def _entity(subgraph: str, rep: dict[str, Any]) -> dict[str, Any] | None:
    kind = rep.get("__typename")
    if subgraph == "accounts" and kind == "User":
        return {"__typename": "User", **USERS[rep["id"]]}
    if subgraph == "products" and kind == "Product":
        found = next((p for p in PRODUCTS if p["upc"] == rep["upc"]), None)
        return {"__typename": "Product", **found} if found else None
    if subgraph == "inventory" and kind == "Product":
        price, weight = rep.get("price") or 0, rep.get("weight") or 0
        return {
            "__typename": "Product",
            "upc": rep["upc"],
            "inStock": int(rep["upc"]) % 2 == 1,
            "shippingEstimate": price * weight // 1000,
        }
    if subgraph == "reviews" and kind == "Product":
        mine = [_review(r) for r in REVIEWS if r["product"] == rep["upc"]]
        return {"__typename": "Product", "upc": rep["upc"], "reviews": mine}
    if subgraph == "reviews" and kind == "User":
        mine = [_review(r) for r in REVIEWS if r["author"] == rep["id"]]
        return {"__typename": "User", "id": rep["id"], "reviews": mine}
    if subgraph == "reviews" and kind == "Review":
        found = next((r for r in REVIEWS if r["id"] == rep["id"]), None)
        return _review(found) if found else None
    return None


def subgraphs_app() -> Any:
    """One ASGI app serving the four subgraphs at /<name>; answers memoised by body."""
    from graphql import GraphQLUnionType, build_schema

    schemas = {}
    for name, sdl in EXECUTABLE_SDL.items():
        schema = build_schema(
            sdl
            + f"\nscalar _Any\nunion _Entity = {ENTITY_TYPES[name]}\n"
            + "type _Service { sdl: String }\n"
            + "extend type Query { _entities(representations: [_Any!]!): [_Entity]!"
            + "  _service: _Service! }\n"
        )
        union = schema.type_map["_Entity"]
        assert isinstance(union, GraphQLUnionType)
        union.resolve_type = lambda obj, *_: obj["__typename"]
        query = schema.query_type
        assert query is not None
        query.fields["_entities"].resolve = lambda _r, _i, representations, name=name: [
            _entity(name, rep) for rep in representations
        ]
        query.fields["_service"].resolve = lambda *_, name=name: {"sdl": FEDERATED_SDL[name]}
        if name == "accounts":
            query.fields["me"].resolve = lambda *_: {"__typename": "User", **USERS["1"]}
            query.fields["users"].resolve = lambda *_: [
                {"__typename": "User", **user} for user in USERS.values()
            ]
        if name == "products":
            query.fields["topProducts"].resolve = lambda _r, _i, first=5: [
                {"__typename": "Product", **p} for p in PRODUCTS[:first]
            ]
        schemas[name] = schema
    return memoized_subgraphs(schemas)


def supergraph_sdl(base: str) -> str:
    from gateway.compose import SubgraphSource, compose

    return compose(
        [SubgraphSource(name, f"{base}/{name}", sdl) for name, sdl in FEDERATED_SDL.items()]
    )


# The contenders ---------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    args: list[str]
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    rounds: dict[str, list[Round]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"


@dataclass
class Round:
    rps: float
    p50: float
    p99: float
    cpu_ms: float
    requests: int
    failures: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def install_node_gateways() -> str | None:
    """`npm ci` the pinned gateways into .tools/race; the reason when that is not possible."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed: the Node gateways cannot be raced"
    INSTALL.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "apollo.mjs"):
        shutil.copyfile(HERE / "race" / name, INSTALL / name)
    marker = INSTALL / "node_modules" / ".installed-lock"
    lock = (HERE / "race" / "package-lock.json").read_bytes()
    if marker.exists() and marker.read_bytes() == lock:
        return None
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=INSTALL,
        capture_output=True,
        timeout=900,
    )
    if done.returncode != 0:
        return f"npm ci failed: {done.stderr.decode()[-800:]}"
    marker.write_bytes(lock)
    return None


def contenders(supergraph: Path, with_node: bool) -> list[Contender]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NODE_ENV": "production"}
    for name in ("REDIS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        env.pop(name, None)
    ours = {
        **env,
        "GATEWAY_HOST": HOST,
        "GATEWAY_SUPERGRAPH_PATH": str(supergraph),
        "GATEWAY_WORKERS": "1",
        "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "GATEWAY_RELOAD_INTERVAL": "0",
        "GATEWAY_RESPONSE_CACHE": "false",
        "GATEWAY_MAX_IN_FLIGHT": "0",
        "LOG_LEVEL": "WARNING",
    }
    found = []
    port = _free_port()
    found.append(
        Contender(
            "ours", [sys.executable, "-m", "gateway"], {**ours, "GATEWAY_PORT": str(port)}, port
        )
    )
    port = _free_port()
    found.append(
        Contender(
            "ours, no coalescing",
            [sys.executable, "-m", "gateway"],
            {**ours, "GATEWAY_PORT": str(port), "GATEWAY_COALESCE": "false"},
            port,
        )
    )
    if with_node:
        port = _free_port()
        found.append(
            Contender(
                "Apollo Gateway",
                ["node", str(INSTALL / "apollo.mjs"), str(supergraph), str(port)],
                env,
                port,
            )
        )
        port = _free_port()
        found.append(
            Contender(
                "Hive Gateway",
                [
                    str(INSTALL / "node_modules" / ".bin" / "hive-gateway"),
                    "supergraph",
                    str(supergraph),
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--fork",
                    "1",
                ],
                env,
                port,
            )
        )
    wanted = os.environ.get("BENCH_RACE_GATEWAYS")
    if wanted:
        names = {name.strip() for name in wanted.split(";")}
        found = [contender for contender in found if contender.name in names]
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += times.get(current, 0.0)
        stack.extend(children.get(current, []))
    return total


@contextlib.contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


# The race ---------------------------------------------------------------------------------


async def _ready(session: Any, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            async with session.post(url, json={"query": LIGHT}) as response:
                if response.status == 200 and "data" in await response.json(content_type=None):
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up: {log.read_text()[-2000:]}")


async def _spin(call: Any, deadline: float) -> None:
    while time.perf_counter() < deadline:
        with contextlib.suppress(Exception):
            await call()


async def race_round(session: Any, contender: Contender, query: str) -> Round:
    body = {"query": query}
    expected: Any = None

    async def once() -> bool:
        async with session.post(contender.url, json=body) as response:
            payload = await response.json(content_type=None)
            return response.status == 200 and "errors" not in payload and payload == expected

    async with session.post(contender.url, json=body) as response:
        expected = await response.json(content_type=None)
    assert contender.process is not None
    latencies: list[float] = []
    failures = 0
    # Warm up at full concurrency (plans, connections, the Node JIT), then measure.
    deadline = time.perf_counter() + WARM_UP
    await asyncio.gather(*(_spin(once, deadline) for _ in range(CONCURRENCY)))
    deadline = time.perf_counter() + SECONDS

    async def client() -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                ok = await once()
            except Exception:
                ok = False
            latencies.append(time.perf_counter() - started)
            failures += not ok

    cpu = tree_cpu_seconds(contender.process.pid)
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    cpu = tree_cpu_seconds(contender.process.pid) - cpu
    ordered = sorted(latencies)
    count = len(ordered)
    return Round(
        rps=count / elapsed,
        p50=ordered[count // 2] * 1000,
        p99=ordered[min(count - 1, int(count * 0.99))] * 1000,
        cpu_ms=cpu / max(1, count) * 1000,
        requests=count,
        failures=failures,
    )


async def race(tmp: Path, with_node: bool) -> list[Contender]:
    import aiohttp

    sub_port = _free_port()
    base = f"http://{HOST}:{sub_port}"
    supergraph = tmp / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl(base))
    field_list = contenders(supergraph, with_node)
    with contextlib.ExitStack() as stack:
        sub_log = tmp / "subgraphs.log"
        subgraphs = stack.enter_context(
            running(
                [sys.executable, __file__, "serve-subgraphs", str(sub_port)],
                dict(os.environ),
                sub_log,
            )
        )
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2, keepalive_timeout=60)
        async with aiohttp.ClientSession(connector=connector) as session:
            await _ready(session, f"{base}/accounts", subgraphs, sub_log)
            for contender in field_list:
                log = tmp / f"{contender.port}.log"
                contender.process = stack.enter_context(running(contender.args, contender.env, log))
                await _ready(session, contender.url, contender.process, log)
            for number in range(ROUNDS):
                order = (
                    field_list[number % len(field_list) :] + field_list[: number % len(field_list)]
                )
                for contender in order:
                    for label, query in QUERIES.items():
                        result = await race_round(session, contender, query)
                        contender.rounds.setdefault(label, []).append(result)
    return field_list


def report(field_list: list[Contender]) -> None:
    print()
    print(
        f"gateway race: {CONCURRENCY} clients, best of {ROUNDS} alternated rounds of "
        f"{SECONDS:.0f} s; one process per gateway; load generator, subgraphs and "
        f"gateways share {os.cpu_count()} cores (wall-clock figures are noisy)"
    )
    for label, query in QUERIES.items():
        print(f"  {label}: {query.split('query ', 1)[1].split()[0]}")
        best = {c.name: max(c.rounds[label], key=lambda r: r.rps) for c in field_list}
        baseline = best.get("Apollo Gateway")
        for name, result in best.items():
            ratio = f"  {result.rps / baseline.rps:4.1f}x Apollo" if baseline else ""
            print(
                f"    {name:<22} rps={result.rps:7.0f}  p50={result.p50:7.2f} ms  "
                f"p99={result.p99:7.2f} ms  cpu/request={result.cpu_ms:6.3f} ms  "
                f"n={result.requests:<6} failures={result.failures}{ratio}"
            )


def bench_race() -> None:
    import pytest

    reason = install_node_gateways()
    if reason is not None:
        print(f"\ngateway race: racing our gateway alone ({reason})")
    with tempfile.TemporaryDirectory() as tmp:
        field_list = asyncio.run(race(Path(tmp), with_node=reason is None))
    report(field_list)
    if reason is not None:
        pytest.skip(reason)


def _serve_subgraphs(port: int) -> None:
    import uvicorn

    uvicorn.run(
        subgraphs_app(),
        host=HOST,
        port=port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve-subgraphs":
        _serve_subgraphs(int(sys.argv[2]))
    else:
        bench_race()
