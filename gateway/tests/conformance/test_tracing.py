"""Fetch spans: started when a span processor receives them, skipped when none would."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.executor import run
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from gateway import tracing

QUERY = "{ topReviews(first: 1) { body product { name } } }"


def _use(monkeypatch: pytest.MonkeyPatch, provider: Any) -> None:
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(run, "_TRACER", provider.get_tracer("gateway.executor"))


def test_spans_exported_follows_the_providers_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: provider)
    assert not tracing.spans_exported()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    assert tracing.spans_exported()
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    assert not tracing.spans_exported()


async def test_each_fetch_has_a_span_when_spans_are_exported(
    gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _use(monkeypatch, provider)
    result = await gateway.run(QUERY)
    assert "errors" not in result
    spans = [s for s in exporter.get_finished_spans() if s.name == "gateway.fetch"]
    assert sorted(s.attributes["graphql.subgraph"] for s in spans) == sorted(  # type: ignore[index]
        gateway.transport.subgraphs
    )
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


async def test_a_failed_fetch_span_is_an_error(
    subgraph_server: tuple[str, Any], supergraph: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import make_gateway

    base, traffic = subgraph_server
    broken, _ = make_gateway(
        base, traffic, supergraph, urls={"inventory": "http://127.0.0.1:9/inventory"}
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _use(monkeypatch, provider)
    try:
        await broken.run('{ product(upc: "1") { name shippingEstimate } }')
    finally:
        await broken.transport.close()
    failed = {
        s.attributes["graphql.subgraph"]  # type: ignore[index]
        for s in exporter.get_finished_spans()
        if s.name == "gateway.fetch" and s.status.status_code is StatusCode.ERROR
    }
    assert failed == {"inventory"}


async def test_no_fetch_span_is_started_when_nothing_receives_it(
    gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refusing:
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a fetch span was started with no span processor")

    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: TracerProvider())
    monkeypatch.setattr(run, "_TRACER", Refusing())
    result = await gateway.run(QUERY)
    assert "errors" not in result
    assert len(gateway.transport.calls) >= 2
