"""`python -m gateway` with GATEWAY_WORKERS=2: two processes on one port, a dead one replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from nats.aio.client import Client as NATS

from .federation import Traffic, subgraphs_app, supergraph
from .test_integration import serve

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


def worker_pids(parent: int) -> list[int]:
    """Live children of `parent` but multiprocessing's resource tracker (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == parent and state != "Z" and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until_workers(parent: int, count: int, url: str) -> list[int]:
    """The worker pids once `count` of them live and the gateway answers (or time out)."""
    async with asyncio.timeout(120):  # each process imports the gateway: slow on a busy machine
        async with httpx.AsyncClient() as client:
            while True:
                workers = worker_pids(parent)
                try:
                    ready = (await client.get(url + "/health")).status_code == 200
                except httpx.HTTPError:
                    ready = False
                if ready and len(workers) == count:
                    return workers
                await asyncio.sleep(0.1)


async def test_two_worker_processes_share_the_port_and_a_dead_one_is_replaced(
    tmp_path: Path,
) -> None:
    sub_server, sub_task, address = await serve(subgraphs_app(Traffic()))
    path = tmp_path / "supergraph.graphql"
    path.write_text(supergraph(f"http://{address}"))
    port = free_port()
    namespace = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "GATEWAY_WORKERS": "2",
        "GATEWAY_PORT": str(port),
        "GATEWAY_SUPERGRAPH_PATH": str(path),
        "GATEWAY_RELOAD_INTERVAL": "0",
        "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "NATS_URL": NATS_URL,
        "REALTY_BUS_NAMESPACE": namespace,
    }
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "gateway"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        parent = process.pid
        first = await until_workers(parent, 2, url)
        async with httpx.AsyncClient() as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        url + "/graphql",
                        json={"query": "{ topReviews { body author { name } } }"},
                        headers={"connection": "close"},
                    )
                    for _ in range(20)
                )
            )
        assert {a.json()["data"]["topReviews"][0]["author"]["name"] for a in answers} == {"Ada"}
        os.kill(first[0], signal.SIGKILL)
        again = await until_workers(parent, 2, url)
        assert first[0] not in again and first[1] in again
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
        sub_server.should_exit = True
        await sub_task
        nc = NATS()
        await nc.connect(NATS_URL)
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(namespace.upper()):
                await js.delete_stream(info.config.name)
        await nc.close()


def test_one_worker_per_core_in_production_capped_by_the_cgroup_quota(tmp_path: Path) -> None:
    from gateway.settings import GatewaySettings, available_cores

    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    cores = available_cores(cpu_max)
    assert cores == len(os.sched_getaffinity(0))
    cpu_max.write_text("50000 100000\n")  # half a core: one process
    assert available_cores(cpu_max) == 1
    assert available_cores(tmp_path / "absent") == cores
    assert GatewaySettings(environment="development").worker_count == 1
    assert GatewaySettings(environment="production").worker_count == available_cores()
    assert GatewaySettings(environment="production", workers=3).worker_count == 3
