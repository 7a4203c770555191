"""Reading the processes' log files: one process, or all of them interleaved by time."""

from __future__ import annotations

import heapq
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# "2025-01-02 03:04:05,678" (Python's asctime), "[2025-01-02 03:04:05,678]" (the broker),
# "2025-01-02T03:04:05.678+00:00" (ISO): naive ones are local time.
_STAMP = re.compile(
    r"^\[?(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[,.](\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?"
)
# librdkafka writes its own lines to stderr: "%3|1735700000.123|FAIL|rdkafka#producer-1| ...".
_RDKAFKA = re.compile(r"^%\d\|(\d+(?:\.\d+)?)\|")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LogLine:
    """One line of a process's log and when it was written (inherited by continuation lines)."""

    at: datetime
    process: str
    text: str


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def line_time(text: str) -> datetime | None:
    """When a log line was written, from its JSON `ts` or its leading timestamp; else None."""
    record = _json_object(text)
    if record is not None and isinstance(record.get("ts"), str):
        text = record["ts"]
    librdkafka = _RDKAFKA.match(text)
    if librdkafka is not None:
        return datetime.fromtimestamp(float(librdkafka.group(1)), UTC)
    match = _STAMP.match(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    micros = (fraction or "0").ljust(6, "0")
    stamp = f"{day}T{clock}.{micros}"
    if zone:
        stamp += "+00:00" if zone == "Z" else zone
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.astimezone()  # naive: this machine's local time


def timed_lines(process: str, lines: Iterable[str], last: datetime = _EPOCH) -> Iterator[LogLine]:
    """The lines of one log, each with its time; tracebacks take their record's time."""
    for raw in lines:
        text = raw.rstrip("\n")
        if not text:
            continue
        last = line_time(text) or last
        yield LogLine(last, process, text)


def interleave(logs: Mapping[str, Iterable[str]]) -> Iterator[LogLine]:
    """All logs merged by time; each log is already in time order, so this streams."""
    return heapq.merge(
        *(timed_lines(process, lines) for process, lines in logs.items()), key=lambda x: x.at
    )


def render(line: LogLine, raw: bool = False, prefix_width: int = 0) -> str:
    """A line for people: JSON records become `time LEVEL logger: msg [order_id trace_id]`."""
    prefix = f"{line.process:<{prefix_width}} | " if prefix_width else ""
    record = None if raw else _json_object(line.text)
    if record is None:
        return prefix + line.text
    at = line.at.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    text = f"{at} {record.get('level', ''):<7} {record.get('logger', '')}: {record.get('msg', '')}"
    tags = [f"{name}={record[name]}" for name in ("order_id", "trace_id") if record.get(name)]
    if tags:
        text += f" [{' '.join(tags)}]"
    if record.get("exc"):
        text += "\n" + str(record["exc"])
    return prefix + text


def log_files(log_dir: Path, process: str | None = None) -> dict[str, Path]:
    """`name -> path` of the logs to show: one process (`web` means every `web-N`) or all."""
    found = {path.stem: path for path in sorted(log_dir.glob("*.log"))}
    if process is None:
        return found
    if process in found:
        return {process: found[process]}
    return {name: path for name, path in found.items() if name.startswith(f"{process}-")}


def complete_lines(path: Path, limit: int, consumed: dict[str, int]) -> Iterator[str]:
    """The whole lines in the first `limit` bytes of `path`; records in `consumed[path.stem]`
    where they end, so following the file goes on from exactly there."""
    consumed[path.stem] = 0
    with path.open("rb") as handle:
        for raw in handle:
            if consumed[path.stem] + len(raw) > limit or not raw.endswith(b"\n"):
                return
            consumed[path.stem] += len(raw)
            yield raw.decode("utf-8", errors="replace")


def follow(
    log_dir: Path,
    process: str | None,
    emit: Callable[[LogLine], None],
    should_stop: Callable[[], bool] = lambda: False,
    interval: float = 0.25,
    offsets: dict[str, int] | None = None,
) -> None:
    """Emit lines as they are appended to the logs (new log files are picked up too).

    `offsets` says where each log was already read up to; by default, its current end.
    """
    if offsets is None:
        offsets = {name: path.stat().st_size for name, path in log_files(log_dir, process).items()}
    partial: dict[str, str] = {}
    last_at: dict[str, datetime] = {}
    while not should_stop():
        fresh: list[LogLine] = []
        for name, path in log_files(log_dir, process).items():
            size = path.stat().st_size
            start = offsets.get(name, 0)
            if size < start:  # the file was recreated: read it from the top
                start, partial[name] = 0, ""
            if size == start:
                continue
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
            offsets[name] = start + len(data)
            chunk = partial.pop(name, "") + data.decode("utf-8", errors="replace")
            complete, _, rest = chunk.rpartition("\n")
            if rest:
                partial[name] = rest  # a line still being written
            lines = list(timed_lines(name, complete.splitlines(), last_at.get(name, _EPOCH)))
            if lines:
                last_at[name] = lines[-1].at
            fresh.extend(lines)
        for line in sorted(fresh, key=lambda x: x.at):
            emit(line)
        time.sleep(interval)
