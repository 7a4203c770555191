"""The chaos audit's judgement: which order broke which rule, and which duplicates a mailer
kill explains. No I/O."""

from __future__ import annotations

from kafka_restaurants.bench.stats import UNREACHABLE
from kafka_restaurants.chaos.faults import Injected
from kafka_restaurants.chaos.runner import mailer_crashes
from kafka_restaurants.chaos.schedule import KILL, PAUSE, Fault
from kafka_restaurants.chaos.verdict import MAILER_CONNECTIONS, blame_mailer_kill, judge

KILL_AT = 1000.0


def test_a_clean_run_passes() -> None:
    verdict = judge(
        {"a": "confirmed", "b": "declined", "c": "failed"},
        {"a": 1},
        {"a": [5.0]},
        [("mailer-1", KILL_AT)],
    )
    assert verdict.passed, verdict.problems()
    assert verdict.totals["lost"] == 0 and verdict.totals["confirmed"] == 1


def test_each_broken_rule_names_its_order() -> None:
    verdict = judge(
        {
            "pending": "pending",
            "silent": UNREACHABLE,
            "unmailed": "confirmed",
            "twice-charged": "confirmed",
            "mailed-declined": "declined",
        },
        {"twice-charged": 2, "unmailed": 1},
        {"twice-charged": [1.0], "mailed-declined": [2.0]},
        [],
    )
    assert not verdict.passed
    assert verdict.not_final == ["pending"]
    assert verdict.unverified == ["silent"]
    assert verdict.confirmed_without_email == ["unmailed"]
    assert verdict.double_charged == ["twice-charged"]
    assert verdict.mailed_but_not_confirmed == ["mailed-declined"]
    assert verdict.totals["lost"] == 2  # not final + confirmed without email
    text = "\n".join(verdict.problems())
    for order in ("pending", "silent", "unmailed", "twice-charged", "mailed-declined"):
        assert order in text


def test_a_copy_accepted_just_before_a_mailer_kill_is_tolerated() -> None:
    verdict = judge(
        {"a": "confirmed"}, {"a": 1}, {"a": [KILL_AT - 0.2, KILL_AT + 4.0]}, [("mailer-1", KILL_AT)]
    )
    assert verdict.passed, verdict.problems()
    assert [d.order_id for d in verdict.duplicates_after_mailer_kill] == ["a"]
    assert verdict.duplicates_after_mailer_kill[0].mailer_kill == "mailer-1"
    assert verdict.other_duplicates == []


def test_a_duplicate_no_kill_explains_fails_the_run() -> None:
    far_from_the_kill = [KILL_AT + 60, KILL_AT + 61]
    verdict = judge({"a": "confirmed"}, {"a": 1}, {"a": far_from_the_kill}, [("mailer-1", KILL_AT)])
    assert not verdict.passed
    assert [d.order_id for d in verdict.other_duplicates] == ["a"]
    assert "a" in verdict.problems()[0]


def test_more_resends_than_smtp_connections_for_one_kill_fail_the_run() -> None:
    orders = [f"o{i}" for i in range(MAILER_CONNECTIONS + 1)]
    copies = [KILL_AT - 0.1, KILL_AT + 2]
    verdict = judge(
        dict.fromkeys(orders, "confirmed"),
        dict.fromkeys(orders, 1),
        dict.fromkeys(orders, copies),
        [("mailer-2", KILL_AT)],
    )
    assert not verdict.passed
    assert verdict.kills_over_bound == [f"mailer-2: {MAILER_CONNECTIONS + 1} resent"]


def test_blame_needs_the_first_copy_before_the_kill_and_a_later_one_after() -> None:
    kills = [("mailer-1", KILL_AT)]
    assert blame_mailer_kill([KILL_AT - 1, KILL_AT + 1], kills)
    assert not blame_mailer_kill([KILL_AT - 30, KILL_AT + 1], kills)  # sent long before
    assert not blame_mailer_kill([KILL_AT + 5, KILL_AT + 6], kills)  # both after the kill


def test_faults_not_injected_fail_the_run() -> None:
    verdict = judge({}, {}, {}, [], ["crash of the api (api): not restarted within 60s"])
    assert not verdict.passed
    assert "not restarted" in verdict.problems()[0]


def test_a_system_that_was_not_as_planned_fails_the_run() -> None:
    problem = "consumer group confirmation-service had members holding [[0, 1, 2]]"
    verdict = judge({"a": "declined"}, {}, {}, [], setup_problems=[problem])
    assert not verdict.passed
    assert problem in verdict.problems()[0]


def test_a_duplicate_stored_as_the_smtp_server_woke_is_named_but_not_tolerated() -> None:
    outage = ("SMTP outage 0-30s", KILL_AT + 30)
    verdict = judge(
        {"a": "confirmed"},
        {"a": 1},
        {"a": [KILL_AT + 30.0, KILL_AT + 30.6]},
        [("mailer-1", KILL_AT - 100)],
        smtp_outages=[outage],
    )
    assert not verdict.passed
    assert verdict.other_duplicates[0].smtp_outage == "SMTP outage 0-30s"


def test_a_mailer_paused_past_its_session_explains_a_resend_like_a_kill() -> None:
    injected = [
        Injected(Fault(35, "crash", KILL, "mailer-2"), started=1035.0),
        Injected(Fault(60, "pause", PAUSE, "mailer-1", 15), started=1060.1),  # dropped
        Injected(Fault(15, "pause", PAUSE, "mailer-2", 5), started=1015.0),  # kept its session
        Injected(Fault(25, "pause", PAUSE, "transactions-1", 20), started=1025.0),
    ]
    crashes = mailer_crashes(injected, t0=1000.0)
    assert [at for _, at in crashes] == [1035.0, 1060.1]
    assert crashes[1][0].startswith("SIGSTOP for 15s, then SIGCONT mailer-1 at 60.1s")
    # The full run's two copies: sent just before the pause, resent by the other instance.
    assert blame_mailer_kill([1060.0, 1073.2], crashes) == crashes[1][0]
    assert blame_mailer_kill([1060.0, 1073.2], crashes[:1]) == ""
