"""Log lines as one JSON object each (files, containers) or readable text (a terminal), each
carrying the order and the trace it is about."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

# The order the current code is working on; handlers and routes set it, every line carries it.
ORDER_ID: ContextVar[str | None] = ContextVar("order_id", default=None)
# The trace of that order when no span is recording it (OTEL_SDK_DISABLED, say).
TRACE_ID: ContextVar[str | None] = ContextVar("trace_id", default=None)

# Attributes every LogRecord has; anything else on a record was passed with `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "order_id", "trace_id", "span_id", "taskName", "color_message"}
)
_HUMAN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


@contextmanager
def order_context(order_id: str | None, trace_id: str | None = None) -> Iterator[None]:
    """Log lines inside the block name `order_id` (and `trace_id` when no span is live)."""
    order_token = ORDER_ID.set(order_id)
    trace_token = TRACE_ID.set(trace_id)
    try:
        yield
    finally:
        TRACE_ID.reset(trace_token)
        ORDER_ID.reset(order_token)


def current_trace_ids() -> tuple[str | None, str | None]:
    """(trace_id, span_id) of the current span as hex, or the order's trace id and None."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
    return TRACE_ID.get(), None


class OrderContextFilter(logging.Filter):
    """Adds `order_id`, `trace_id` and `span_id` to every record that does not have them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "order_id", None) is None:
            record.order_id = ORDER_ID.get()
        if getattr(record, "trace_id", None) is None:
            record.trace_id, record.span_id = current_trace_ids()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, service, order_id, trace_id, extras."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.service:
            line["service"] = self.service
        for name in ("order_id", "trace_id", "span_id"):
            value = getattr(record, name, None)
            if value:
                line[name] = value
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """The classic readable line, with the order and trace at the end when there are some."""

    def __init__(self) -> None:
        super().__init__(_HUMAN_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        tags = [
            f"{name}={value}"
            for name in ("order_id", "trace_id")
            if (value := getattr(record, name, None))
        ]
        if not tags:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{' '.join(tags)}]{newline}{rest}"


def wants_json(log_format: str, stream: TextIO) -> bool:
    """JSON when asked for, or when `auto` and the stream is not a terminal."""
    choice = log_format.strip().lower()
    if choice == "json":
        return True
    if choice in {"text", "human", "console"}:
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def configure_logging(
    level: str = "INFO",
    log_format: str = "auto",
    service: str | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log line to `stream` (stderr) in the format LOG_FORMAT asks for."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter(service) if wants_json(log_format, stream) else HumanFormatter()
    )
    handler.addFilter(OrderContextFilter())
    handler._kafka_restaurants = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_kafka_restaurants", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
