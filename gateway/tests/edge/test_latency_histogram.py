"""The gateway's latency histograms expose exactly what the client library's would."""

from __future__ import annotations

import re

import pytest
from gateway.metrics import LATENCY_BUCKETS, LatencyHistogram
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

# Below, on and above bucket bounds, past the last one, and zero.
SECONDS = (0.0, 0.0001, 0.0005, 0.00051, 0.001, 0.003, 0.05, 0.7, 10.0, 12.0)


def _without_created_values(text: bytes) -> bytes:
    return re.sub(rb"_created(\{[^}]*\})? \S+", rb"_created\1 T", text)


@pytest.mark.parametrize("labelnames", [("subgraph",), ("transport", "operation")])
@pytest.mark.parametrize("render", [generate_latest, openmetrics_latest])
def test_exposition_matches_prometheus_client_histogram(
    labelnames: tuple[str, ...], render: object
) -> None:
    reference_registry, registry = CollectorRegistry(), CollectorRegistry()
    reference = Histogram(
        "gateway_test_seconds",
        "A test histogram.",
        list(labelnames),
        buckets=LATENCY_BUCKETS,
        registry=reference_registry,
    )
    histogram = LatencyHistogram(
        "gateway_test_seconds", "A test histogram.", labelnames, LATENCY_BUCKETS, registry
    )
    for value in ("a", "b"):
        labels = (value,) * len(labelnames)
        for seconds in SECONDS:
            reference.labels(*labels).observe(seconds)
            histogram.observe(labels, seconds)
    assert callable(render)
    expected = _without_created_values(render(reference_registry))
    assert _without_created_values(render(registry)) == expected
    assert re.search(rb"_count\{[^}]*\} 10\.0", expected)
