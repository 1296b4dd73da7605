"""The HTTP surface every service shares besides its subgraph: probes and metrics.

`POST /graphql` is nearly every request a service serves, so it goes through the whole
middleware chain folded into one callable (`ServiceFront`) straight to the subgraph,
without Starlette's routing and exception layer in between: the same middleware
instances, the same route in the metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from opentelemetry import context as otel_context
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit import telemetry
from servicekit.headers import LimitHeaders
from servicekit.shedding import Deadline, ShedLoad, send_late
from servicekit.telemetry import TraceRequests

_NO_DEADLINE = nullcontext()

Check = Callable[[], Awaitable[bool]]

HTTP_REQUESTS = Counter(
    "realty_http_requests_total", "HTTP requests served", ["service", "path", "status"]
)
HTTP_LATENCY = Histogram(
    "realty_http_request_seconds",
    "HTTP request latency",
    ["service", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class RequestMetrics:
    """Counts requests and records latency per route (the path template, not the raw URL).

    The labelled series of each (route, status) are looked up once: the registry's own
    lookup (label strings built, a lock taken) costs as much per request as the rest of
    this middleware."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._series: dict[tuple[str, int], tuple[Any, Any]] = {}

    def _series_of(self, path: str, status: int) -> tuple[Any, Any]:
        series = self._series.get((path, status))
        if series is None:
            series = (
                HTTP_REQUESTS.labels(self.service, path, str(status)),
                HTTP_LATENCY.labels(self.service, path),
            )
            self._series[(path, status)] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            requests, latency = self._series_of(path, status)
            requests.inc()
            latency.observe(time.perf_counter() - started)


class GraphQLFirst:
    """The innermost middleware: `POST /graphql` handed to the subgraph at once, as the
    router would hand it (the route, endpoint and router in the scope); everything else to
    Starlette's exception layer and router. Built only when no route listed before
    `/graphql` would take that request."""

    def __init__(self, app: ASGIApp, route: Route) -> None:
        self.app = app
        self.route = route
        self.graphql = route.app
        self.path = route.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and get_route_path(scope) == self.path
        ):
            _enter_route(scope, self.route)
            await self.graphql(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class ServiceFront:
    """The whole middleware chain in one callable for `POST /graphql`, nearly every request
    a service serves: the header limits checked, the request admitted against
    `max_in_flight`, its deadline, trace context and metrics kept, and the subgraph called,
    in one frame with one `send` wrapper, where the chain (`LimitHeaders`, `ShedLoad`,
    `Deadline`, `TraceRequests`, `RequestMetrics`, `GraphQLFirst`) spent six frames and two.
    Everything else — other requests, refused headers, a request to shed, spans recorded —
    goes through the chain itself, whose middleware instances (and the in-flight count)
    this shares, so every answer, count and series is the chain's."""

    def __init__(
        self,
        app: ASGIApp,
        route: Route,
        service: str,
        max_in_flight: int = 0,
        request_timeout: float = 0.0,
    ) -> None:
        self.metrics = RequestMetrics(GraphQLFirst(app, route), service)
        self.shed = ShedLoad(Deadline(TraceRequests(self.metrics), request_timeout), max_in_flight)
        self.limits = LimitHeaders(self.shed)
        self.chain: ASGIApp = self.limits
        self.route = route
        self.graphql = route.app
        self.path = route.path
        self.seconds = request_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        shed = self.shed
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or get_route_path(scope) != self.path
            or telemetry.recording()
            or (0 < shed.max_in_flight <= shed.in_flight)
            or self.limits._offending(scope["headers"]) is not None
        ):
            await self.chain(scope, receive, send)
            return
        started = False
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
            await send(message)

        _enter_route(scope, self.route)
        admitted = shed.max_in_flight > 0
        if admitted:
            shed.in_flight += 1
        try:
            async with asyncio.timeout(self.seconds) if self.seconds > 0 else _NO_DEADLINE:
                token = otel_context.attach(telemetry.request_context(scope["headers"]))
                began = time.perf_counter()
                try:
                    await self.graphql(scope, receive, tracked)
                finally:
                    requests, latency = self.metrics._series_of(self.path, status)
                    requests.inc()
                    latency.observe(time.perf_counter() - began)
                    otel_context.detach(token)
        except TimeoutError:
            if started or self.seconds <= 0:
                raise
            await send_late(send)
        finally:
            if admitted:
                shed.in_flight -= 1


def _enter_route(scope: Scope, route: Route) -> None:
    """What Starlette's router would have put in the scope on its way to `route`."""
    scope["endpoint"] = route.app
    scope["path_params"] = {}
    scope["route"] = route
    app = scope.get("app")
    if app is not None:
        scope["router"] = app.router


def _first_to_take_a_post(routes: Sequence[BaseRoute], path: str) -> BaseRoute | None:
    """The route Starlette's router would give `POST path` (the first full match)."""
    scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def probe_routes(checks: Mapping[str, Check]) -> list[BaseRoute]:
    """`/healthz` (the process is alive), `/readyz` (every dependency answers), `/metrics`."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        results = {name: await check() for name, check in checks.items()}
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def service_app(
    *,
    graphql: ASGIApp,
    checks: Mapping[str, Check],
    routes: Sequence[BaseRoute] = (),
    service: str = "service",
    max_in_flight: int = 0,
    request_timeout: float = 0.0,
) -> Starlette:
    """A service's HTTP app: `/graphql`, probes, metrics and its own extra routes, traced;
    oversized headers refused (431), requests past `max_in_flight` shed (503), requests
    past `request_timeout` seconds cancelled (503)."""
    endpoint = Route("/graphql", graphql, methods=["GET", "POST"])
    every = [
        *probe_routes(checks),
        *routes,
        endpoint,
        WebSocketRoute("/graphql", graphql),  # subscriptions on the same path
    ]
    if _first_to_take_a_post(every, endpoint.path) is endpoint:
        front = Middleware(
            ServiceFront,
            route=endpoint,
            service=service,
            max_in_flight=max_in_flight,
            request_timeout=request_timeout,
        )
        return Starlette(routes=every, middleware=[front])
    middleware = [
        Middleware(LimitHeaders),
        Middleware(ShedLoad, max_in_flight=max_in_flight),
        Middleware(Deadline, seconds=request_timeout),
        Middleware(TraceRequests),
        Middleware(RequestMetrics, service=service),
    ]
    return Starlette(routes=every, middleware=middleware)
