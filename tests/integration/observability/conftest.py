"""Spans recorded in memory, on whichever TracerProvider the process has (installing one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kafka_restaurants.observability.tracing import setup_tracing

_EXPORTER = InMemorySpanExporter()
_INSTALLED = False


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans of the test, in the order they ended."""
    global _INSTALLED
    provider = setup_tracing("integration-tests")
    assert provider is not None, "tracing is disabled (OTEL_SDK_DISABLED?)"
    if not _INSTALLED:
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        _INSTALLED = True
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()
