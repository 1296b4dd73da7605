"""Fetch spans: started when a span processor receives them, skipped when none would."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.engine import FederatedEngine
from gateway.types import GraphQLRequest, RequestContext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from gateway import tracing

from .conftest import make_gateway

QUERY = "{ topReviews(first: 1) { body product { name } } }"


def _exporting() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_spans_exported_follows_the_providers_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    assert not tracing.spans_exported(provider)
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    assert tracing.spans_exported(provider)
    assert not tracing.spans_exported(trace.NoOpTracerProvider())
    # A proxy stands for whatever the process installs.
    proxy = trace.ProxyTracerProvider()
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: provider)
    assert tracing.spans_exported(proxy)
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: proxy)
    assert not tracing.spans_exported(proxy)


async def test_each_fetch_has_a_span_when_spans_are_exported(
    subgraph_server: tuple[str, Any], supergraph: Any
) -> None:
    provider, exporter = _exporting()
    base, traffic = subgraph_server
    traced, _ = make_gateway(base, traffic, supergraph, tracer_provider=provider)
    try:
        result = await traced.run(QUERY)
    finally:
        await traced.transport.close()
    assert "errors" not in result
    spans = [s for s in exporter.get_finished_spans() if s.name == "gateway.fetch"]
    assert sorted(s.attributes["graphql.subgraph"] for s in spans) == sorted(  # type: ignore[index]
        traced.transport.subgraphs
    )
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)
    assert [s.name for s in exporter.get_finished_spans()].count("gateway.plan") == 1


async def test_a_failed_fetch_span_is_an_error(
    subgraph_server: tuple[str, Any], supergraph: Any
) -> None:
    provider, exporter = _exporting()
    base, traffic = subgraph_server
    broken, _ = make_gateway(
        base,
        traffic,
        supergraph,
        urls={"inventory": "http://127.0.0.1:9/inventory"},
        tracer_provider=provider,
    )
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


async def test_no_fetch_span_is_started_when_nothing_receives_it(gateway: Any) -> None:
    class Refusing(TracerProvider):
        """An SDK provider with no span processor, whose tracer must never start a span."""

        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            tracer = super().get_tracer(*args, **kwargs)
            start = tracer.start_span

            def refuse(name: str, *rest: Any, **options: Any) -> Any:
                if name == "gateway.fetch":
                    raise AssertionError("a fetch span was started with no span processor")
                return start(name, *rest, **options)

            tracer.start_span = refuse  # type: ignore[method-assign]
            return tracer

    engine = FederatedEngine(
        gateway.engine.supergraph, gateway.transport, tracer_provider=Refusing()
    )
    result = await engine.execute(GraphQLRequest(QUERY), RequestContext())
    assert "errors" not in result
    assert len(gateway.transport.calls) >= 2
