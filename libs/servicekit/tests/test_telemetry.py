"""Logs name the trace they belong to, trace context survives a hop as headers, and the
exporter is the one the environment asks for."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from servicekit import telemetry
from servicekit.telemetry import (
    configure_logging,
    context_from_headers,
    current_trace_headers,
    setup_telemetry,
    tracer,
)

NOISY = ("uvicorn.access", "botocore", "httpx")


@pytest.fixture
def production_logging() -> Iterator[io.StringIO]:
    """Production logging for one test, its handler writing into a buffer instead of
    stderr; the process's logging is put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in NOISY})
    configure_logging("probe", production=True, level="INFO")
    buffer = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handlers, level, noisy = saved
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, noisy_level in noisy.items():
            logging.getLogger(name).setLevel(noisy_level)


def test_production_logs_are_json_lines_naming_the_current_trace(
    production_logging: io.StringIO,
) -> None:
    setup_telemetry("telemetry-test")
    log = logging.getLogger("servicekit.probe")
    with tracer("probe").start_as_current_span("work") as span:
        log.warning("kept %d of %d", 3, 4)
        try:
            raise ValueError("broken input")
        except ValueError:
            log.exception("failed")
    log.info("outside any span")
    logging.getLogger("httpx").info("a request went out")  # quieted below WARNING
    lines = [json.loads(line) for line in production_logging.getvalue().splitlines()]
    context = span.get_span_context()
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("warning", "servicekit.probe", "kept 3 of 4"),
        ("error", "servicekit.probe", "failed"),
        ("info", "servicekit.probe", "outside any span"),
    ]
    assert lines[0]["trace_id"] == format(context.trace_id, "032x")
    assert lines[0]["span_id"] == format(context.span_id, "016x")
    assert "ValueError: broken input" in lines[1]["exception"]
    assert "trace_id" not in lines[2]
    assert lines[0]["time"].endswith("+00:00")


def test_trace_context_crosses_a_hop_as_headers() -> None:
    setup_telemetry("telemetry-test")
    assert "traceparent" not in current_trace_headers()  # no span, nothing to carry
    with tracer("probe").start_as_current_span("caller") as caller:
        headers = current_trace_headers()
    trace_id = format(caller.get_span_context().trace_id, "032x")
    span_id = format(caller.get_span_context().span_id, "016x")
    version, carried_trace, carried_span, flags = headers["traceparent"].split("-")
    assert (version, carried_trace, carried_span) == ("00", trace_id, span_id)
    assert int(flags, 16) & 1  # sampled
    parent = context_from_headers(headers)
    with tracer("probe").start_as_current_span("callee", context=parent) as callee:
        assert callee.get_span_context().trace_id == caller.get_span_context().trace_id
    assert trace.get_current_span().get_span_context().is_valid is False


def test_the_exporter_is_the_one_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert telemetry._configured_exporter() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert isinstance(telemetry._configured_exporter(), ConsoleSpanExporter)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    exporter = telemetry._configured_exporter()
    assert isinstance(exporter, OTLPSpanExporter)  # the collector wins over the console
    exporter.shutdown()


async def _trace_seen(headers: dict[str, str]) -> tuple[str, str]:
    """(traceparent the request's handler would send on, span class) through TraceRequests."""
    import httpx
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(_: Request) -> JSONResponse:
        span = trace.get_current_span()
        carried = current_trace_headers().get("traceparent", "")
        return JSONResponse({"traceparent": carried, "span": type(span).__name__})

    app = Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(telemetry.TraceRequests)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        body = (await client.get("/", headers=headers)).json()
    return body["traceparent"], body["span"]


async def test_without_an_exporter_a_request_carries_the_trace_on_without_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup_telemetry("telemetry-test")
    monkeypatch.setattr(telemetry, "_recording", False)
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    carried, span = await _trace_seen({"traceparent": incoming})
    assert carried == incoming and span == "NonRecordingSpan"
    fresh, span = await _trace_seen({})
    version, trace_id, _, flags = fresh.split("-")
    assert version == "00" and int(trace_id, 16) != 0 and flags == "01"
    assert span == "NonRecordingSpan"

    monkeypatch.setattr(telemetry, "_recording", True)  # an exporter: spans again
    carried, span = await _trace_seen({"traceparent": incoming})
    assert carried.split("-")[1] == incoming.split("-")[1] and span != "NonRecordingSpan"
