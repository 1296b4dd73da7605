"""Runs a service: HTTP (uvicorn), gRPC and background workers, until signalled.

A service's `app.py` builds a `Runtime` from its settings (the composition root) and calls
`run(build)`. SIGINT/SIGTERM stop everything in order: stop taking requests, let gRPC calls
drain, cancel workers, then close the service's own resources.

Every process runs on uvloop (the asyncio loop written on libuv: cheaper I/O and callbacks,
the largest share of a light request's CPU after the framework). A service configured for
several processes (`Runtime.processes`) starts the others itself once it is built (so
migrations have run, once): they run the same command, share the HTTP and gRPC ports through
`SO_REUSEPORT` (the kernel spreads connections over them) and are stopped with the first.
Which of them runs the background work is decided by `servicekit.leadership`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import uvicorn
import uvloop
from starlette.types import ASGIApp

from servicekit.collector import tune_collector
from servicekit.grpc import GrpcServer

# Idle kept-alive connections stay open longer than any caller keeps them pooled — the
# gateway's client, and the AWS load balancer in front of the public pages (120 s idle) —
# so a reused connection is never closed under a request already on its way (a 502).
HTTP_KEEP_ALIVE_SECONDS = 130

log = logging.getLogger(__name__)

Worker = Callable[[], Coroutine[Any, Any, None]]

# Set in the processes a service starts besides its first: their index (1, 2, ...).
PROCESS_INDEX_ENV = "SERVICEKIT_PROCESS_INDEX"


@dataclass
class Runtime:
    name: str
    http_app: ASGIApp
    http_host: str
    http_port: int
    grpc: GrpcServer | None = None
    workers: list[Worker] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Processes serving this service on the same ports (the first starts the others).
    processes: int = 1
    # The cyclic collector's young threshold once built (servicekit.collector); 0: defaults.
    gc_young_threshold: int = 0
    # sys.setswitchinterval, in milliseconds (servicekit.settings).
    gil_switch_interval_ms: float = 5.0


async def supervise(name: str, worker: Worker) -> None:
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


def listening_socket(host: str, port: int, *, shared: bool) -> socket.socket:
    """The HTTP socket; `shared` lets other processes bind the same port (SO_REUSEPORT)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(False)
    return sock


async def serve(runtime: Runtime) -> None:
    if runtime.processes > 1 and runtime.http_port == 0:
        raise ValueError("several processes share a port: give the service a fixed HTTP port")
    sock = listening_socket(runtime.http_host, runtime.http_port, shared=runtime.processes > 1)
    if runtime.grpc is not None:
        await runtime.grpc.start()
    tasks = [
        asyncio.create_task(supervise(getattr(w, "__qualname__", repr(w)), w), name=runtime.name)
        for w in runtime.workers
    ]
    config = uvicorn.Config(
        runtime.http_app,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",
        timeout_keep_alive=HTTP_KEEP_ALIVE_SECONDS,
    )
    server = uvicorn.Server(config)
    log.info("%s listening on http://%s:%d", runtime.name, runtime.http_host, runtime.http_port)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
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


def _die_with_parent() -> None:
    """In a started process: receive SIGTERM when the first process dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Siblings:
    """The other processes of this service, started and kept running by the first."""

    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.count = count
        self._stopping = False
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    def _start(self, index: int) -> None:
        env = {**os.environ, PROCESS_INDEX_ENV: str(index)}
        self._procs[index] = subprocess.Popen(sys.orig_argv, env=env, preexec_fn=_die_with_parent)

    async def keep_running(self) -> None:
        """Start each sibling, and start again one that exits while the service runs."""
        for index in range(1, self.count + 1):
            self._start(index)
        while not self._stopping:
            await asyncio.sleep(1.0)
            for index, proc in list(self._procs.items()):
                if proc.poll() is not None and not self._stopping:
                    log.warning(
                        "%s process %d exited (%s); starting it again",
                        self.name,
                        index,
                        proc.returncode,
                    )
                    self._start(index)

    async def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs.values():
            try:
                await asyncio.to_thread(proc.wait, timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)


def run(build: Callable[[], Awaitable[Runtime]]) -> None:
    """Entry point of a service process (on uvloop); the first process starts its siblings."""
    first = os.environ.get(PROCESS_INDEX_ENV) is None

    async def main() -> None:
        runtime = await build()
        tune_collector(runtime.gc_young_threshold)  # what was built is frozen
        sys.setswitchinterval(runtime.gil_switch_interval_ms / 1000)
        siblings = Siblings(runtime.name, runtime.processes - 1) if first else None
        keeper = None
        if siblings is not None and siblings.count > 0:
            keeper = asyncio.create_task(siblings.keep_running())
        try:
            await serve(runtime)
        finally:
            if siblings is not None and keeper is not None:
                await siblings.stop()
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)

    uvloop.run(main())
