"""`joinTour` through the gateway, as `make dev` runs the stack: every service, the gateway,
the Chime SDK emulator (throttling off) and the AWS emulator (moto: the SQS queue of Chime's
events, S3) each a process of its own. 50 people — a buyer and a realtor per tour — join 25
confirmed tours at once, then the same devices join again. Prints p50/p95, Chime calls per
join (by operation) and the CPU each process spent per join; fails only when a join fails.
Target: p95 under 150 ms on this machine.

The clients (this process) are as lean as a load generator's: aiohttp on kept-alive
connections, the request bodies encoded before the clock starts. Every process shares the
machine's two cores, the emulators standing in for AWS included, so their CPU is printed too;
moto runs at a lower priority (`BENCH_MOTO_NICE`, see `moto`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import httpx
import orjson
import pytest
from media.settings import Settings
from servicekit.embedded import free_port, wait_for_port

from tests.e2e.conftest import EmulatorProcess, MediaStack, e2e_stack
from tests.e2e.test_media_tour import JOIN, booked_tour, join_when_open

TOURS = 25
NAME = "benchjoin"  # the stack's databases are named after it
# Rounds of repeat joins (more of them to profile a process while they run).
REPEATS = int(os.environ.get("BENCH_JOIN_REPEATS", "1"))
TICK = os.sysconf("SC_CLK_TCK")
MOTO_NICE = int(os.environ.get("BENCH_MOTO_NICE", "10"))


@dataclass
class Moto:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    """moto as `make dev` runs it: `moto_server`, a process of its own, at a lower priority
    (`BENCH_MOTO_NICE`, 10): it stands in for SQS and S3, which never take the service's
    cores in production, and at the same priority its work on the round's Chime events (a
    `SendMessageBatch` from the emulator every few joins, the receives and deletes) ran in
    place of the joins'. Niced, it runs in the cores' idle time, as near to "elsewhere" as
    one machine allows; `BENCH_MOTO_NICE=0` measures the contention."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        ["nice", "-n", str(MOTO_NICE), str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, process)
        yield Moto(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def media(
    postgres_url: str, nats_url: str, moto: Moto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MediaStack]:
    with e2e_stack(
        postgres_url=postgres_url,
        nats_url=nats_url,
        aws_endpoint=moto.url,
        data_dir=tmp_path_factory.mktemp("bench-stack"),
        name=NAME,
        emulator_process=True,
        media_pool_warm=Settings().db_pool_warm,
    ) as stack:
        yield stack


def _cpu_of(stat: Path) -> float:
    """User + system seconds of a process or thread, from its `stat` file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _database_cpu(marker: bytes) -> float:
    """CPU of the PostgreSQL backends serving the stack's databases, whose process titles
    name the database (`postgres: user benchjoin_…_media …`). Like every figure here it
    comes from 10 ms ticks, charged to whichever process was running: over 25 backends
    that each ran a millisecond or two it is a sample, not a sum."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a backend that ended between the two reads
            title = (stat.parent / "cmdline").read_bytes()
            if title.startswith(b"postgres:") and marker in title:
                total += _cpu_of(stat)
    return total


def _cpu(media: MediaStack, moto: Moto) -> dict[str, float]:
    found = {
        c.name: _cpu_of(Path(f"/proc/{c.proc.pid}/stat")) for c in media.stack.devstack.children
    }
    emulator = media.emulator
    assert isinstance(emulator, EmulatorProcess) and emulator.process is not None
    found["Chime SDK emulator"] = _cpu_of(Path(f"/proc/{emulator.process.pid}/stat"))
    found["moto (SQS, S3)"] = _cpu_of(Path(f"/proc/{moto.process.pid}/stat"))
    found["PostgreSQL (the stack's backends)"] = _database_cpu(f"{NAME}_".encode())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    found["clients (this process)"] = usage.ru_utime + usage.ru_stime
    return found


async def _timed(session: aiohttp.ClientSession, url: str, token: str, tour_id: str) -> float:
    body = orjson.dumps({"query": JOIN, "variables": {"t": tour_id}})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    began = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        answer = orjson.loads(await response.read())
    elapsed = time.perf_counter() - began
    assert response.status == 200 and "errors" not in answer, answer
    return elapsed


def _figures(name: str, seconds: list[float], calls: dict[str, int], cpu: dict[str, float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    joins = len(ms)
    by_operation = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()) if n)
    print(
        f"\n{name}: {joins} joins, p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, "
        f"max {ms[-1]:.0f} ms, {sum(calls.values()) / joins:.2f} Chime calls per join "
        f"({by_operation}); load average {os.getloadavg()[0]:.1f}"
    )
    for process, seconds_used in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"  CPU {process:<34} {seconds_used * 1000 / joins:7.2f} ms per join")


