"""`make bench` in its short mode (BENCH_QUICK=1): the harness runs end to end and writes a
complete `latest.json`. The numbers themselves are not judged here; correctness is."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.kafka import kafka_libs_or_skip

# Keys other tools read (issue 6), with whether the value must be strictly positive.
NUMERIC_KEYS = {
    "search.rps": True,
    "search.latency_ms.p50": True,
    "search.latency_ms.p95": True,
    "search.latency_ms.p99": True,
    "orders.sustained_per_s": False,  # a slow box may sustain no tried rate; still a number
    "orders.e2e_latency_ms.p50": True,
    "orders.e2e_latency_ms.p95": True,
    "orders.e2e_latency_ms.p99": True,
    "orders.latency_rate_per_s": True,
    "orders.lost": False,
    "orders.double_charged": False,
    "orders.duplicate_emails": False,
    "orders.overload.offered_rate_per_s": True,
    "orders.overload.sent": True,
    "orders.overload.refused_share": False,  # the box may take all of 3x: still a number
    "orders.overload.lost": False,
    "reference.fastapi_rps": True,
    "reference.kafka_roundtrip_msgs_per_s": True,
    "memory_mb.total_idle": True,
    "memory_mb.total_load": True,
    "cpu_ms_per_order": True,
}

QuickRun = tuple[subprocess.CompletedProcess[str], Path]


def lookup(results: dict[str, Any], dotted: str) -> Any:
    value: Any = results
    for part in dotted.split("."):
        assert isinstance(value, dict) and part in value, f"latest.json has no {dotted}"
        value = value[part]
    return value


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    kafka_libs_or_skip()
    results_dir = tmp_path_factory.mktemp("bench-results")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update({"BENCH_QUICK": "1", "BENCH_RESULTS_DIR": str(results_dir)})
    finished = subprocess.run(
        [sys.executable, "-m", "kafka_restaurants.bench"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    return finished, results_dir


@pytest.mark.timeout(450)
def test_quick_bench_writes_every_key_with_a_number(
    quick_run: QuickRun,
) -> None:
    finished, results_dir = quick_run
    assert finished.returncode == 0, f"bench failed:\n{finished.stdout}\n{finished.stderr[-4000:]}"
    results = json.loads((results_dir / "latest.json").read_text())
    assert results["quick"] is True
    for key, positive in NUMERIC_KEYS.items():
        value = lookup(results, key)
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{key} = {value!r}"
        assert value > 0 if positive else value >= 0, f"{key} = {value!r}"
    assert lookup(results, "search.latency_ms.p50") <= lookup(results, "search.latency_ms.p99")
    assert results["orders"]["steps"], "no order step was recorded"
    assert results["search"]["errors"] == 0


@pytest.mark.timeout(450)
def test_quick_bench_audit_found_no_loss(
    quick_run: QuickRun,
) -> None:
    finished, results_dir = quick_run
    assert finished.returncode == 0, finished.stderr[-4000:]
    audit = json.loads((results_dir / "latest.json").read_text())["orders"]["audit"]
    assert audit["accepted"] > 0
    assert audit["accepted"] == audit["confirmed"] + audit["declined"], audit
    assert audit["declined"] > 0, "the mix includes declined cards; none came back declined"
    assert audit["lost"] == 0 and audit["unverified"] == 0, audit
    assert audit["double_charged"] == 0, audit
    assert audit["duplicate_emails"] == 0 and audit["emails_for_declined"] == 0, audit
    # The kitchen shows exactly one ticket per confirmed order, none for declined ones.
    assert audit["kitchen_checked"] is True, audit
    assert audit["confirmed_without_ticket"] == 0 and audit["duplicate_tickets"] == 0, audit
    assert audit["tickets_for_unconfirmed"] == 0, audit
    # The overload step's accepted orders are in that audit, and none of them was lost.
    overload = json.loads((results_dir / "latest.json").read_text())["orders"]["overload"]
    assert overload["audit"]["accepted"] == overload["accepted"], overload["audit"]
    assert overload["lost"] == 0 and overload["audit"]["double_charged"] == 0, overload["audit"]
    assert overload["emails_for_refused"] == 0, "a refused order was mailed: it was half-written"


@pytest.mark.timeout(450)
def test_quick_bench_writes_summary_copies_and_stops_its_system(
    quick_run: QuickRun,
) -> None:
    finished, results_dir = quick_run
    assert finished.returncode == 0, finished.stderr[-4000:]
    summary = (results_dir / "latest.md").read_text()
    assert "| metric | value |" in summary and "## Goals" in summary
    assert "## Overload step" in summary and "share refused" in summary
    assert len(list(results_dir.glob("bench-*.json"))) == 1
    assert len(list(results_dir.glob("bench-*.md"))) == 1
    if importlib.util.find_spec("matplotlib") is not None:
        for plot in ("latency_vs_rate.png", "throughput_lag.png", "memory.png"):
            assert (results_dir / plot).stat().st_size > 0, plot
    api = json.loads((results_dir / "latest.json").read_text())["system"]["api"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api}/healthz", timeout=2)
