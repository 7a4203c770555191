"""Writing a chaos run down: `chaos-latest.json`, `chaos-latest.md` and the timeline plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def summary_markdown(r: dict[str, Any]) -> str:
    """The faults as injected, the order counts, and the audit's verdict with its order ids."""
    mode = "quick (CHAOS_QUICK=1)" if r["quick"] else "full"
    orders, audit = r["orders"], r["audit"]
    config = r["config"]
    lines = [
        f"# Chaos run {r['started_at']} ({mode}): {'PASSED' if r['passed'] else 'FAILED'}",
        "",
        f"{config['rate_per_s']:.0f} orders/s offered for {config['seconds']:.0f} s "
        f"(open loop), {config['instances']} instances of transactions and of mailer; "
        f"run took {r['duration_s']:.0f} s.",
        "",
        "## Faults",
        "",
        "| at s | fault | action | target | pid -> new pid | took s | injected |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in r["faults"]["injected"]:
        action = {
            "kill": "SIGKILL",
            "pause": f"SIGSTOP {f['duration_s']:.0f}s",
            "disrupt": f"for {f['duration_s']:.0f}s",
        }[f["action"]]
        new_pid = f" -> {f['new_pid']}" if f["new_pid"] else ""
        done = "yes" if f["done"] else f"**no: {f['error']}**"
        lines.append(
            f"| {f['at_s']} | {f['kind']} | {action} | {f['target']} | {f['pid']}{new_pid} "
            f"| {f['took_s']} | {done} |"
        )
    for f in r["faults"]["skipped"]:
        lines.append(f"| - | {f['kind']} | skipped: {f['reason']} | | | | no |")
    refused = ", ".join(f"{k}: {v}" for k, v in orders["refused"].items()) or "none"
    settled = orders["settled_after_last_fault_s"]
    rows = [
        (
            "orders offered / accepted / final",
            f"{orders['offered']} / {orders['accepted']} / {orders['final']}",
        ),
        ("refused (not accepted), by answer", refused),
        (
            "confirmed / declined / failed",
            f"{orders['confirmed']} / {orders['declined']} / {orders['failed']}",
        ),
        ("lost (accepted, never final or confirmed unmailed)", audit["totals"]["lost"]),
        ("most succeeded charges on one order", orders["charges_per_order_max"]),
        ("orders charged twice", len(audit["double_charged"])),
        ("emails per confirmed order (count: orders)", orders["emails_per_confirmed_order"]),
        ("emails for orders not confirmed", len(audit["mailed_but_not_confirmed"])),
        (
            "duplicate emails after a mailer SIGKILL or a pause past its session "
            "(tolerated: <= 1 per SMTP connection)",
            len(audit["duplicates_after_mailer_kill"]),
        ),
        ("other duplicate emails", len(audit["other_duplicates"])),
        (
            "time to settle after the last fault",
            "never (deadline passed)" if settled is None else f"{settled} s",
        ),
        (
            "POST latency p50 / p99 / max ms",
            " / ".join(str(orders["post_latency_ms"][k]) for k in ("p50", "p99", "max")),
        ),
        ("processes restarted", ", ".join(r["restarted_processes"]) or "none"),
    ]
    lines += ["", "## Orders", "", "| | |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]
    lines += ["", "## Verdict", ""]
    lines += [f"- {p}" for p in audit["problems"]] or ["- every check passed"]
    for d in audit["other_duplicates"]:
        copies = ", ".join(f"{c - r['t0']:.1f}s" for c in d["copies"])
        cause = (
            f"a copy stored as the SMTP server woke ({d['smtp_outage']})"
            if d["smtp_outage"]
            else "no fault explains it"
        )
        lines.append(f"- NOT tolerated: order {d['order_id']} mailed at {copies}: {cause}")
    for d in audit["duplicates_after_mailer_kill"]:
        lines.append(
            f"- tolerated: order {d['order_id']} mailed {len(d['copies'])}x, "
            f"after the {d['mailer_kill']}"
        )
    events = r.get("supervisor_events") or []
    lines += ["", "## What the supervisor saw", ""]
    lines += [f"- {event}" for event in events] or ["- no process exited"]
    plots = ", ".join(f"`{p}`" for p in r.get("plots", [])) or "none (matplotlib missing)"
    lines += ["", f"Plot: {plots}", ""]
    return "\n".join(lines)


def write_results(results: dict[str, Any], results_dir: Path) -> list[Path]:
    """chaos-latest.json and chaos-latest.md; returns the paths written."""
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in (
        ("chaos-latest.json", json.dumps(results, indent=2)),
        ("chaos-latest.md", summary_markdown(results)),
    ):
        path = results_dir / name
        path.write_text(body + "\n")
        written.append(path)
    return written


def write_timeline(results: dict[str, Any], results_dir: Path) -> list[str]:
    """chaos-timeline.png: the bench's throughput/backlog plot with a band per fault."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    from kafka_restaurants.bench.plots import _throughput_and_lag

    samples = results.get("timeseries") or []
    if len(samples) < 2:
        return []
    # The bench's plot shades its order steps: here the one step is the whole load.
    shaped = {
        **results,
        "orders": {"steps": [{"started": results["t0"], "ended": results["load_end"]}]},
    }
    figure = _throughput_and_lag(plt, shaped)
    t0 = samples[0]["t"]
    top, bottom = figure.axes
    for index, fault in enumerate(results["faults"]["injected"]):
        start = results["t0"] + fault["at_s"] - t0
        end = start + max(fault["took_s"], 1.0)
        color = "red" if fault["action"] == "kill" else "orange"
        for axis in (top, bottom):
            axis.axvspan(start, end, color=color, alpha=0.25)
        top.annotate(
            fault["target"],
            (start, 1.0 - 0.08 * (index % 4)),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            va="top",
        )
    top.set_title(
        "Chaos run: orders and emails per second; red: SIGKILL (until restarted), orange: SIGSTOP"
    )
    results_dir.mkdir(parents=True, exist_ok=True)
    figure.savefig(results_dir / "chaos-timeline.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return ["chaos-timeline.png"]
