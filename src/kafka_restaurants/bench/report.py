"""Writing a run down: `latest.json`, a timestamped copy, the Markdown summary, the plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kafka_restaurants.bench.baseline import comparison_markdown
from kafka_restaurants.bench.ratio_goals import GIB_MB, at_path


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 6 with the measured value and whether it is met (None: not measured)."""

    def check(name: str, value: Any, ok: bool | None) -> dict[str, Any]:
        return {"goal": name, "value": value, "met": None if value is None else ok}

    rps = at_path(results, "search.rps")
    p99 = at_path(results, "search.latency_ms.p99")
    sustained = at_path(results, "orders.sustained_per_s")
    lost = at_path(results, "orders.lost")
    e2e_p99 = at_path(results, "orders.e2e_latency_ms.p99")
    at_rate = at_path(results, "orders.latency_rate_per_s")
    memory = at_path(results, "memory_mb.total_load")
    catalog = at_path(results, "system.catalog_restaurants")
    factor = _fmt(at_path(results, "orders.overload.factor"))
    overload_p99 = at_path(results, "orders.overload.post_latency_ms.p99")
    overload_lost = at_path(results, "orders.overload.lost")
    return [
        check(f"search >= 2,000 req/s (catalog {catalog})", rps, rps is not None and rps >= 2000),
        check("search p99 < 50 ms", p99, p99 is not None and p99 < 50),
        check(
            ">= 1,000 orders/s sustained 60 s with zero loss",
            sustained,
            sustained is not None and sustained >= 1000 and lost == 0,
        ),
        check(
            f"p99 POST-to-email < 500 ms at 300 orders/s (measured at {at_rate}/s)",
            e2e_p99,
            e2e_p99 is not None and e2e_p99 < 500 and at_rate == 300,
        ),
        check(
            "all processes < 1.5 GiB RSS under load",
            memory,
            memory is not None and memory < 1.5 * GIB_MB,
        ),
        check(
            f"overload ({factor}x sustained): POST p99 of accepted orders < 1 s, none lost",
            overload_p99,
            overload_p99 is not None and overload_p99 < 1000 and overload_lost == 0,
        ),
    ]


def _ratio_detail(r: dict[str, Any], goal: str) -> str:
    """The absolute numbers a ratio goal was computed from."""
    if goal.startswith("orders sustained"):
        return (
            f"{_fmt(at_path(r, 'orders.sustained_per_s'))} orders/s / "
            f"{_fmt(at_path(r, 'reference.kafka_roundtrip_msgs_per_s'))} msgs/s"
        )
    if goal.startswith("search req/s"):
        return (
            f"{_fmt(at_path(r, 'search.rps'))} / {_fmt(at_path(r, 'reference.fastapi_rps'))} req/s "
            f"(concurrency {_fmt(at_path(r, 'search.concurrency'))})"
        )
    if "60% of sustained" in goal:
        return f"sustained {_fmt(at_path(r, 'orders.sustained_per_s'))} orders/s"
    return ""


def ratio_goal_lines(r: dict[str, Any]) -> list[str]:
    """Issue 13's goals: each ratio (or latency) next to the absolute numbers behind it."""
    lines = [
        "## Goals as ratios (issue 13: measured in this run, so they hold on any box)",
        "",
        "| goal | measured | from | target | met |",
        "|---|---|---|---|---|",
    ]
    for goal in r["ratio_goals"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[goal["met"]]
        value = goal["value"]
        shown = f"{value:.4f}" if isinstance(value, float) and value < 1 else _fmt(value)
        lines.append(
            f"| {goal['goal']} | {shown} | {_ratio_detail(r, goal['goal'])} "
            f"| {goal['target']} | {met} |"
        )
    return lines


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.3g}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text}{unit}"


def _trio(results: dict[str, Any], prefix: str) -> str:
    """`p50 / p95 / p99 ms` of the latency summary at `prefix`."""
    return " / ".join(_fmt(at_path(results, f"{prefix}.{key}")) for key in ("p50", "p95", "p99"))


