"""`python -m kafka_restaurants.bench` (`make bench`): measure the system and write the results.

Environment: BENCH_QUICK=1 (small and fast), BENCH_RESULTS_DIR (default bench/results),
BENCH_RESTAURANTS (catalog size), BENCH_PROFILE=1 (py-spy during a sustained step),
BENCH_KEEP_DATA=1 (keep the bench data dir), BENCH_TARGET_API + BENCH_TARGET_MAILBOX +
BENCH_TARGET_BANK + BENCH_TARGET_BOOTSTRAP [+ BENCH_TARGET_DATA_DIR]: use a running system,
BENCH_BASELINE=<git rev>: benchmark that revision first, in its own worktree and virtualenv,
and report every headline figure as new / baseline.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Coroutine
from typing import Any

from rich.console import Console

from kafka_restaurants.bench.baseline import compare, measure_baseline
from kafka_restaurants.bench.config import config_from_env
from kafka_restaurants.bench.plots import write_plots
from kafka_restaurants.bench.progress import PhaseProgress
from kafka_restaurants.bench.ratio_goals import ratio_goals, with_derived_ratios
from kafka_restaurants.bench.report import goals, summary_markdown, write_results
from kafka_restaurants.bench.runner import PHASES, run_benchmark
from kafka_restaurants.bench.system import StartFailed


def _run(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    # uvloop (installed with uvicorn[standard]) makes the load generator cheaper still.
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> int:
    """Run the benchmark; exit 1 if the audit found an order lost, charged or mailed twice."""
    console = Console(stderr=True)
    try:
        config = config_from_env()
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    baseline = None
    if config.baseline:
        try:
            baseline = measure_baseline(config.baseline, console.print)
        except (ValueError, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            console.print(f"[red]The baseline could not be measured:[/red] {exc}")
            return 2
    try:
        with PhaseProgress(console, PHASES) as progress:
            results = _run(run_benchmark(config, progress))
    except StartFailed as exc:
        console.print(f"[red]The system did not start:[/red] {exc}")
        return 1
    with_derived_ratios(results)
    if baseline is not None:
        # Its whole run, for what the side-by-side table leaves out (steps, per process CPU).
        config.results_dir.mkdir(parents=True, exist_ok=True)
        (config.results_dir / "baseline-latest.json").write_text(json.dumps(baseline, indent=2))
        results["baseline"] = {
            "revision": baseline["revision"],
            "audit_exit_code": baseline["exit_code"],
            "figures": compare(results, with_derived_ratios(baseline)),
        }
    results["goals"] = goals(results)
    results["ratio_goals"] = ratio_goals(results)
    results["plots"] = write_plots(results, config.results_dir)
    written = write_results(results, config.results_dir)
    print(summary_markdown(results))
    console.print("Wrote " + ", ".join(str(p) for p in written))
    orders = results["orders"]
    broken = orders["lost"] + orders["double_charged"] + orders["duplicate_emails"]
    broken += orders["audit"]["unverified"]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
