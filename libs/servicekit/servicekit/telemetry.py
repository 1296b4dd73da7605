"""Tracing and logging set-up shared by every process.

Traces go to an OTLP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, to the console when
`OTEL_TRACES_EXPORTER=console`, and nowhere otherwise — but a tracer provider is always
installed, so trace ids exist and propagate across HTTP, gRPC and NATS hops in every setting.

When no span goes anywhere (no exporter, no processor added), a request is not traced span by
span — that cost a service about a tenth of its CPU per request for spans nobody reads: the
caller's trace context (or a new trace id) is made current and carried on, and SQL
statements are not instrumented.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from servicekit.db import Database

_provider: TracerProvider | None = None
_recording = False  # some processor receives spans


def setup_telemetry(
    service_name: str, *, extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """Install the process-wide tracer provider once; later calls add processors only."""
    global _provider, _recording
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        exporter = _configured_exporter()
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
            _recording = True
        trace.set_tracer_provider(_provider)
    for processor in extra_processors or []:
        _provider.add_span_processor(processor)
        _recording = True
    return _provider


def recording() -> bool:
    """True when spans go somewhere (an exporter or a processor is installed)."""
    return _recording


def request_context(headers: list[tuple[bytes, bytes]]) -> otel_context.Context:
    """The caller's trace context from `traceparent`/`tracestate`, else a new trace of ours."""
    carrier = {
        k.decode("latin-1"): v.decode("latin-1")
        for k, v in headers
        if k in (b"traceparent", b"tracestate")
    }
    if carrier:
        extracted = propagate.extract(carrier)
        if trace.get_current_span(extracted).get_span_context().is_valid:
            return extracted
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=random.getrandbits(128) or 1,
            span_id=random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
    )
    return trace.set_span_in_context(span)


class TraceRequests:
    """ASGI: OpenTelemetry's middleware while spans go somewhere; otherwise only the trace
    context made current for the request (logs, gRPC calls and events carry it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.traced = OpenTelemetryMiddleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _recording or scope["type"] not in ("http", "websocket"):
            await self.traced(scope, receive, send)
            return
        token = otel_context.attach(request_context(scope["headers"]))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def _configured_exporter() -> SpanExporter | None:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if os.environ.get("OTEL_TRACES_EXPORTER") == "console":
        return ConsoleSpanExporter()
    return None


def instrument_database(db: Database) -> None:
    """Trace every SQL statement of this database's engine (when spans go somewhere)."""
    if not _recording:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=db.engine.sync_engine)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_headers() -> dict[str, str]:
    """The W3C trace context of the current span, as headers (`traceparent`, `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_headers(headers: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(dict(headers))


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(service_name: str, *, production: bool, level: str | None = None) -> None:
    """JSON lines in production, short readable lines in development."""
    handler = logging.StreamHandler(sys.stderr)
    if production:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s {service_name:<10} %(levelname)-5s %(name)s: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    for noisy in ("uvicorn.access", "aiosmtpd", "mail.log", "botocore", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
