"""`restaurants chaos` in its quick mode (CHAOS_QUICK=1), as CI runs it: a real system on a
PostgreSQL server of its own with two instances of each consumer, every process kind SIGKILLed,
consumers and the SMTP server paused, the database crashed, the bank refusing and hanging
charges; the audit must pass and every scheduled fault must have been done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kafka_restaurants.bench.postgres import postgres_bin
from kafka_restaurants.chaos.schedule import SKIP, ChaosConfig
from tests.fixtures.components import require
from tests.fixtures.kafka import kafka_libs_or_skip


@pytest.mark.timeout(420)
def test_quick_chaos_run_injects_every_fault_and_the_audit_passes(tmp_path: Path) -> None:
    kafka_libs_or_skip()
    require(postgres_bin("postgres") is not None, "PostgreSQL server binaries")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOS_")}
    env.update({"CHAOS_QUICK": "1", "CHAOS_POSTGRES": "1", "CHAOS_RESULTS_DIR": str(tmp_path)})
    finished = subprocess.run(
        [sys.executable, "-m", "kafka_restaurants.cli.main", "chaos"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = f"{finished.stdout[-6000:]}\n{finished.stderr[-4000:]}"
    results = json.loads((tmp_path / "chaos-latest.json").read_text())
    assert (tmp_path / "chaos-latest.md").read_text().startswith("# Chaos run")

    assert results["config"]["database"] == "postgresql"
    scheduled = [f for f in ChaosConfig.preset(True, postgres=True).faults if f.action != SKIP]
    injected = results["faults"]["injected"]
    assert sorted((f["action"], f["target"]) for f in injected) == sorted(
        (f.action, f.target) for f in scheduled
    )
    assert all(f["done"] for f in injected), output
    # A killed process was replaced by a new one: the supervisor restarted it.
    assert all(f["new_pid"] not in (0, f["pid"]) for f in injected if f["action"] == "kill")
    assert {"database outage", "bank error and timeout burst"} <= {f["kind"] for f in injected}
    assert results["faults"]["skipped"] == []

    # Two instances of each consumer really shared their group's partitions before the faults.
    groups = results["consumer_groups_before_faults"]
    assert set(groups) == {"transaction-service", "confirmation-service"}
    for held in groups.values():
        assert len(held) == 2 and all(held), groups
        assert len({p for partitions in held for p in partitions}) == sum(map(len, held))

    orders = results["orders"]
    assert orders["accepted"] > 0.5 * orders["offered"], output
    assert orders["final"] == orders["accepted"], output
    assert results["audit"]["problems"] == [], output
    assert results["passed"] is True and finished.returncode == 0, output
