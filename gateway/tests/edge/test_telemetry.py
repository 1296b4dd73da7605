"""One span per request, under the caller's trace, and its context forwarded to subgraphs."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from servicekit.telemetry import setup_telemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_request_span_is_a_child_of_the_caller_and_parents_the_fetches(
    client: Any, engines: dict[str, Any]
) -> None:
    exporter = InMemorySpanExporter()
    setup_telemetry("gateway-tests", extra_processors=[SimpleSpanProcessor(exporter)])
    response = client.post(
        "/graphql",
        content=json.dumps({"query": "query Hi { hello }"}),
        headers={
            "content-type": "application/json",
            "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
        },
    )
    assert response.status_code == 200
    spans = [s for s in exporter.get_finished_spans() if s.name == "graphql.request"]
    assert len(spans) == 1
    span = spans[0]
    assert span.kind is SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == CALLER_SPAN
    assert span.attributes is not None
    assert span.attributes["graphql.operation.type"] == "query"
    assert span.attributes["graphql.operation.name"] == "Hi"
    _, ctx = engines["v1"].calls[-1]
    _, trace_id, parent_id, _ = ctx.headers["traceparent"].split("-")
    assert trace_id == TRACE_ID
    assert parent_id == format(span.context.span_id, "016x")
