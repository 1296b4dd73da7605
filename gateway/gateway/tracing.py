"""Whether a span started now would reach anyone.

The composition root hands the engine a tracer provider (the process's, as
`servicekit.telemetry.setup_telemetry` installed it); tests pass one of their own.

`python -m gateway` always installs the OpenTelemetry SDK's tracer provider, so that trace
ids exist and propagate to subgraphs in every setting; it adds a span processor only
when an exporter is configured (or a test adds one). Without a processor an SDK span is
recorded and then dropped, and a span costs about as much CPU as the rest of a subgraph
fetch's engine work. Spans that nothing downstream depends on (the per-fetch spans: the
forwarded trace context is the request span's) are therefore only started when
`spans_exported()` says someone will receive them.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.trace import TracerProvider

__all__ = ["spans_exported"]


def spans_exported(provider: TracerProvider) -> bool:
    """True when spans started now are recorded and handed to at least one span processor.

    Without the SDK (the API's proxy or no-op provider) spans are never recorded. With
    the SDK, the provider's processors decide; a provider of another kind is assumed to
    export. A proxy provider stands for whichever provider the process installs, so it is
    resolved each time.
    """
    if isinstance(provider, trace.ProxyTracerProvider):
        provider = trace.get_tracer_provider()
    if isinstance(provider, SdkTracerProvider):
        active = getattr(provider, "_active_span_processor", None)
        processors = getattr(active, "_span_processors", None)
        return True if processors is None else bool(processors)
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
