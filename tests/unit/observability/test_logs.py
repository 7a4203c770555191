"""The JSON and human log formats, and the order/trace every line carries."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kafka_restaurants.observability.logs import (
    HumanFormatter,
    JsonFormatter,
    OrderContextFilter,
    configure_logging,
    order_context,
    wants_json,
)
from kafka_restaurants.observability.tracing import tracer


def _record(msg: str = "order %s placed", *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("kafka_restaurants.api", logging.INFO, __file__, 1, msg, args, None)
    for name, value in extra.items():
        setattr(record, name, value)
    OrderContextFilter().filter(record)
    return record


def test_json_line_has_time_level_logger_message_and_service() -> None:
    line = JsonFormatter("api").format(_record("order %s placed", "o-1"))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "INFO"
    assert parsed["logger"] == "kafka_restaurants.api"
    assert parsed["msg"] == "order o-1 placed"
    assert parsed["service"] == "api"
    assert parsed["ts"].endswith("+00:00") and "T" in parsed["ts"]
    assert "order_id" not in parsed and "trace_id" not in parsed  # no order, no trace here


def test_json_line_carries_the_order_and_the_live_span(spans: InMemorySpanExporter) -> None:
    with tracer().start_as_current_span("work") as span, order_context("o-42"):
        parsed = json.loads(JsonFormatter().format(_record()))
    context = span.get_span_context()
    assert parsed["order_id"] == "o-42"
    assert parsed["trace_id"] == trace.format_trace_id(context.trace_id)
    assert parsed["span_id"] == trace.format_span_id(context.span_id)


def test_without_a_span_the_order_trace_id_is_used() -> None:
    with order_context("o-7", "ab" * 16):
        parsed = json.loads(JsonFormatter().format(_record()))
    assert parsed["order_id"] == "o-7" and parsed["trace_id"] == "ab" * 16
    assert "span_id" not in parsed
    # and the context does not leak past the block
    assert "order_id" not in json.loads(JsonFormatter().format(_record()))


def test_extras_and_exceptions_are_kept_and_multiline_messages_stay_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = _record("two\nlines", attempt=3, reason={"code": 503})
        record.exc_info = __import__("sys").exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["msg"] == "two\nlines"
    assert parsed["attempt"] == 3 and parsed["reason"] == {"code": 503}
    assert "ValueError: boom" in parsed["exc"]


def test_human_line_ends_with_the_order_and_trace() -> None:
    with order_context("o-9", "cd" * 16):
        text = HumanFormatter().format(_record("order %s placed", "o-9"))
    assert "INFO" in text and "kafka_restaurants.api: order o-9 placed" in text
    assert text.endswith(f"[order_id=o-9 trace_id={'cd' * 16}]")
    assert "[" not in HumanFormatter().format(_record("plain"))


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("log_format", "stream", "expected"),
    [
        ("json", _Tty(), True),
        ("text", io.StringIO(), False),
        ("auto", _Tty(), False),
        ("auto", io.StringIO(), True),
        ("JSON ", _Tty(), True),
    ],
)
def test_json_unless_a_terminal_or_asked_otherwise(
    log_format: str, stream: io.StringIO, expected: bool
) -> None:
    assert wants_json(log_format, stream) is expected


def test_configure_logging_replaces_its_own_handler_and_writes_json() -> None:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    try:
        first = configure_logging("INFO", "json", "mailer", io.StringIO())
        second = configure_logging("INFO", "json", "mailer", stream)
        assert first not in root.handlers and second in root.handlers
        with order_context("o-1"):
            logging.getLogger("kafka_restaurants.mailer").info("sent")
        [line] = stream.getvalue().splitlines()
        assert json.loads(line) | {"ts": None} == {
            "ts": None,
            "level": "INFO",
            "logger": "kafka_restaurants.mailer",
            "msg": "sent",
            "service": "mailer",
            "order_id": "o-1",
        }
    finally:
        root.removeHandler(second)
        root.setLevel(level)
