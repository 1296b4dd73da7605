"""Prometheus metrics of the gateway, served at `/metrics`.

One `GatewayMetrics` is built by the composition root (`gateway_metrics()`) and handed to
the server, the WebSocket handler, the reload watcher and every engine it builds; the
engine records its fetches and plan-cache look-ups through it. The instruments:

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
- `gateway_operation_cost{measure}` — histogram of operation costs by `@cost`/`@listSize`
  (`observe_cost`), `measure` estimated|actual (see `demand.py`).

They live in a registry of their own, so the gateway's `/metrics` shows exactly these plus
the process collector, whatever else the process registers; a test builds its own
`GatewayMetrics()` and reads the values back (`value`).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

import prometheus_client.metrics
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

COST_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 100_000)
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


class _Series:
    """One label combination of a `LatencyHistogram`: per-bucket counts (not cumulative)."""

    __slots__ = ("counts", "created", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.total = 0.0
        self.created = time.time()


class LatencyHistogram(Collector):
    """A latency histogram exposed exactly as `prometheus_client.Histogram` exposes one.

    Observing is a bisect and two additions on plain numbers: the client library's
    histogram takes a lock per bucket and walks the bounds in Python, which on the
    gateway's hot path (every subgraph fetch, every request) cost more than the rest of
    the bookkeeping around a fetch. The gateway observes from its event loop; `/metrics`
    reads a snapshot, so a scrape may see a sum one observation ahead of the counts, as
    it may with the client library's histogram.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = tuple(float(b) for b in buckets)
        # Bucket labels spelled as the client library spells them ("0.0005", "10.0").
        les: list[str] = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        self._les = (*les, "+Inf")
        self._series: dict[tuple[str, ...], _Series] = {}
        registry.register(self)

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        """Count one observation for these label values (in `labelnames` order)."""
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = _Series(len(self._les))
        series.counts[bisect_left(self._bounds, seconds)] += 1
        series.total += seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        # The client library's switch for `_created` series (PROMETHEUS_DISABLE_CREATED_SERIES
        # or `disable_created_metrics()`), honoured like its own histograms do.
        created = getattr(prometheus_client.metrics, "_use_created", True)
        for labels, series in list(self._series.items()):
            cumulative: list[tuple[str, float]] = []
            seen = 0
            for le, count in zip(self._les, list(series.counts), strict=True):
                seen += count
                cumulative.append((le, float(seen)))
            family.add_metric(labels, cumulative, series.total)
            if created:
                family.samples.append(
                    Sample(
                        f"{self._name}_created",
                        dict(zip(self._labelnames, labels, strict=True)),
                        series.created,
                    )
                )
        yield family


class GatewayMetrics:
    """The gateway's instruments, created once against one registry (a new one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
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
        self.request_duration = LatencyHistogram(
            "gateway_request_duration_seconds",
            "Request latency inside the gateway.",
            ("transport", "operation"),
            LATENCY_BUCKETS,
            registry,
        )
        self.subgraph_fetch_duration = LatencyHistogram(
            "gateway_subgraph_fetch_duration_seconds",
            "Latency of one subgraph fetch.",
            ("subgraph",),
            LATENCY_BUCKETS,
            registry,
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
        self.coalesced_requests = Counter(
            "gateway_coalesced_requests",
            "Queries answered by an identical query's execution already in flight.",
            registry=registry,
        )
        self.response_cache = Counter(
            "gateway_response_cache",
            "Response cache look-ups of public queries.",
            ["result"],
            registry=registry,
        )
        self._response_hit = self.response_cache.labels("hit")
        self._response_miss = self.response_cache.labels("miss")
        self.entity_cache = Counter(
            "gateway_entity_cache",
            "Entity cache look-ups of public queries' entity fetches, one per entity.",
            ["result"],
            registry=registry,
        )
        self._entity_hit = self.entity_cache.labels("hit")
        self._entity_miss = self.entity_cache.labels("miss")
        self.response_cache_invalidations = Counter(
            "gateway_response_cache_invalidations",
            "Events that dropped cached answers, and the answers they dropped.",
            ["what"],
            registry=registry,
        )
        self.supergraph_reloads = Counter(
            "gateway_supergraph_reloads", "Supergraph hot reloads.", ["result"], registry=registry
        )

        self.operation_cost = Histogram(
            "gateway_operation_cost",
            "Operation cost from @cost/@listSize, estimated before execution and actual.",
            ["measure"],
            buckets=COST_BUCKETS,
            registry=registry,
        )
        self._estimated_cost = self.operation_cost.labels("estimated")
        self._actual_cost = self.operation_cost.labels("actual")

        self._plan_hit = self.plan_cache.labels("hit")
        self._plan_miss = self.plan_cache.labels("miss")
        self._request_children: dict[tuple[str, str, str], tuple[Any, tuple[str, str]]] = {}
        self._error_children: dict[str, Any] = {}
        self._fetch_error_children: dict[str, Any] = {}

    def observe_request(
        self, transport: str, operation: str, status: str, seconds: float, error_code: str | None
    ) -> None:
        """Count one request and its latency (label children are looked up once, then cached)."""
        key = (transport, operation, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(transport, operation, status), (transport, operation))
            self._request_children[key] = children
        children[0].inc()
        self.request_duration.observe(children[1], seconds)
        if error_code is not None:
            self.request_error(error_code)

    def request_error(self, code: str) -> None:
        child = self._error_children.get(code)
        if child is None:
            child = self._error_children[code] = self.request_errors.labels(code)
        child.inc()

    def observe_fetch(self, subgraph: str, seconds: float, *, ok: bool = True) -> None:
        self.subgraph_fetch_duration.observe((subgraph,), seconds)
        if not ok:
            child = self._fetch_error_children.get(subgraph)
            if child is None:
                child = self._fetch_error_children[subgraph] = self.subgraph_fetch_errors.labels(
                    subgraph
                )
            child.inc()

    def observe_cost(self, estimated: int | None, actual: int | None) -> None:
        """Record an operation's estimated and/or actual cost."""
        if estimated is not None:
            self._estimated_cost.observe(estimated)
        if actual is not None:
            self._actual_cost.observe(actual)

    def record_plan_cache(self, hit: bool) -> None:
        """Count one plan cache look-up."""
        (self._plan_hit if hit else self._plan_miss).inc()

    def record_response_cache(self, hit: bool) -> None:
        """Count one response cache look-up of a public query."""
        (self._response_hit if hit else self._response_miss).inc()

    def record_entity_cache(self, hits: int, misses: int) -> None:
        """Count one public query's entity cache look-ups."""
        if hits:
            self._entity_hit.inc(hits)
        if misses:
            self._entity_miss.inc(misses)

    def record_invalidation(self, dropped: int) -> None:
        """Count one invalidating event and the answers it dropped."""
        self.response_cache_invalidations.labels("events").inc()
        if dropped:
            self.response_cache_invalidations.labels("answers").inc(dropped)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when it was never recorded), for tests."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def gateway_metrics() -> GatewayMetrics:
    """The instruments of a gateway process: its own registry, with the process collector."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return GatewayMetrics(registry)
