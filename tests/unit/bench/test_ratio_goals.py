"""Issue 13's goals as ratios: how they are derived from a run, compared and reported. No I/O."""

from __future__ import annotations

from typing import Any

from kafka_restaurants.bench.baseline import compare
from kafka_restaurants.bench.ratio_goals import (
    latency_below_saturation,
    ratio_goals,
    with_derived_ratios,
)
from kafka_restaurants.bench.report import ratio_goal_lines


def step(offered: float, post_p99: float, e2e_p99: float) -> dict[str, Any]:
    return {
        "label": "latency",
        "offered_rate_per_s": offered,
        "post_latency_ms": {"p99": post_p99},
        "e2e_latency_ms": {"p99": e2e_p99},
    }


def results(sustained: float, steps: list[dict[str, Any]], **ratios: float) -> dict[str, Any]:
    return {
        "search": {"rps": 700.0, "concurrency": 32, "latency_ms": {"p99": 40.0}},
        "reference": {"fastapi_rps": 2000.0, "kafka_roundtrip_msgs_per_s": 20000.0},
        "orders": {"sustained_per_s": sustained, "lost": 0, "steps": steps},
        "ratios": {
            "search_vs_fastapi": 0.35,
            "orders_vs_kafka_roundtrip": sustained / 20000.0,
            **ratios,
        },
        "memory_mb": {"total_load": 1400.0},
    }


def test_latency_counts_only_the_steps_up_to_60_percent_of_the_sustained_rate() -> None:
    run = results(
        100,
        [step(20, 50, 300), step(60, 150, 450), step(61, 900, 2000), step(100, 1500, 3000)],
    )
    assert latency_below_saturation(run) == {
        "post_p99_ms_below_60pct": 150.0,
        "e2e_p99_ms_below_60pct": 450.0,
        "highest_rate_below_60pct": 60.0,
    }


def test_nothing_below_saturation_is_not_measured_rather_than_met() -> None:
    run = results(20, [step(50, 10, 10)])
    assert latency_below_saturation(run)["post_p99_ms_below_60pct"] is None
    flat = {g["goal"]: g for g in ratio_goals(run)}
    post = next(g for name, g in flat.items() if name.startswith("POST p99"))
    assert post["met"] is None


def test_each_goal_is_met_or_not_by_its_threshold() -> None:
    met = {g["target"]: g["met"] for g in ratio_goals(results(240, [step(100, 150, 450)]))}
    assert met == {
        ">= 0.012": True,
        ">= 0.35": True,
        "< 50": True,
        "< 200": True,
        "< 500": True,
        "< 1,536": True,
    }
    slow = results(100, [step(50, 250, 600)])
    slow["orders"]["lost"] = 0
    verdicts = [g["met"] for g in ratio_goals(slow)]
    # 100 / 20,000 = 0.005 < 0.012; POST 250 ms and email 600 ms are over their goals.
    assert verdicts == [False, True, True, False, False, True]
    lost = results(240, [step(100, 150, 450)])
    lost["orders"]["lost"] = 1
    assert ratio_goals(lost)[0]["met"] is False


def test_a_baseline_written_without_the_latency_ratios_gets_them_for_the_comparison() -> None:
    new = with_derived_ratios(results(200, [step(100, 100, 300)]))
    old = with_derived_ratios(results(100, [step(50, 400, 800)]))
    rows = {r["path"]: r for r in compare(new, old)}
    post = rows["ratios.post_p99_ms_below_60pct"]
    assert (post["new"], post["baseline"], post["new_over_baseline"]) == (100.0, 400.0, 0.25)
    assert post["better"] is True
    assert rows["ratios.e2e_p99_ms_below_60pct"]["new_over_baseline"] == 0.375


def test_the_report_shows_each_ratio_next_to_the_absolute_numbers() -> None:
    run = results(240, [step(100, 150, 450)])
    run["ratio_goals"] = ratio_goals(run)
    text = "\n".join(ratio_goal_lines(run))
    assert "| orders sustained 60 s, zero loss / raw Kafka round trip | 0.0120 " in text
    assert "240 orders/s / 20,000.0 msgs/s | >= 0.012 | yes |" in text
    assert "700.0 / 2,000.0 req/s (concurrency 32) | >= 0.35 | yes |" in text
    assert "POST-to-email p99 ms at every rate <= 60% of sustained (up to 100/s) | 450.0" in text


def test_cpu_per_order_is_compared_at_the_first_step_both_revisions_offer_alike() -> None:
    def run(cores: float) -> dict[str, Any]:
        first = {**step(50, 100, 300), "system_cores": cores, "achieved_rate_per_s": 50.0}
        return with_derived_ratios(results(100, [first, step(100, 900, 2000)]))

    new, old = run(0.5), run(1.0)
    assert (
        new["ratios"]["cpu_ms_per_order_first_step"],
        new["ratios"]["first_step_rate_per_s"],
    ) == (
        10.0,
        50,
    )
    row = {r["path"]: r for r in compare(new, old)}["ratios.cpu_ms_per_order_first_step"]
    assert (row["new"], row["baseline"], row["new_over_baseline"], row["better"]) == (
        10.0,
        20.0,
        0.5,
        True,
    )
    assert with_derived_ratios(results(100, []))["ratios"]["cpu_ms_per_order_first_step"] is None