async def _quiet(media: MediaStack) -> None:
    """Until the round's Chime events are handled: media's queue empty (none waiting, none
    in flight) at three looks in a row, so the next round's figures are its own."""
    sqs = boto3.client("sqs", endpoint_url=media.emulator.aws_endpoint, region_name="us-east-1")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline, empty = time.monotonic() + 60, 0
    while empty < 3 and time.monotonic() < deadline:
        found = sqs.get_queue_attributes(QueueUrl=media.emulator.queue_url, AttributeNames=names)
        empty = empty + 1 if not any(int(found["Attributes"][n]) for n in names) else 0
        await asyncio.sleep(0.1)


async def _settled(media: MediaStack, moto: Moto) -> None:
    """Until the stack is idle — every process together under a twentieth of a core at three
    looks in a row — so the tail of the bookings' work (emails, analytics) is not charged
    to the first joins, as it would not be on the hour the tours start."""
    looks, deadline = 0, time.monotonic() + 30
    before = _cpu(media, moto)
    while looks < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = _cpu(media, moto)
        busy = sum(now[k] - before[k] for k in now if k in before and k != "clients (this process)")
        looks = looks + 1 if busy < 0.2 * 0.05 else 0
        before = now


async def _round(media: MediaStack, moto: Moto, name: str, joins: list[Any]) -> None:
    chime = media.chime
    chime.reset_calls()
    before = _cpu(media, moto)
    seconds = await asyncio.gather(*joins)
    after = _cpu(media, moto)
    calls = chime.calls()
    _figures(name, list(seconds), calls, {k: after[k] - before[k] for k in after if k in before})
    await _quiet(media)
    drained = _cpu(media, moto)
    used = {k: drained[k] - after[k] for k in drained if k in after}
    print(f"  then, handling the round's Chime events ({len(seconds)} joins):")
    for process, seconds_used in sorted(used.items(), key=lambda kv: -kv[1])[:4]:
        print(f"    CPU {process:<30} {seconds_used * 1000 / len(seconds):7.2f} ms per join")


async def bench_fifty_people_join_twenty_five_tours_through_the_gateway(
    media: MediaStack, moto: Moto
) -> None:
    url = media.stack.graphql_url
    async with httpx.AsyncClient(timeout=60) as client:
        tours: list[tuple[str, str, str, str]] = []
        for _ in range(TOURS + 1):
            tours.append(await booked_tour(client, url))
        # The last tour's confirmation reaching media says the others' have too.
        probe = tours.pop()
        await join_when_open(client, url, probe[2], probe[0])
    connector = aiohttp.TCPConnector(limit=2 * TOURS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        def everyone() -> list[Any]:
            return [
                _timed(session, url, token, tour_id)
                for tour_id, realtor, buyer, _ in tours
                for token in (buyer, realtor)
            ]

        # Connections to the gateway opened and warm, as a browser's would be.
        health = url.replace("/graphql", "/healthz")

        async def warm() -> None:
            async with session.get(health) as response:
                await response.read()

        # Warmed after the stack settles: idle keep-alive connections close after seconds.
        await _settled(media, moto)
        await asyncio.gather(*(warm() for _ in range(2 * TOURS)))
        await _round(media, moto, "first joins (25 meetings made)", everyone())
        for again in range(REPEATS):
            await _round(media, moto, f"the same devices again ({again + 1})", everyone())
