"""The whole gateway process's CPU per request on the race's operations.

The race (`bench_race.py`) without the other gateways: the race's four subgraphs in one
process, our gateway as `python -m gateway` in another (one worker; coalescing, response
cache and rate limit off, so every request is executed), and an aiohttp load generator
here at `BENCH_CONCURRENCY` clients (default 50). What is printed per operation is the
gateway process's user + system CPU time over each round, read from /proc, divided by
the requests it answered: HTTP server, edge, planning look-up, subgraph client, parsing
the subgraphs' answers, merging, shaping and serialising, all of it.

`BENCH_PROCESS_BASELINE=<folder>` races a second gateway whose `gateway` package comes
from `<folder>` (a checkout's `gateway/` folder, e.g. `git archive` of an older commit)
against this one, rounds alternating, so before/after figures share the machine's load.
`BENCH_PROCESS_PYSPY=<py-spy executable>` samples the gateway during the measured rounds
and prints where its time goes (own time per function, then inclusive time of the gateway's functions; samples
taken while the gateway holds the GIL, so idle threads are left out).
`BENCH_PROCESS_QUERIES` (default `deep,heavy,light`), `BENCH_PROCESS_ROUNDS` (3),
`BENCH_PROCESS_SECONDS` (4) and `BENCH_PROCESS_WARM_UP_SECONDS` (1.5) size a run.

Run with `make bench BENCH=gateway/bench/bench_process.py`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_race import (
    DEEP,
    HEAVY,
    HOST,
    LIGHT,
    _free_port,
    _ready,
    running,
    supergraph_sdl,
    tree_cpu_seconds,
)

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "50"))
ROUNDS = int(os.environ.get("BENCH_PROCESS_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_PROCESS_SECONDS", "4"))
WARM_UP = float(os.environ.get("BENCH_PROCESS_WARM_UP_SECONDS", "1.5"))
QUERIES = {
    label: query
    for label, query in {"deep": DEEP, "heavy": HEAVY, "light": LIGHT}.items()
    if label in os.environ.get("BENCH_PROCESS_QUERIES", "deep,heavy,light").split(",")
}
BENCH_RACE = Path(__file__).resolve().parent / "bench_race.py"


@dataclass
class Gateway:
    name: str
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    sys_ms: dict[str, list[float]] = field(default_factory=dict)
    rps: dict[str, list[float]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"


def _gateway_env(supergraph: Path, port: int, package: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("REDIS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        env.pop(name, None)
    env.update(
        GATEWAY_HOST=HOST,
        GATEWAY_PORT=str(port),
        GATEWAY_SUPERGRAPH_PATH=str(supergraph),
        GATEWAY_WORKERS="1",
        GATEWAY_RATE_LIMIT_PER_SECOND="0",
        GATEWAY_RELOAD_INTERVAL="0",
        GATEWAY_RESPONSE_CACHE="false",
        GATEWAY_MAX_IN_FLIGHT="0",
        GATEWAY_COALESCE="false",
        LOG_LEVEL="WARNING",
    )
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (package, env.get("PYTHONPATH"))))
    return env


def _system_seconds(pid: int) -> float:
    """The kernel's share of a process's CPU time (its socket work, mostly)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


