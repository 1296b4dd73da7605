"""Supergraph hot reload: watch the file, build a new engine, swap it in atomically.

Every request leases the engine generation that is current when it starts and releases
it when it ends, so a swap never pulls an engine from under an in-flight request or a
running subscription; a retired generation's transport is closed once its last lease is
released. A file that fails to parse or build is logged and the running engine is kept;
it is not tried again until the file changes again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.metrics import GatewayMetrics
from gateway.types import Engine

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Built:
    """An engine built from one supergraph, and how to release what it holds."""

    engine: Engine
    close: Callable[[], Awaitable[None]]


EngineFactory = Callable[[str], Awaitable[Built]]


@dataclass(eq=False, slots=True)
class Generation:
    engine: Engine
    close: Callable[[], Awaitable[None]]
    fingerprint: str
    in_flight: int = 0
    retired: bool = False
    closed: bool = field(default=False)


class EngineNotLoaded(RuntimeError):
    """A request arrived before the first supergraph was loaded."""


class EngineHolder:
    """The current engine generation, leased by requests; empty until the first swap."""

    def __init__(self, first: Generation | None = None) -> None:
        self._current = first
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def loaded(self) -> Generation | None:
        return self._current

    @property
    def current(self) -> Generation:
        if self._current is None:
            raise EngineNotLoaded("no supergraph is loaded yet")
        return self._current

    def lease(self) -> Generation:
        generation = self._current
        if generation is None:
            raise EngineNotLoaded("no supergraph is loaded yet")
        generation.in_flight += 1
        return generation

    def release(self, generation: Generation) -> None:
        generation.in_flight -= 1
        if generation.retired and generation.in_flight == 0:
            self._close_later(generation)

    def swap(self, new: Generation) -> None:
        old, self._current = self._current, new
        if old is not None:
            old.retired = True
            if old.in_flight == 0:
                self._close_later(old)

    async def aclose(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.retired = True
            if current.in_flight == 0:
                self._close_later(current)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _close_later(self, generation: Generation) -> None:
        if generation.closed:
            return
        generation.closed = True
        task = asyncio.get_running_loop().create_task(_close(generation))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def _close(generation: Generation) -> None:
    try:
        await generation.close()
    except Exception:
        log.warning("closing a retired engine failed", exc_info=True)


def fingerprint(sdl: str) -> str:
    return hashlib.sha256(sdl.encode()).hexdigest()


async def load(path: Path, factory: EngineFactory) -> Generation:
    """The first generation; a missing or broken supergraph stops the gateway from starting."""
    try:
        sdl = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuntimeError(
            f"cannot read the supergraph at {path} ({error.strerror}); "
            "run `make supergraph` or set GATEWAY_SUPERGRAPH_PATH"
        ) from error
    built = await factory(sdl)
    return Generation(built.engine, built.close, fingerprint(sdl))


class SupergraphWatcher:
    """Polls the supergraph file (mtime and size, then content hash) and swaps engines."""

    def __init__(
        self,
        path: Path,
        holder: EngineHolder,
        factory: EngineFactory,
        *,
        interval: float,
        metrics: GatewayMetrics,
    ) -> None:
        self._path = path
        self._holder = holder
        self._factory = factory
        self._interval = interval
        self._metrics = metrics
        self._stat = self._read_stat()
        self._seen = holder.current.fingerprint

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check()

    async def check(self) -> bool:
        """Look at the file once; True when a new engine was swapped in."""
        stat = self._read_stat()
        if stat is None or stat == self._stat:
            return False
        self._stat = stat
        try:
            sdl = self._path.read_text(encoding="utf-8")
        except OSError:
            return False
        print_ = fingerprint(sdl)
        if print_ == self._seen:
            return False
        self._seen = print_
        try:
            built = await self._factory(sdl)
        except Exception:
            log.exception("the new supergraph at %s is broken; keeping the running one", self._path)
            self._metrics.supergraph_reloads.labels("failed").inc()
            return False
        self._holder.swap(Generation(built.engine, built.close, print_))
        self._metrics.supergraph_reloads.labels("ok").inc()
        log.info("supergraph reloaded from %s (%s)", self._path, print_[:12])
        return True

    def _read_stat(self) -> tuple[int, int] | None:
        try:
            stat = self._path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size
