"""OpenTelemetry set-up and the W3C `traceparent` helpers every process shares.

Spans always exist (so logs can name their trace); they leave the process only when the
standard OTEL_* variables ask for it: OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT)
set, or OTEL_TRACES_EXPORTER=otlp|console. OTEL_SDK_DISABLED=true turns the SDK off.

Which spans are recorded: a trace is sampled where it starts (ParentBased(TraceIdRatio), the
ratio OTEL_TRACES_SAMPLER_ARG, by default 0.1 when exporting and 0 when nothing would leave the
process) and every process follows that decision, so a trace is whole or absent. An error
inside a trace not sampled is still kept: `keep_error` records it as a span of its own in that
trace. OTEL_TRACES_SAMPLER, when set, picks one of the SDK's standard samplers instead.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACER_NAME = "kafka_restaurants"
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_provider: TracerProvider | None = None
# The share of new traces recorded when they are exported (OTEL_TRACES_SAMPLER_ARG overrides).
DEFAULT_EXPORT_RATIO = 0.1
# A span carrying this attribute is recorded whatever the trace's sampling decision.
KEEP = "kafka_restaurants.kept"
URL_QUERY = "url.query"
REDACTED = "REDACTED"
# Query parameters whose values never reach a span: the kitchen screen's key.
SECRET_QUERY_PARAMETERS = ("key",)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class RedactQuery(SpanProcessor):
    """Replaces the values of secret query parameters in a span's `url.query` as it starts.

    The kitchen screen's link carries the restaurant's key as `?key=...`; a trace backend is no
    place for it. The parameter stays, so the span still shows the link was used with one.
    """

    def __init__(self, secret_parameters: Sequence[str]) -> None:
        self.secret = frozenset(secret_parameters)

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        query = (span.attributes or {}).get(URL_QUERY)
        if not isinstance(query, str) or not query:
            return
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name in self.secret for name, _ in pairs):
            redacted = [(n, REDACTED if n in self.secret else v) for n, v in pairs]
            span.set_attribute(URL_QUERY, urlencode(redacted))


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


class KeepErrors(Sampler):
    """`inner`'s decision, except that a span marked KEEP (an error) is always recorded.

    Recording is most of a span's cost, and with export off nothing recorded leaves the
    process: every request and message recorded in full was a third of the bank's CPU.
    """

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if attributes and attributes.get(KEEP):
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)
        return self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"KeepErrors{{{self.inner.get_description()}}}"


def sampler_from_env(exporting: bool, environ: Mapping[str, str] | None = None) -> KeepErrors:
    """ParentBased(TraceIdRatio) at OTEL_TRACES_SAMPLER_ARG (default: 0.1 when exporting, else
    0), or the standard sampler OTEL_TRACES_SAMPLER names; errors are kept either way."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_TRACES_SAMPLER", "").strip():
        return KeepErrors(_get_from_env_or_default())
    ratio = DEFAULT_EXPORT_RATIO if exporting else 0.0
    arg = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if arg:
        try:
            ratio = min(max(float(arg), 0.0), 1.0)
        except ValueError:
            log.warning("OTEL_TRACES_SAMPLER_ARG=%r is not a number; using %s", arg, ratio)
    return KeepErrors(ParentBased(TraceIdRatioBased(ratio)))


def record_every_span() -> None:
    """Record every span from now on (tests that read spans in memory)."""
    provider = setup_tracing(TRACER_NAME)
    if provider is not None and isinstance(provider.sampler, KeepErrors):
        provider.sampler.inner = ALWAYS_ON


def keep_error(
    name: str,
    kind: SpanKind,
    started_ns: int,
    description: str,
    attributes: Mapping[str, str | int] | None = None,
    context: Context | None = None,
) -> None:
    """An error inside a span the sampler dropped (the current one unless `context`), recorded
    as a span of its own in the same trace, from `started_ns` to now."""
    parent = trace.get_current_span(context)
    if parent.is_recording() or not parent.get_span_context().is_valid:
        return  # recorded itself, with its error status; or outside any trace (a probe)
    span = tracer().start_span(
        name,
        context=context,
        kind=kind,
        attributes={**(attributes or {}), KEEP: True},
        start_time=started_ns,
    )
    span.set_status(Status(StatusCode.ERROR, description[:300]))
    span.end()


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
    exporter = exporter_from_env()
    provider = TracerProvider(resource=resource, sampler=sampler_from_env(exporter is not None))
    provider.add_span_processor(RedactQuery(SECRET_QUERY_PARAMETERS))  # before any exporter
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
