"""`restaurants logs`: times read from every log format, logs merged in time order."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from kafka_restaurants.observability.logfiles import (
    LogLine,
    complete_lines,
    follow,
    interleave,
    line_time,
    log_files,
    render,
)


def _json(ts: str, msg: str, **fields: str) -> str:
    return json.dumps({"ts": ts, "level": "INFO", "logger": "x", "msg": msg, **fields})


def test_times_come_from_json_python_and_broker_lines() -> None:
    assert line_time(_json("2025-03-01T10:00:00.250+00:00", "hi")) == datetime(
        2025, 3, 1, 10, 0, 0, 250000, tzinfo=UTC
    )
    local = line_time("2025-03-01 10:00:00,250 INFO    kafka_restaurants.api: hello")
    assert local == datetime(2025, 3, 1, 10, 0, 0, 250000).astimezone()
    broker = line_time("[2025-03-01 10:00:01,000] INFO [KafkaServer id=1] started")
    assert broker == datetime(2025, 3, 1, 10, 0, 1).astimezone()
    rdkafka = line_time("%3|1740823201.500|FAIL|rdkafka#producer-1| [thrd:x]: refused")
    assert rdkafka == datetime(2025, 3, 1, 10, 0, 1, 500000, tzinfo=UTC)
    assert line_time("Traceback (most recent call last):") is None
    assert line_time('{"not": "a log"}') is None


def test_logs_are_interleaved_by_time_and_continuations_stay_with_their_line() -> None:
    api = [
        _json("2025-03-01T10:00:00.100+00:00", "a1"),
        _json("2025-03-01T10:00:00.300+00:00", "a2"),
    ]
    mailer = [
        _json("2025-03-01T10:00:00.200+00:00", "m1"),
        "Traceback (most recent call last):",
        "ValueError: x",
        _json("2025-03-01T10:00:00.400+00:00", "m2"),
    ]
    merged = [
        (line.process, json.loads(line.text)["msg"] if line.text.startswith("{") else line.text)
        for line in interleave({"api": api, "mailer": mailer})
    ]
    assert merged == [
        ("api", "a1"),
        ("mailer", "m1"),
        ("mailer", "Traceback (most recent call last):"),
        ("mailer", "ValueError: x"),
        ("api", "a2"),
        ("mailer", "m2"),
    ]


def test_json_lines_render_for_people_with_order_and_trace() -> None:
    text = _json("2025-03-01T10:00:00.100+00:00", "order placed", order_id="o-1", trace_id="ab")
    line = LogLine(datetime(2025, 3, 1, 10, tzinfo=UTC), "api", text)
    shown = render(line, prefix_width=6)
    assert (
        shown.startswith("api    | ")
        and "INFO    x: order placed [order_id=o-1 trace_id=ab]" in shown
    )
    assert render(line, raw=True) == text
    plain = LogLine(datetime(2025, 3, 1, tzinfo=UTC), "kafka", "[2025-03-01 ...] INFO started")
    assert render(plain) == plain.text


def test_a_process_name_selects_its_log_or_all_its_replicas(tmp_path: Path) -> None:
    for name in ("api", "web-1", "web-2", "webhook", "supervisor"):
        (tmp_path / f"{name}.log").write_text("")
    assert list(log_files(tmp_path, "api")) == ["api"]
    assert list(log_files(tmp_path, "web")) == ["web-1", "web-2"]
    assert list(log_files(tmp_path, "nothing")) == []
    assert set(log_files(tmp_path)) == {"api", "web-1", "web-2", "webhook", "supervisor"}


def test_complete_lines_stop_where_the_snapshot_ends(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_bytes(b"one\ntwo\nthree-being-writ")
    consumed: dict[str, int] = {}
    assert list(complete_lines(log, log.stat().st_size, consumed)) == ["one\n", "two\n"]
    assert consumed == {"api": 8}
    assert list(complete_lines(log, 5, consumed)) == ["one\n"] and consumed == {"api": 4}


def test_follow_prints_only_new_complete_lines_of_old_and_new_logs(tmp_path: Path) -> None:
    (tmp_path / "api.log").write_text(_json("2025-03-01T10:00:00+00:00", "old") + "\n")
    seen: list[LogLine] = []
    done = threading.Event()

    def emit(line: LogLine) -> None:
        seen.append(line)
        if len(seen) == 2:
            done.set()

    offsets = {"api": (tmp_path / "api.log").stat().st_size}
    worker = threading.Thread(
        target=follow, args=(tmp_path, None, emit, done.is_set, 0.01, offsets), daemon=True
    )
    worker.start()
    with (tmp_path / "api.log").open("a") as api:
        api.write(_json("2025-03-01T10:00:02+00:00", "new"))  # no newline yet: not shown
        api.flush()
        (tmp_path / "mailer.log").write_text(_json("2025-03-01T10:00:01+00:00", "m") + "\n")
        assert not done.wait(0.1)
        api.write("\n")
    assert done.wait(5)
    worker.join(5)
    assert [(line.process, json.loads(line.text)["msg"]) for line in seen] == [
        ("mailer", "m"),
        ("api", "new"),
    ]
