"""The ASGI application: the AWS operations at the paths botocore sends them to, and the
emulator's own control endpoints under `/_emulator/`.

Every state change and the effects it asks for happen under one lock and in order; the
response goes out after the objects it wrote to S3, so a chunk a client was told of is in
the bucket. Events go out as EventBridge delivers Chime's: after the call that caused them
answered, in the order they happened, by one sender that takes whatever has accumulated
(ten to an SQS request) — so the lock is not held across a queue's round trip, which
would make every caller wait on SQS. Concatenation runs in the background, as in Chime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as HttpRoute

from chimesim import control, model, protocol
from chimesim.clock import Clock, SystemClock
from chimesim.effects import Concatenate, Effect, PublishEvent
from chimesim.emulator import Emulator
from chimesim.errors import ServiceError
from chimesim.outside import Outside
from chimesim.settings import Settings
from chimesim.validation import validate

log = logging.getLogger("chimesim")
SWEEP_EVERY_SECONDS = 1.0


class Runtime:
    """The emulator plus what carries its effects out, shared by every request."""

    def __init__(self, emulator: Emulator, outside: Outside) -> None:
        self.emulator = emulator
        self.outside = outside
        self.lock = asyncio.Lock()
        self.routes = model.routes(emulator.implemented())
        self.background: set[asyncio.Task[None]] = set()
        # Events waiting for the sender, each with the queue it was routed to when it happened.
        self.outbox: list[tuple[str | None, PublishEvent]] = []
        self.sender: asyncio.Task[None] | None = None

    async def settle(self) -> None:
        """Sweep, then carry out every pending effect (call with the lock held)."""
        self.emulator.sweep()
        await self.carry_out(self.emulator.drain())

    async def carry_out(self, effects: list[Effect]) -> None:
        plain: list[Effect] = [e for e in effects if not isinstance(e, Concatenate | PublishEvent)]
        if plain:
            await asyncio.to_thread(self.outside.carry_out_all, plain)
        events = [e for e in effects if isinstance(e, PublishEvent)]
        if events:
            self.outbox.extend((self.outside.queue_url, e) for e in events)
            if self.sender is None or self.sender.done():
                self.sender = asyncio.create_task(self._send())
        for job in (e for e in effects if isinstance(e, Concatenate)):
            task = asyncio.create_task(self._concatenate(job))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def _send(self) -> None:
        """Send what the outbox holds, in order, until it is empty."""
        while self.outbox:
            taken, self.outbox = self.outbox, []
            start = 0
            for end in range(1, len(taken) + 1):
                if end == len(taken) or taken[end][0] != taken[start][0]:
                    run = [event for _, event in taken[start:end]]
                    await asyncio.to_thread(self.outside.publish, taken[start][0], run)
                    start = end

    async def flush(self) -> None:
        """Wait until every event so far has been sent (shutdown)."""
        while self.sender is not None and not self.sender.done():
            await self.sender

    async def _concatenate(self, job: Concatenate) -> None:
        succeeded = await asyncio.to_thread(self.outside.carry_out, job)
        async with self.lock:
            job.done(succeeded)
            await self.carry_out(self.emulator.drain())


def build_app(
    settings: Settings, clock: Clock | None = None, outside: Outside | None = None
) -> Starlette:
    runtime = Runtime(Emulator(settings, clock or SystemClock()), outside or Outside(settings))

    async def aws(request: Request) -> Response:
        return await handle(runtime, request)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_forever(runtime))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            for task in list(runtime.background):
                with contextlib.suppress(Exception):
                    await task
            with contextlib.suppress(Exception):
                await runtime.flush()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    app = Starlette(
        routes=[*control.routes(runtime), HttpRoute("/{path:path}", aws, methods=methods)],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app


async def sweep_forever(runtime: Runtime) -> None:
    """Meetings end on time even when nobody calls (the clock of `make dev` runs)."""
    while True:
        await asyncio.sleep(SWEEP_EVERY_SECONDS)
        try:
            async with runtime.lock:
                await runtime.settle()
        except Exception:
            log.exception("sweep failed")


async def handle(runtime: Runtime, request: Request) -> Response:
    path = request.url.path
    query = urllib.parse.parse_qs(request.url.query, keep_blank_values=True)
    matched = None
    for route in runtime.routes:
        params = route.match(request.method, path, query)
        if params is not None:
            matched = (route, params)
            break
    if matched is None:
        return Response(
            b'{"Message":"No operation at this path"}',
            status_code=404,
            headers={"x-amzn-ErrorType": "UnknownOperationException"},
            media_type="application/json",
        )
    route, path_params = matched
    body = await request.body()
    emulator = runtime.emulator
    emulator.calls[route.name] += 1
    async with runtime.lock:
        try:
            if not emulator.throttle.allow(route.name, emulator.clock.now()):
                raise ServiceError(throttling_shape(route.service), "Rate exceeded")
            await runtime.settle()
            headers = {k.lower(): v for k, v in request.headers.items()}
            params = protocol.parse_input(route.operation, path_params, query, headers, body)
            if route.operation.input_shape is not None:
                validate(route.operation.input_shape, params)
            output = call(emulator, route, params)
        except ServiceError as error:
            await runtime.carry_out(emulator.drain())
            status, error_headers, payload = protocol.serialize_error(route.service, error)
            return Response(payload, status_code=status, headers=error_headers)
        await runtime.carry_out(emulator.drain())
    out_headers, payload = protocol.serialize_output(route.operation, output)
    response_headers: dict[str, Any] = {"Content-Type": "application/json", **out_headers}
    return Response(payload, status_code=route.status, headers=response_headers)


def call(emulator: Emulator, route: model.Route, params: dict[str, Any]) -> dict[str, Any]:
    """Run the operation; a fault of the emulator's own is the service's 500, logged, rather
    than a bare stack trace botocore cannot parse."""
    try:
        return emulator.handlers[(route.service, route.name)](params)
    except ServiceError:
        raise
    except Exception as exc:
        log.exception("%s failed", route.name)
        raise ServiceError("ServiceFailureException", "The service encountered an error") from exc


def throttling_shape(service: str) -> str:
    """The service's exception shape for HTTP 429 (`ThrottlingException` for meetings,
    `ThrottledClientException` for media pipelines)."""
    service_model = model.service_model(service)
    for name in service_model.shape_names:
        shape = service_model.shape_for(name)
        if shape.metadata.get("exception") and model.error_status(service, name) == 429:
            return str(name)
    raise LookupError(f"{service} declares no 429 error")
