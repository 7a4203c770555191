"""PNG plots of a run: latency against offered rate, throughput and lag over time, memory."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any


def write_plots(results: dict[str, Any], results_dir: Path) -> list[str]:
    """Write the plots next to the results; returns their file names ([] without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (
        ("latency_vs_rate.png", _latency_vs_rate),
        ("throughput_lag.png", _throughput_and_lag),
        ("memory.png", _memory),
    ):
        figure = draw(plt, results)
        if figure is not None:
            figure.savefig(results_dir / name, dpi=110, bbox_inches="tight")
            plt.close(figure)
            written.append(name)
    return written


def _latency_vs_rate(plt: Any, results: dict[str, Any]) -> Any:
    steps = sorted(results["orders"]["steps"], key=lambda s: s["offered_rate_per_s"])
    if not steps:
        return None
    figure, axis = plt.subplots(figsize=(8, 5))
    rates = [s["offered_rate_per_s"] for s in steps]
    for key, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
        values = [s["e2e_latency_ms"][key] for s in steps]
        axis.plot(rates, values, style, label=f"POST to email {key}")
    axis.plot(rates, [s["post_latency_ms"]["p99"] for s in steps], "x-.", label="POST answer p99")
    for step in steps:
        if not step["sustained"]:
            axis.axvline(step["offered_rate_per_s"], color="red", alpha=0.15)
    axis.axhline(500, color="grey", linestyle="--", linewidth=0.8, label="goal: p99 < 500 ms")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("offered orders/s (open loop; red: not sustained)")
    axis.set_ylabel("latency, ms")
    axis.set_title("Order latency against offered rate")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def _throughput_and_lag(plt: Any, results: dict[str, Any]) -> Any:
    samples = results.get("timeseries") or []
    if len(samples) < 2:
        return None
    t0 = samples[0]["t"]
    t = [s["t"] - t0 for s in samples[1:]]

    def per_second(key: str) -> list[float]:
        return [
            (b[key] - a[key]) / max(1e-3, b["t"] - a["t"]) for a, b in itertools.pairwise(samples)
        ]

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    top.plot(t, per_second("sent"), label="orders sent/s")
    top.plot(t, per_second("emailed"), label="emails stored/s")
    top.set_ylabel("per second")
    top.set_title("Throughput and lag over time")
    for step in results["orders"]["steps"]:
        top.axvspan(step["started"] - t0, step["ended"] - t0, alpha=0.08)
    top.legend(fontsize=8)
    top.grid(True, alpha=0.3)
    backlog = [s["awaiting_email"] for s in samples[1:]]
    bottom.plot(t, backlog, label="accepted, no confirmation email yet")
    groups = sorted({g for s in samples for g in s["lag"]})
    for group in groups:
        bottom.plot(t, [s["lag"].get(group) for s in samples[1:]], label=f"Kafka lag {group}")
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("messages")
    bottom.legend(fontsize=8)
    bottom.grid(True, alpha=0.3)
    return figure


def _memory(plt: Any, results: dict[str, Any]) -> Any:
    idle = {k: v for k, v in results["memory_mb"]["idle"].items() if k != "total"}
    if not idle:
        return None
    load = results["memory_mb"]["load"]
    names = list(idle)
    figure, axis = plt.subplots(figsize=(9, 4))
    positions = range(len(names))
    axis.bar([p - 0.2 for p in positions], [idle[n] for n in names], width=0.4, label="idle")
    axis.bar([p + 0.2 for p in positions], [load.get(n, 0) for n in names], width=0.4, label="load")
    axis.set_xticks(list(positions), names, rotation=30)
    axis.set_ylabel("resident MB")
    axis.set_title(
        f"Memory: {results['memory_mb']['total_idle']:.0f} MB idle, "
        f"{results['memory_mb']['total_load']:.0f} MB under load"
    )
    axis.legend()
    return figure
