"""`joinTour` through the gateway, as the stack runs (every service a process, the Chime SDK
emulator in this one, throttling off): 50 people — a buyer and a realtor per tour — joining
25 confirmed tours at once, then the same devices joining again. Prints p50/p95, Chime calls
per join (by operation) and the CPU each process spent per join; fails only when a join
fails. Target: p95 under 150 ms on this machine.

CPU is read from `/proc` for each process of the stack; this process's is split into the
clients (its main thread) and its other threads: the emulator and the moto server its
events and media's SQS polls go to.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MediaStack, e2e_stack
from tests.e2e.test_media_tour import JOIN, booked_tour, join_when_open
from tests.flows import post

TOURS = 25
TICK = os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def media(
    postgres_url: str, nats_url: str, aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MediaStack]:
    with e2e_stack(
        postgres_url=postgres_url,
        nats_url=nats_url,
        aws_endpoint=aws_endpoint,
        data_dir=tmp_path_factory.mktemp("bench-stack"),
        name="benchjoin",
    ) as stack:
        yield stack


def _cpu_of(stat: Path) -> float:
    """User + system seconds of a process or thread, from its `stat` file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _cpu(media: MediaStack) -> dict[str, float]:
    found = {
        c.name: _cpu_of(Path(f"/proc/{c.proc.pid}/stat")) for c in media.stack.devstack.children
    }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    clients = time.thread_time()
    found["clients (bench main thread)"] = clients
    found["emulator + moto (bench threads)"] = usage.ru_utime + usage.ru_stime - clients
    return found


async def _timed(client: httpx.AsyncClient, url: str, token: str, tour_id: str) -> float:
    began = time.perf_counter()
    body = await post(client, url, JOIN, token, t=tour_id)
    elapsed = time.perf_counter() - began
    assert "errors" not in body, body
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
        print(f"  CPU {process:<32} {seconds_used * 1000 / joins:7.2f} ms per join")


async def _round(media: MediaStack, name: str, joins: list[Any]) -> None:
    chime = media.chime
    chime.reset_calls()
    before = _cpu(media)
    seconds = await asyncio.gather(*joins)
    after = _cpu(media)
    used = {k: after[k] - before[k] for k in after if k in before}
    _figures(name, list(seconds), chime.calls(), used)


async def bench_fifty_people_join_twenty_five_tours_through_the_gateway(
    media: MediaStack,
) -> None:
    url = media.stack.graphql_url
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        tours: list[tuple[str, str, str, str]] = []
        for _ in range(TOURS + 1):
            tours.append(await booked_tour(client, url))
        # The last tour's confirmation reaching media says the others' have too.
        probe = tours.pop()
        await join_when_open(client, url, probe[2], probe[0])

        def everyone() -> list[Any]:
            return [
                _timed(client, url, token, tour_id)
                for tour_id, realtor, buyer, _ in tours
                for token in (buyer, realtor)
            ]

        # Connections to the gateway opened and warm, as a browser's would be.
        await asyncio.gather(*(client.get(url.replace("/graphql", "/healthz")) for _ in range(50)))
        await _round(media, "first joins (25 meetings made)", everyone())
        await _round(media, "the same devices again", everyone())
