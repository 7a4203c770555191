"""The bench's overload step (issue 11, item 2): its summary, its audit and its report, no I/O."""

from __future__ import annotations

import json
from typing import Any

from kafka_restaurants.bench.config import config_from_env
from kafka_restaurants.bench.order_phases import AuditFindings
from kafka_restaurants.bench.report import goals, overload_lines
from kafka_restaurants.bench.stats import OverloadAnswer, overload_summary, refusal_reason


def busy(reason: str, retry_after_ms: int = 250) -> str:
    detail = "We're very busy. Your card was not charged; try again in a few seconds."
    return json.dumps({"detail": detail, "reason": reason, "retry_after_ms": retry_after_ms})


def test_refusal_reason_reads_the_body_even_when_cut_short() -> None:
    assert refusal_reason(503, busy("in_flight")) == "in_flight"
    assert refusal_reason(429, busy("rate_limited")) == "rate_limited"
    # The driver keeps 200 characters of an error body; a cut JSON still names its reason.
    cut = '{"detail": "busy", "reason": "outbox_backlog", "retry_after_ms": 1'
    assert refusal_reason(503, cut) == "outbox_backlog"
    assert refusal_reason(503, "<html>Service Unavailable</html>") == "http 503"
    assert refusal_reason(429, '{"detail": "slow down"}') == "http 429"
    assert refusal_reason(503, '["reason"]') == "http 503"


def accepted(
    post_ms: float, email_ms: float | None = None, confirmed: bool = True
) -> OverloadAnswer:
    return OverloadAnswer(202, True, post_ms, email_ms=email_ms, expects_email=confirmed)


def test_overload_summary_counts_refusals_by_reason_and_times_only_accepted_orders() -> None:
    answers = [
        accepted(100.0, 400.0),
        accepted(200.0, 600.0),
        accepted(300.0, None),  # its email had not come when the wait ended
        accepted(50.0, None, confirmed=False),  # declined card: no email expected
        OverloadAnswer(503, False, 5.0, reason="in_flight"),
        OverloadAnswer(503, False, 6.0, reason="in_flight"),
        OverloadAnswer(503, False, 7.0, reason="outbox_backlog"),
        OverloadAnswer(429, False, 8.0, reason="rate_limited"),
        OverloadAnswer(503, False, 9.0),  # no reason read: named by its status
        OverloadAnswer(0, False, 60_000.0),  # timed out: an error, not a refusal
    ]
    summary = overload_summary(answers, offered_rate=300.0, base_rate=100.0)
    assert summary["sent"] == 10 and summary["accepted"] == 4
    assert (summary["refused"], summary["refused_503"], summary["refused_429"]) == (5, 4, 1)
    assert summary["refused_share"] == 0.5 and summary["other_errors"] == 1
    assert summary["refused_by_reason"] == {
        "in_flight": 2,
        "http 503": 1,
        "outbox_backlog": 1,
        "rate_limited": 1,
    }
    assert next(iter(summary["refused_by_reason"])) == "in_flight"  # most frequent first
    # Refusals are fast and the timeout slow: neither is in the accepted orders' latency.
    assert summary["post_latency_ms"]["max"] == 300.0
    assert summary["post_latency_ms"]["p50"] == 150.0
    assert summary["e2e_latency_ms"]["max"] == 600.0
    assert (summary["emails_expected"], summary["emails_seen"]) == (3, 2)
    assert summary["goal_met"] is True
    assert (summary["offered_rate_per_s"], summary["base_rate_per_s"]) == (300.0, 100.0)


def test_the_goal_fails_at_one_second_and_is_unmeasured_without_accepted_orders() -> None:
    slow = overload_summary([accepted(999.0), accepted(1001.0)], 30.0, 10.0)
    assert slow["post_latency_ms"]["p99"] is not None and slow["post_latency_ms"]["p99"] > 1000
    assert slow["goal_met"] is False
    none = overload_summary([OverloadAnswer(503, False, 1.0, reason="in_flight")], 30.0, 10.0)
    assert none["goal_met"] is None and none["refused_share"] == 1.0
    assert none["post_latency_ms"]["p99"] is None
    assert overload_summary([], 30.0, 10.0)["refused_share"] is None


def test_the_audit_of_one_step_counts_only_its_orders() -> None:
    findings = AuditFindings(
        statuses={"a": "confirmed", "b": "pending", "c": "confirmed", "d": "declined"},
        charges={"a": 1, "c": 2, "d": 0},
        emails={"a": 1, "b": 0, "c": 1, "d": 0},
    )
    everything = findings.result()
    assert (everything.accepted, everything.lost, everything.double_charged) == (4, 1, 1)
    step = findings.result(["c", "d"])
    assert (step.accepted, step.confirmed, step.declined, step.lost) == (2, 1, 1, 0)
    assert step.double_charged == 1


def test_quick_mode_keeps_the_overload_step_short_and_bounded() -> None:
    quick, full = config_from_env({"BENCH_QUICK": "1"}), config_from_env({})
    assert quick.overload_factor == full.overload_factor == 3.0
    assert quick.overload_seconds <= 10 and quick.overload_max_orders <= 5_000
    assert full.overload_seconds <= 60 and full.overload_max_orders > quick.overload_max_orders


def results_with(overload: dict[str, Any] | None) -> dict[str, Any]:
    orders: dict[str, Any] = {"sustained_per_s": 100.0, "lost": 0}
    if overload is not None:
        orders["overload"] = overload
    return {"orders": orders}


def reported(post_ms: list[float], lost: int) -> dict[str, Any]:
    answers = [accepted(ms, ms + 100) for ms in post_ms]
    answers.append(OverloadAnswer(503, False, 2.0, reason="in_flight"))
    summary = overload_summary(answers, 300.0, 100.0)
    return {
        **summary,
        "factor": 3.0,
        "seconds": 10.0,
        "achieved_rate_per_s": 298.5,
        "base": "sustained",
        "error_samples": [],
        "lost": lost,
        "emails_for_refused": 0,
        "audit": {"confirmed": len(post_ms), "declined": 0, "failed": 0, "lost": lost},
    }


def test_the_report_shows_the_overload_step_and_its_goal() -> None:
    fast = results_with(reported([100.0, 200.0], lost=0))
    goal = goals(fast)[-1]
    assert "overload" in goal["goal"] and goal["met"] is True
    text = "\n".join(overload_lines(fast))
    assert "33.3%" in text and "in_flight 1" in text and "| yes |" in text
    assert "| emails to refused orders (must be 0) | 0 |" in text
    lost = results_with(reported([100.0], lost=1))
    assert goals(lost)[-1]["met"] is False  # fast but an accepted order went missing
    slow = results_with(reported([1500.0], lost=0))
    assert goals(slow)[-1]["met"] is False
    assert "**no**" in "\n".join(overload_lines(slow))
    assert goals(results_with(None))[-1]["met"] is None  # an older run: not measured
    assert overload_lines(results_with(None)) == []
