"""BENCH_BASELINE: which figures are compared, how, and a revision that is not one. No system."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kafka_restaurants.bench.baseline import FIGURES, compare, comparison_markdown, figure, resolve
from kafka_restaurants.bench.config import config_from_env

ROOT = Path(__file__).resolve().parents[3]


def results(search_rps: float, sustained: float, cpu_ms: float) -> dict[str, object]:
    return {
        "search": {"rps": search_rps, "latency_ms": {"p99": 30.0}},
        "orders": {"sustained_per_s": sustained, "e2e_latency_ms": {"p99": 400}},
        "cpu_ms_per_order": cpu_ms,
        "reference": {"fastapi_rps": 2000.0, "kafka_roundtrip_msgs_per_s": 20000.0},
        "ratios": {"search_vs_fastapi": search_rps / 2000, "orders_vs_kafka_roundtrip": None},
    }


def test_each_figure_is_new_over_baseline_and_says_which_way_is_better() -> None:
    rows = {r["figure"]: r for r in compare(results(800, 150, 10), results(400, 100, 20))}
    assert set(rows) == {f.label for f in FIGURES}
    assert rows["search req/s"]["new_over_baseline"] == 2.0
    assert rows["search req/s"]["better"] is True
    assert rows["CPU ms per order (whole system)"]["new_over_baseline"] == 0.5
    assert rows["CPU ms per order (whole system)"]["better"] is True  # lower is better
    assert rows["orders sustained per s"]["new_over_baseline"] == 1.5
    assert rows["reference: bare FastAPI req/s"]["better"] is None  # the same: neither
    # Missing on either side (an older revision without the overload step): no ratio.
    overload = rows["overload: POST p99 ms, accepted"]
    assert (overload["new"], overload["new_over_baseline"], overload["better"]) == (None,) * 3
    assert rows["ratio: orders / raw Kafka"]["new_over_baseline"] is None


def test_the_report_has_a_side_by_side_table() -> None:
    table = comparison_markdown(
        {
            "revision": {"rev": "v0.1", "commit": "0123456789abcdef"},
            "figures": compare(results(800, 150, 10), results(400, 100, 20)),
        }
    )
    text = "\n".join(table)
    assert "Side by side with v0.1 (0123456789)" in text
    assert "| search req/s | 800.0 | 400.0 | 2 (better) |" in text
    assert "| CPU ms per order (whole system) | 10.0 | 20.0 | 0.5 (better) |" in text


def test_figures_are_read_by_dotted_path_and_only_numbers_count() -> None:
    doc = {"a": {"b": 3, "flag": True, "text": "x"}}
    assert figure(doc, "a.b") == 3.0
    assert figure(doc, "a.flag") is None and figure(doc, "a.text") is None
    assert figure(doc, "a.missing.deeper") is None


def test_the_baseline_revision_must_name_a_commit() -> None:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert resolve("HEAD", ROOT) == head
    with pytest.raises(ValueError, match="BENCH_BASELINE: 'no-such-rev'"):
        resolve("no-such-rev", ROOT)
    assert config_from_env({"BENCH_BASELINE": " v1 "}).baseline == "v1"
    assert config_from_env({}).baseline is None


def test_make_bench_with_a_bad_baseline_stops_before_starting_anything() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "kafka_restaurants.bench"],
        env={"BENCH_BASELINE": "no-such-rev", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert finished.returncode == 2, finished.stderr
    assert "no-such-rev" in finished.stderr
