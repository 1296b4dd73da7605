"""The listings service as its own process, the way production runs it, for the benchmarks.

In production mode the service runs one process per core (the first starts the others,
all on one port), so what it costs is the CPU of that whole tree of processes
(`tree_cpu_seconds`), read from `/proc`: a counter the service reports itself
(`/metrics`) belongs to whichever process took the connection, and two readings from two
processes subtract to nonsense.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2 :].split()  # the fields after "(comm)", from state on


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process `root` and every process below it (alive now)."""
    parents: dict[int, int] = {}
    fields: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                found = _stat(int(entry))
                parents[int(entry)] = int(found[1])
                fields[int(entry)] = found
    tree = {root}
    grew = True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        grew = bool(below)
        tree |= below
    # utime and stime are fields 14 and 15 of stat: 11 and 12 after the state field
    ticks = sum(int(fields[pid][11]) + int(fields[pid][12]) for pid in tree if pid in fields)
    return ticks / TICKS


@contextlib.asynccontextmanager
async def listings_process(
    env: dict[str, str],
    port: int,
    log_path: Path,
    *,
    pid: list[int] | None = None,
    processes: int = 1,
) -> AsyncIterator[str]:
    """`python -m listings` with `env`, yielded as its base URL once `/healthz` answers and
    all its `processes` serve (the first starts the others once built: measuring before
    would count their start-up as requests' CPU and send every request to the first); its
    process id appended to `pid` when given."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "listings"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if pid is not None:
            pid.append(process.pid)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(timeout=1) as probe:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await probe.get(f"{base}/healthz")).status_code == 200:
                            break
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"listings did not start:\n{log_path.read_text()}")
                    await asyncio.sleep(0.2)
            while log_path.read_text().count("Started server process") < processes:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"listings did not start:\n{log_path.read_text()}")
                await asyncio.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(10)
