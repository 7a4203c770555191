"""The benchmark's arithmetic and rules, without I/O."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import pytest

from kafka_restaurants.bench.config import config_from_env
from kafka_restaurants.bench.profiling import top_functions, top_own_frames
from kafka_restaurants.bench.search_load import (
    QUERY_KINDS,
    CatalogVocabulary,
    build_query_mix,
    make_typo,
)
from kafka_restaurants.bench.stats import (
    UNREACHABLE,
    RateSearch,
    StepOutcome,
    audit_orders,
    latency_summary,
    percentile,
    step_sustained,
)
from kafka_restaurants.bench.system import free_port


def test_percentiles_interpolate_and_handle_empty_input() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([], 50) is None
    assert latency_summary([]) == {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}


def outcome(**changes: float) -> StepOutcome:
    fields = dict(
        offered_rate=100.0,
        planned=1000,
        sent=1000,
        accepted=1000,
        errors=0,
        achieved_rate=100.0,
        completed=980,
        expected=980,
        drain_seconds=1.0,
    )
    fields.update(changes)
    return StepOutcome(**fields)  # type: ignore[arg-type]


def test_a_step_holds_only_without_errors_loss_slow_drain_or_a_lagging_generator() -> None:
    assert step_sustained(outcome(), 6.0) == (True, "ok")
    assert not step_sustained(outcome(errors=1, accepted=999), 6.0)[0]
    assert not step_sustained(outcome(completed=979), 6.0)[0]
    assert not step_sustained(outcome(drain_seconds=6.5), 6.0)[0]
    held, reason = step_sustained(outcome(achieved_rate=90.0), 6.0)
    assert not held and "load generator" in reason


def test_rate_search_confirms_the_probe_then_bisects() -> None:
    search = RateSearch(low=200, high=400)
    assert search.next_rate(first=True) == 200
    search.record(200, held=True)
    assert search.next_rate(first=False) == 300
    search.record(300, held=False)
    assert search.next_rate(first=False) == 250


def test_rate_search_backs_off_when_the_long_step_fails_at_the_probed_rate() -> None:
    search = RateSearch(low=200, high=400)
    search.record(200, held=False)
    assert search.next_rate(first=False) == 100


def test_audit_counts_loss_double_charges_and_duplicate_emails() -> None:
    statuses = {"a": "confirmed", "b": "confirmed", "c": "declined", "d": "pending"}
    result = audit_orders(
        statuses,
        charges_per_order={"a": 1, "b": 2, "c": 0},
        emails_per_order={"a": 1, "b": 0, "c": 1},
    )
    assert (result.accepted, result.confirmed, result.declined) == (4, 2, 1)
    assert result.not_terminal == 1 and result.confirmed_without_email == 1
    assert result.lost == 2
    assert result.double_charged == 1
    assert result.emails_for_declined == 1
    unanswered = audit_orders({"a": "confirmed", "e": UNREACHABLE}, {"a": 1}, {"a": 1})
    assert (unanswered.unverified, unanswered.not_terminal, unanswered.lost) == (1, 0, 0)
    clean = audit_orders({"a": "confirmed"}, {"a": 1}, {"a": 1})
    assert (clean.lost, clean.double_charged, clean.duplicate_emails) == (0, 0, 0)
    failed = audit_orders({"f": "failed", "g": "failed"}, {}, {"g": 1})
    assert (failed.failed, failed.not_terminal, failed.lost) == (2, 0, 0)
    assert failed.emails_for_declined == 1  # a failed order must not be mailed either


def test_audit_counts_one_kitchen_ticket_per_confirmed_order_when_it_can_ask() -> None:
    statuses = {"a": "confirmed", "b": "confirmed", "c": "confirmed", "d": "declined"}
    charges, emails = {o: 1 for o in statuses}, {"a": 1, "b": 1, "c": 1}
    unasked = audit_orders(statuses, charges, emails)
    assert not unasked.kitchen_checked and unasked.ticket_mismatches == 0
    result = audit_orders(statuses, charges, emails, {"a": 1, "b": 2, "c": 0, "d": 1})
    assert result.kitchen_checked
    assert (result.confirmed_without_ticket, result.duplicate_tickets) == (1, 1)
    assert result.tickets_for_unconfirmed == 1 and result.ticket_mismatches == 3
    clean = audit_orders(statuses, charges, emails, {"a": 1, "b": 1, "c": 1})
    assert clean.ticket_mismatches == 0


def test_query_mix_is_deterministic_and_covers_every_kind() -> None:
    vocab = CatalogVocabulary(
        styles=["Italian", "Thai"],
        names=["Bella Pizzeria 12", "Golden Dragon 7"],
        dishes=["Pad Thai", "Margherita Pizza", "Green Curry"],
    )
    mix = build_query_mix(vocab, count=2000)
    assert mix == build_query_mix(vocab, count=2000)
    kinds = Counter(q.kind for q in mix)
    assert set(kinds) == {kind for kind, _ in QUERY_KINDS}
    assert kinds["seed_params"] > kinds["browse"]
    assert any("offset" in q.params and q.params["offset"] != "0" for q in mix)


def test_a_typo_changes_a_word_by_one_slip() -> None:
    import random

    rng = random.Random(3)
    for word in ("shawarma", "khachapuri", "pizza"):
        typo = make_typo(word, rng)
        assert typo != word and abs(len(typo) - len(word)) <= 1


def test_top_functions_ranks_self_time() -> None:
    collapsed = "main;handle;query 30\nmain;handle;render 10\nmain;idle 60\n"
    top = top_functions(collapsed)
    assert top[0] == {"frame": "idle", "self_pct": 60.0, "total_pct": 60.0}
    assert {"frame": "query", "self_pct": 30.0, "total_pct": 30.0} in top


def test_top_own_frames_charges_each_sample_to_the_deepest_of_our_frames() -> None:
    collapsed = (
        "kafka_restaurants/app.py:serve;kafka_restaurants/ordering.py:place;sqlite 30\n"
        "kafka_restaurants/app.py:serve;kafka_restaurants/ordering.py:place;http 20\n"
        "kafka_restaurants/app.py:serve;kafka_restaurants/outbox.py:relay;kafka 40\n"
        "asyncio:run;epoll 10\n"
    )
    top = top_own_frames(collapsed)
    assert [(f["frame"], f["total_pct"]) for f in top] == [
        ("kafka_restaurants/ordering.py:place", 50.0),
        ("kafka_restaurants/outbox.py:relay", 40.0),
    ]  # serve only passes the time through; the epoll sample is not ours


def test_config_quick_mode_and_results_dir_come_from_the_environment() -> None:
    config = config_from_env({"BENCH_QUICK": "1", "BENCH_RESULTS_DIR": "/tmp/x"})
    assert config.quick and config.restaurants == 2000 and config.results_dir == Path("/tmp/x")
    assert not config_from_env({}).quick
    with pytest.raises(ValueError, match="BENCH_TARGET_MAILBOX"):
        config_from_env({"BENCH_TARGET_API": "http://api"})
    with pytest.raises(ValueError, match="BENCH_RESTAURANTS"):
        config_from_env({"BENCH_RESTAURANTS": "many"})


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(port < low for port in ports)  # no outgoing connection can take them meanwhile
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
