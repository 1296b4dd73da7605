"""Prometheus metrics of the gateway, served at `/metrics`.

The engine records its own events here too, through these names (or the two helpers):

- `gateway_requests_total{transport,operation,status}` — GraphQL requests served
  (`transport` http|ws, `operation` query|mutation|subscription|unknown, `status` the
  HTTP status, or `ws` for WebSocket operations).
- `gateway_request_errors_total{code}` — requests answered with an error, by
  `extensions.code` of its first error.
- `gateway_request_duration_seconds{transport,operation}` — histogram of request latency
  as the gateway measures it (edge checks + engine).
- `gateway_subgraph_fetch_duration_seconds{subgraph}` — histogram of each subgraph fetch
  (`observe_fetch`), and `gateway_subgraph_fetch_errors_total{subgraph}`.
- `gateway_plan_cache_total{result}` — plan cache look-ups, `result` hit|miss
  (`record_plan_cache`).
- `gateway_active_subscriptions`, `gateway_websocket_connections` — gauges.
- `gateway_supergraph_reloads_total{result}` — hot reloads, `result` ok|failed.

They live in one registry of their own (`REGISTRY`), so the gateway's `/metrics` shows
exactly these plus the process collector, whatever else a test process registers.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class GatewayMetrics:
    """The gateway's instruments, created once against one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "gateway_requests",
            "GraphQL requests served.",
            ["transport", "operation", "status"],
            registry=registry,
        )
        self.request_errors = Counter(
            "gateway_request_errors",
            "Requests answered with an error, by code.",
            ["code"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "gateway_request_duration_seconds",
            "Request latency inside the gateway.",
            ["transport", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.subgraph_fetch_duration = Histogram(
            "gateway_subgraph_fetch_duration_seconds",
            "Latency of one subgraph fetch.",
            ["subgraph"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.subgraph_fetch_errors = Counter(
            "gateway_subgraph_fetch_errors",
            "Subgraph fetches that failed.",
            ["subgraph"],
            registry=registry,
        )
        self.plan_cache = Counter(
            "gateway_plan_cache", "Plan cache look-ups.", ["result"], registry=registry
        )
        self.active_subscriptions = Gauge(
            "gateway_active_subscriptions", "Subscriptions being streamed.", registry=registry
        )
        self.websocket_connections = Gauge(
            "gateway_websocket_connections", "Open WebSocket connections.", registry=registry
        )
        self.supergraph_reloads = Counter(
            "gateway_supergraph_reloads", "Supergraph hot reloads.", ["result"], registry=registry
        )

        self._request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._error_children: dict[str, Any] = {}
        self._fetch_children: dict[str, Any] = {}

    def observe_request(
        self, transport: str, operation: str, status: str, seconds: float, error_code: str | None
    ) -> None:
        """Count one request and its latency (label children are looked up once, then cached)."""
        key = (transport, operation, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(transport, operation, status),
                self.request_duration.labels(transport, operation),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if error_code is not None:
            self.request_error(error_code)

    def request_error(self, code: str) -> None:
        child = self._error_children.get(code)
        if child is None:
            child = self._error_children[code] = self.request_errors.labels(code)
        child.inc()

    def observe_fetch(self, subgraph: str, seconds: float, *, ok: bool = True) -> None:
        child = self._fetch_children.get(subgraph)
        if child is None:
            child = self._fetch_children[subgraph] = self.subgraph_fetch_duration.labels(subgraph)
        child.observe(seconds)
        if not ok:
            self.subgraph_fetch_errors.labels(subgraph).inc()

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
METRICS = GatewayMetrics(REGISTRY)


def observe_fetch(subgraph: str, seconds: float, *, ok: bool = True) -> None:
    """Record one subgraph fetch (for the engine/transport)."""
    METRICS.observe_fetch(subgraph, seconds, ok=ok)


_PLAN_HIT = METRICS.plan_cache.labels("hit")
_PLAN_MISS = METRICS.plan_cache.labels("miss")


def record_plan_cache(hit: bool) -> None:
    """Record one plan cache look-up (for the engine)."""
    (_PLAN_HIT if hit else _PLAN_MISS).inc()
