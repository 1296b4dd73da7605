"""Runs one service process: HTTP (uvicorn), gRPC and background workers, until signalled.

A service's `app.py` builds a `Runtime` from its settings (the composition root) and calls
`run(build)`. SIGINT/SIGTERM stop everything in order: stop taking requests, let gRPC calls
drain, cancel workers, then close the service's own resources.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from servicekit.grpc import GrpcServer

log = logging.getLogger(__name__)

Worker = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Runtime:
    name: str
    http_app: ASGIApp
    http_host: str
    http_port: int
    grpc: GrpcServer | None = None
    workers: list[Worker] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def _supervise(name: str, worker: Worker) -> None:
    """Keep a worker alive: a crash is logged and the worker restarted after a pause."""
    while True:
        try:
            await worker()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s crashed; restarting in 1s", name)
            await asyncio.sleep(1.0)


async def serve(runtime: Runtime) -> None:
    if runtime.grpc is not None:
        await runtime.grpc.start()
    tasks = [
        asyncio.create_task(_supervise(getattr(w, "__qualname__", repr(w)), w), name=runtime.name)
        for w in runtime.workers
    ]
    config = uvicorn.Config(
        runtime.http_app,
        host=runtime.http_host,
        port=runtime.http_port,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",
        # Longer than callers keep idle pooled connections, so a reused connection is
        # rarely closed under a request that is already on its way.
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    log.info("%s listening on http://%s:%d", runtime.name, runtime.http_host, runtime.http_port)
    try:
        await server.serve()
    finally:
        if runtime.grpc is not None:
            await runtime.grpc.stop(grace=5.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for hook in runtime.on_shutdown:
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        log.info("%s stopped", runtime.name)


def run(build: Callable[[], Awaitable[Runtime]]) -> None:
    """Entry point of a service process."""

    async def main() -> None:
        await serve(await build())

    asyncio.run(main())
