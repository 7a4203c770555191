"""`BENCH_BASELINE=<git rev> make bench`: the same benchmark of another revision, in the same run.

These machines are shared and noisy: the same code measured 2,052 and 531 search req/s on two
days. A speed-up is only shown by measuring the old and the new code back to back on the same
box, so the baseline revision is checked out in a git worktree with a virtualenv of its own
(set up by that revision's own `make setup`), benchmarked first with the same BENCH_* settings,
and every headline figure is reported as new / baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE = Path.home() / ".cache" / "kafka-restaurants" / "baseline"


@dataclass(frozen=True)
class Figure:
    """One headline number: where it is in the results, and which way is better."""

    label: str
    path: str
    higher_is_better: bool


FIGURES = (
    Figure("search req/s", "search.rps", True),
    Figure("search p99 ms", "search.latency_ms.p99", False),
    Figure("orders sustained per s", "orders.sustained_per_s", True),
    Figure("POST-to-email p99 ms", "orders.e2e_latency_ms.p99", False),
    Figure("overload: POST p99 ms, accepted", "orders.overload.post_latency_ms.p99", False),
    Figure("CPU ms per order (whole system)", "cpu_ms_per_order", False),
    Figure("total RSS under load MB", "memory_mb.total_load", False),
    Figure("reference: bare FastAPI req/s", "reference.fastapi_rps", True),
    Figure("reference: raw Kafka msgs/s", "reference.kafka_roundtrip_msgs_per_s", True),
    Figure("ratio: search / bare FastAPI", "ratios.search_vs_fastapi", True),
    Figure("ratio: orders / raw Kafka", "ratios.orders_vs_kafka_roundtrip", True),
    Figure(
        "CPU ms per order, first order step (same rate)",
        "ratios.cpu_ms_per_order_first_step",
        False,
    ),
    Figure("POST p99 ms, worst step <= 60% of sustained", "ratios.post_p99_ms_below_60pct", False),
    Figure(
        "POST-to-email p99 ms, worst step <= 60% of sustained",
        "ratios.e2e_p99_ms_below_60pct",
        False,
    ),
)


def figure(results: Mapping[str, Any], path: str) -> float | None:
    """The number at a dotted `path` of a results document, None if it is not there."""
    value: Any = results
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def compare(new: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each headline figure of both runs and new / baseline (None where either is missing)."""
    rows = []
    for f in FIGURES:
        ours, theirs = figure(new, f.path), figure(baseline, f.path)
        ratio = round(ours / theirs, 3) if ours is not None and theirs else None
        better = None if ratio is None else (ratio >= 1) == f.higher_is_better
        rows.append(
            {
                "figure": f.label,
                "path": f.path,
                "new": ours,
                "baseline": theirs,
                "new_over_baseline": ratio,
                "better": better if ratio != 1 else None,
            }
        )
    return rows


def comparison_markdown(baseline: Mapping[str, Any]) -> list[str]:
    """The side-by-side table of the report."""
    rev = baseline["revision"]
    lines = [
        f"## Side by side with {rev['rev']} ({rev['commit'][:10]}), measured first in this run",
        "",
        "| figure | this revision | baseline | new / baseline |",
        "|---|---|---|---|",
    ]
    for row in baseline["figures"]:
        ratio = row["new_over_baseline"]
        mark = {True: " (better)", False: " (worse)", None: ""}[row["better"]]
        lines.append(
            f"| {row['figure']} | {_fmt(row['new'])} | {_fmt(row['baseline'])} "
            f"| {_fmt(ratio)}{mark if ratio is not None else ''} |"
        )
    return [*lines, ""]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"


Runner = Callable[..., subprocess.CompletedProcess[str]]


def resolve(rev: str, repo: Path, run: Runner = subprocess.run) -> str:
    """The commit `rev` names in `repo`; ValueError naming BENCH_BASELINE if none."""
    found = run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0 or not found.stdout.strip():
        raise ValueError(f"BENCH_BASELINE: {rev!r} is not a commit of {repo}")
    return found.stdout.strip()


def prepare(commit: str, repo: Path, say: Callable[[str], None], cache: Path = CACHE) -> Path:
    """A worktree of `commit` with its own virtualenv, reused by later runs of the same commit."""
    tree = cache / commit
    ready = tree / ".venv" / ".baseline-ready"
    if ready.exists():
        return tree
    if not tree.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], check=True)
        say(f"baseline: git worktree of {commit[:10]} in {tree}")
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), commit],
            check=True,
            capture_output=True,
        )
    say("baseline: its own virtualenv (make setup of that revision)")
    subprocess.run(["make", "-C", str(tree), "setup"], check=True)
    ready.touch()
    return tree


def run_baseline(tree: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """That revision's `python -m kafka_restaurants.bench`, with our BENCH_* settings."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as results_dir:
        child = {k: v for k, v in env.items() if k != "BENCH_BASELINE"}
        child.update({"BENCH_RESULTS_DIR": results_dir, "PYTHONPATH": ""})
        # Its exit code says whether its own audit passed: reported, not fatal to this run.
        finished = subprocess.run(
            [str(tree / ".venv" / "bin" / "python"), "-m", "kafka_restaurants.bench"],
            cwd=tree,
            env=child,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        latest = Path(results_dir) / "latest.json"
        if not latest.exists():
            raise RuntimeError(
                f"the baseline's benchmark wrote no results (exit {finished.returncode})"
            )
        results: dict[str, Any] = json.loads(latest.read_text())
    results["exit_code"] = finished.returncode
    return results


def measure_baseline(rev: str, say: Callable[[str], None]) -> dict[str, Any]:
    """Set up and benchmark the baseline revision; its full results and which commit it was."""
    repo = Path(__file__).resolve().parents[3]
    commit = resolve(rev, repo)
    tree = prepare(commit, repo, say)
    say(f"baseline: benchmarking {rev} ({commit[:10]}) first")
    results = run_baseline(tree, os.environ)
    results["revision"] = {"rev": rev, "commit": commit}
    return results
