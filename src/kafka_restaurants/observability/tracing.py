"""OpenTelemetry set-up and the W3C `traceparent` helpers every process shares.

Spans always exist (so logs can name their trace); they leave the process only when the
standard OTEL_* variables ask for it: OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT)
set, or OTEL_TRACES_EXPORTER=otlp|console. OTEL_SDK_DISABLED=true turns the SDK off.
"""

from __future__ import annotations

import functools
import logging
import os
import re

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACER_NAME = "kafka_restaurants"
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_provider: TracerProvider | None = None


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def exporter_from_env(environ: dict[str, str] | None = None) -> SpanExporter | None:
    """The span exporter the OTEL_* variables ask for, or None (the default: export off)."""
    env = os.environ if environ is None else environ
    kind = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp" or (not kind and endpoint):
        # Only OTLP over HTTP/protobuf is installed; it reads the endpoint and headers itself.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if kind and kind != "none":
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported; traces stay in-process", kind)
    return None


def setup_tracing(service_name: str) -> TracerProvider | None:
    """Install the process's TracerProvider once; later calls return the first one."""
    global _provider
    if _provider is not None or _flag("OTEL_SDK_DISABLED"):
        return _provider
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):  # someone (a test, a distro) set one up already
        _provider = current
        return _provider
    resource = Resource.create({"service.name": service_name})  # OTEL_SERVICE_NAME wins
    provider = TracerProvider(resource=resource)
    exporter = exporter_from_env()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
        log.info("exporting traces with %s", type(exporter).__name__)
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


@functools.cache
def tracer() -> trace.Tracer:
    """Our tracer. Made once: before setup_tracing it is a proxy that follows the provider."""
    return trace.get_tracer(TRACER_NAME)


def extract_context(traceparent: str | None) -> Context:
    """The context a `traceparent` header continues (an empty one when it is missing or bad)."""
    if not traceparent:
        return Context()
    return _PROPAGATOR.extract({TRACEPARENT: traceparent})


def inject_traceparent(context: Context | None = None) -> str | None:
    """The `traceparent` header for `context` (default: the current one); None outside a trace."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context)
    return carrier.get(TRACEPARENT)


def traceparent_of(span: Span) -> str | None:
    """The `traceparent` that makes a receiver's work a child of `span`."""
    return inject_traceparent(trace.set_span_in_context(span))


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id (32 hex digits) a `traceparent` header names, or None if it is not one."""
    match = _TRACEPARENT_RE.match((traceparent or "").strip().lower())
    if match is None or set(match.group(1)) == {"0"}:
        return None
    return match.group(1)