async def _round(session: Any, gateway: Gateway, query: str) -> tuple[float, float, float]:
    """Requests/s, CPU ms per request and its system part, of one measured round (after
    a warm-up)."""
    body = {"query": query}
    async with session.post(gateway.url, json=body) as response:
        expected = await response.json(content_type=None)
    assert "errors" not in expected, expected
    failures = 0

    async def client(deadline: float, counts: list[int]) -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            async with session.post(gateway.url, json=body) as response:
                payload = await response.read()
            counts.append(1)
            if response.status != 200 or payload.startswith(b'{"errors"'):
                failures += 1

    warm: list[int] = []
    deadline = time.perf_counter() + WARM_UP
    await asyncio.gather(*(client(deadline, warm) for _ in range(CONCURRENCY)))
    assert gateway.process is not None
    counts: list[int] = []
    cpu = tree_cpu_seconds(gateway.process.pid)
    system = _system_seconds(gateway.process.pid)
    started = time.perf_counter()
    deadline = started + SECONDS
    await asyncio.gather(*(client(deadline, counts) for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    cpu = tree_cpu_seconds(gateway.process.pid) - cpu
    system = _system_seconds(gateway.process.pid) - system
    if failures:
        raise RuntimeError(f"{gateway.name}: {failures} failed requests")
    answered = max(1, len(counts))
    return len(counts) / elapsed, cpu / answered * 1000, system / answered * 1000


def _summarise_samples(raw: Path) -> None:
    """Own time per function and inclusive time of the gateway's code, from py-spy's raw
    (collapsed stacks) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        # One entry per function: py-spy names each frame `function (file:line)`.
        frames = [frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")]
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    print(f"\n  py-spy: {total} samples of the gateway ({raw})")
    print("  own time:")
    for frame, samples in own.most_common(30):
        print(f"    {100 * samples / total:5.1f} %  {frame}")
    print("  inclusive, gateway code:")
    ours = [(f, n) for f, n in inclusive.most_common() if "gateway/" in f]
    for frame, samples in ours[:30]:
        print(f"    {100 * samples / total:5.1f} %  {frame}")


async def _run(tmp: Path) -> list[Gateway]:
    import aiohttp

    sub_port = _free_port()
    base = f"http://{HOST}:{sub_port}"
    supergraph = tmp / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl(base))
    gateways = []
    baseline = os.environ.get("BENCH_PROCESS_BASELINE")
    if baseline:
        port = _free_port()
        gateways.append(Gateway("baseline", _gateway_env(supergraph, port, baseline), port))
    port = _free_port()
    gateways.append(Gateway("this tree", _gateway_env(supergraph, port, None), port))
    pyspy = os.environ.get("BENCH_PROCESS_PYSPY")
    with contextlib.ExitStack() as stack:
        sub_log = tmp / "subgraphs.log"
        subgraphs = stack.enter_context(
            running(
                [sys.executable, str(BENCH_RACE), "serve-subgraphs", str(sub_port)],
                dict(os.environ),
                sub_log,
            )
        )
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2, keepalive_timeout=60)
        async with aiohttp.ClientSession(connector=connector) as session:
            await _ready(session, f"{base}/accounts", subgraphs, sub_log)
            for gateway in gateways:
                log = tmp / f"{gateway.port}.log"
                gateway.process = stack.enter_context(
                    running([sys.executable, "-m", "gateway"], gateway.env, log)
                )
                await _ready(session, gateway.url, gateway.process, log)
            sampler = None
            raw = Path(tempfile.gettempdir()) / "bench_process.pyspy.raw"  # kept for a closer look
            if pyspy:
                this = gateways[-1].process
                assert this is not None
                options = ["-r", "250", "-f", "raw", "--gil", "--nonblocking", "-o", str(raw)]
                sampler = subprocess.Popen(
                    [pyspy, "record", "-p", str(this.pid), *options],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            for number in range(ROUNDS):
                order = gateways[number % len(gateways) :] + gateways[: number % len(gateways)]
                for gateway in order:
                    if sampler is not None and gateway is not gateways[-1]:
                        continue
                    for label, query in QUERIES.items():
                        rps, cpu_ms, sys_ms = await _round(session, gateway, query)
                        gateway.rps.setdefault(label, []).append(rps)
                        gateway.cpu_ms.setdefault(label, []).append(cpu_ms)
                        gateway.sys_ms.setdefault(label, []).append(sys_ms)
            if sampler is not None:
                sampler.send_signal(2)
                sampler.wait(timeout=60)
                _summarise_samples(raw)
    return gateways


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_process() -> None:
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        gateways = asyncio.run(_run(Path(tmp)))
    print(
        f"\ngateway process CPU per request: {CONCURRENCY} clients, {ROUNDS} rounds of "
        f"{SECONDS:.0f} s per operation, coalescing and cache off; load average "
        f"{load_before} before, {_load()} after"
    )
    for label in QUERIES:
        for gateway in gateways:
            cpu = gateway.cpu_ms.get(label)
            if not cpu:
                continue
            print(
                f"  {label:<6} {gateway.name:<10} cpu/request median {statistics.median(cpu):6.3f}"
                f" ms, best {min(cpu):6.3f} ms ({', '.join(f'{c:.2f}' for c in cpu)}; system"
                f" {statistics.median(gateway.sys_ms[label]):.2f});"
                f"  requests/s median {statistics.median(gateway.rps[label]):6.0f}"
            )


if __name__ == "__main__":
    bench_process()