def _headline(r: dict[str, Any]) -> list[str]:
    search, orders, reference, ratios = r["search"], r["orders"], r["reference"], r["ratios"]
    audit = " / ".join(
        _fmt(at_path(r, f"orders.audit.{key}"))
        for key in ("accepted", "confirmed", "declined", "failed")
    )
    rows = [
        (
            f"search req/s (concurrency {search['concurrency']}, "
            f"median of {len(search['runs'])} runs)",
            _fmt(search["rps"]),
        ),
        ("search latency p50 / p95 / p99", f"{_trio(r, 'search.latency_ms')} ms"),
        (
            "box CPU busy during search / cores used by the generator / by other work",
            f"{_fmt(search.get('box_cpu_busy_pct'))}% / {_fmt(search.get('generator_cores'))}"
            f" / {_fmt(search.get('other_cores'))}",
        ),
        (
            "reference: bare FastAPI req/s",
            f"{_fmt(reference['fastapi_rps'])} (search = {_fmt(ratios['search_vs_fastapi'])}x)",
        ),
        ("orders sustained 60 s, zero loss", f"{_fmt(orders['sustained_per_s'])} /s"),
        (
            "reference: raw Kafka produce+consume",
            f"{_fmt(reference['kafka_roundtrip_msgs_per_s'])} msgs/s "
            f"(orders = {_fmt(ratios['orders_vs_kafka_roundtrip'])}x)",
        ),
        (
            f"POST-to-email p50 / p95 / p99 at {orders['latency_rate_per_s']}/s",
            f"{_trio(r, 'orders.e2e_latency_ms')} ms",
        ),
        ("audit: accepted / confirmed / declined / failed", audit),
        (
            "lost / double-charged / duplicate emails / unverified (no answer)",
            f"{orders['lost']} / {orders['double_charged']} / {orders['duplicate_emails']}"
            f" / {at_path(r, 'orders.audit.unverified')}",
        ),
        (
            "kitchen tickets: confirmed without / duplicated / for unconfirmed orders",
            " / ".join(
                _fmt(at_path(r, f"orders.audit.{key}"))
                for key in (
                    "confirmed_without_ticket",
                    "duplicate_tickets",
                    "tickets_for_unconfirmed",
                )
            )
            if at_path(r, "orders.audit.kitchen_checked")
            else "not checked (no kitchen secret)",
        ),
        (
            "memory idle / under load (all processes)",
            f"{_fmt(r['memory_mb']['total_idle'])} / {_fmt(r['memory_mb']['total_load'])} MB",
        ),
        (
            "CPU per order (all processes; the load generator's own beside it)",
            f"{_fmt(r['cpu_ms_per_order'])} ms ({_fmt(r['cpu'].get('generator_ms_per_order'))} ms)",
        ),
    ]
    return ["| metric | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]


def _steps(r: dict[str, Any]) -> list[str]:
    lines = [
        "| step | offered/s | achieved/s | accepted | errors | POST p99 ms "
        "| email p50 / p95 / p99 ms | drain s | cores: system / generator / other | held |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["orders"]["steps"]:
        e2e = s["e2e_latency_ms"]
        lines.append(
            f"| {s['label']} | {s['offered_rate_per_s']:.0f} | {s['achieved_rate_per_s']:.0f} | "
            f"{s['accepted']} | {s['errors']} | {_fmt(s['post_latency_ms']['p99'])} | "
            f"{_fmt(e2e['p50'])} / {_fmt(e2e['p95'])} / {_fmt(e2e['p99'])} | "
            f"{s['drain_seconds']:.1f} | {_fmt(s.get('system_cores'))} / "
            f"{_fmt(s.get('generator_cores'))} / {_fmt(s.get('other_cores'))} | "
            f"{'yes' if s['sustained'] else 'no: ' + s['verdict']} |"
        )
    return lines


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"


def overload_lines(r: dict[str, Any]) -> list[str]:
    """The overload step's table: refusals by reason, latency of what was accepted, its audit."""
    o = at_path(r, "orders.overload")
    if not isinstance(o, dict):
        return []
    reasons = ", ".join(f"{k} {v:,}" for k, v in o["refused_by_reason"].items()) or "none"
    goal = {True: "yes", False: "**no**", None: "n/a"}[o["goal_met"]]
    rows = [
        (
            "offered (x base rate) / achieved",
            f"{_fmt(o['offered_rate_per_s'])}/s ({_fmt(o['factor'])} x {_fmt(o['base_rate_per_s'])}"
            f"/s, {o['base']}) for {_fmt(o['seconds'])} s / {_fmt(o['achieved_rate_per_s'])}/s",
        ),
        (
            "sent / accepted / refused (503 + 429) / other errors",
            f"{o['sent']:,} / {o['accepted']:,} / {o['refused']:,} "
            f"({o['refused_503']:,} + {o['refused_429']:,}) / {o['other_errors']:,}",
        ),
        ("share refused", _pct(o["refused_share"])),
        ("refusals by reason", reasons),
        (
            "POST p50 / p95 / p99 of accepted orders",
            f"{_trio(r, 'orders.overload.post_latency_ms')} ms",
        ),
        (f"goal: accepted POST p99 < {_fmt(o['goal_post_p99_ms'])} ms", goal),
        (
            "POST-to-email p50 / p95 / p99 of accepted orders",
            f"{_trio(r, 'orders.overload.e2e_latency_ms')} ms "
            f"({o['emails_seen']:,} of {o['emails_expected']:,} emails)",
        ),
        (
            "audit of its accepted orders: confirmed / declined / failed / lost / unverified",
            " / ".join(
                _fmt(at_path(r, f"orders.overload.audit.{key}"))
                for key in ("confirmed", "declined", "failed", "lost", "unverified")
            ),
        ),
        ("emails to refused orders (must be 0)", _fmt(o.get("emails_for_refused"))),
    ]
    if o.get("error_samples"):
        rows.append(("other errors, samples", "; ".join(f"`{e}`" for e in o["error_samples"])))
    return ["| metric | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]


def summary_markdown(results: dict[str, Any]) -> str:
    """The human summary: headline table, goals, each order step, memory, profile."""
    r = results
    mode = "quick (BENCH_QUICK=1)" if r["quick"] else "full"
    machine = r["machine"]
    lines = [
        f"# Benchmark {r['started_at']} ({mode})",
        "",
        f"commit `{r['git']['commit'][:12]}`{' (dirty)' if r['git']['dirty'] else ''}; "
        f"{machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_mb']:,.0f} MB; "
        f"load average at start {machine['load_average'][0]}; "
        f"catalog {r['system']['catalog_restaurants']} restaurants; "
        f"everything (load generator included) on one box; run took {r['duration_s']:.0f} s.",
        "",
    ]
    if r.get("restarted_processes"):
        restarted = ", ".join(r["restarted_processes"])
        lines += [f"**Warning: restarted during the run: {restarted}.**", ""]
    lines += _headline(r)
    if r.get("baseline"):
        lines += ["", *comparison_markdown(r["baseline"])]
    lines += ["", "## Goals", "", "| goal | measured | met |", "|---|---|---|"]
    for goal in r["goals"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[goal["met"]]
        lines.append(f"| {goal['goal']} | {_fmt(goal['value'])} | {met} |")
    if r.get("ratio_goals"):
        lines += ["", *ratio_goal_lines(r)]
    lines += ["", "## Order steps (open loop; latency from the scheduled POST time)", ""]
    lines += _steps(r)
    if at_path(r, "orders.overload") is not None:
        lines += ["", "## Overload step (offered above capacity: refuse, keep accepted fast)", ""]
        lines += overload_lines(r)
    lines += ["", "## Memory (MB resident, each process with its children)", ""]
    lines += ["| process | idle | under load | CPU ms per order |", "|---|---|---|---|"]
    per_order = r["cpu"]["ms_per_order_by_process"] or {}
    for name, idle in r["memory_mb"]["idle"].items():
        load = r["memory_mb"]["load"].get(name)
        lines.append(f"| {name} | {_fmt(idle)} | {_fmt(load)} | {_fmt(per_order.get(name))} |")
    if r.get("profile"):
        lines += ["", "## Profile (py-spy, self time during the first sustained step)", ""]
        for name, frames in r["profile"].items():
            top = "; ".join(f"`{f['frame']}` {f['self_pct']}%" for f in frames[:5])
            lines.append(f"- **{name}**: {top}")
    plots = ", ".join(f"`{p}`" for p in r.get("plots", [])) or "none (matplotlib missing)"
    lines += ["", f"Plots: {plots}", ""]
    return "\n".join(lines)


def write_results(results: dict[str, Any], results_dir: Path) -> list[Path]:
    """latest.json, latest.md and their timestamped copies; returns the paths written."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "")[:15]
    text = json.dumps(results, indent=2, sort_keys=False)
    markdown = summary_markdown(results)
    written = []
    for name, body in (
        ("latest.json", text),
        (f"bench-{stamp}.json", text),
        ("latest.md", markdown),
        (f"bench-{stamp}.md", markdown),
    ):
        path = results_dir / name
        path.write_text(body + "\n")
        written.append(path)
    return written
