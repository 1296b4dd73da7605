"""The listings service as its own process, the way production runs it, for the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx


@contextlib.asynccontextmanager
async def listings_process(env: dict[str, str], port: int, log_path: Path) -> AsyncIterator[str]:
    """`python -m listings` with `env`, yielded as its base URL once `/healthz` answers."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "listings"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
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
            yield base
        finally:
            process.terminate()
            process.wait(10)
