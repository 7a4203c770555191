"""The chaos schedule and settings: every fault kind, in order, within the load. No I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_restaurants.chaos.schedule import (
    DISRUPT,
    KILL,
    PAUSE,
    SKIP,
    ChaosConfig,
    config_from_env,
)

KINDS_KILLED = {"api", "transactions", "mailer", "bank", "web", "kafka"}


def killed_kinds(config: ChaosConfig) -> set[str]:
    return {f.target.split("-")[0] for f in config.faults if f.action == KILL}


@pytest.mark.parametrize("quick", [True, False])
def test_every_process_kind_is_killed_and_both_consumers_paused(quick: bool) -> None:
    config = ChaosConfig.preset(quick)
    assert killed_kinds(config) == KINDS_KILLED
    paused = {f.target for f in config.faults if f.action == PAUSE}
    assert {t for t in paused if t.startswith("transactions-")}
    assert {t for t in paused if t.startswith("mailer-")}
    assert "mailbox" in paused  # the SMTP outage
    smtp = next(f for f in config.faults if f.target == "mailbox")
    assert smtp.duration == 30
    assert all(10 <= f.duration <= 30 for f in config.faults if f.action == PAUSE)


@pytest.mark.parametrize("quick", [True, False])
def test_every_fault_ends_while_orders_are_still_offered(quick: bool) -> None:
    config = ChaosConfig.preset(quick)
    active = [f for f in config.faults if f.action != SKIP]
    assert max(f.at + f.duration for f in active) < config.seconds
    # Only instances that exist are targeted.
    for fault in active:
        if "-" in fault.target:
            assert int(fault.target.split("-")[1]) <= (
                config.instances if fault.target[0] != "w" else 1
            )


def test_quick_is_each_kind_once_at_a_lower_rate_and_fits_in_five_minutes() -> None:
    quick, full = ChaosConfig.preset(True), ChaosConfig.preset(False)
    assert (quick.rate, full.rate, full.seconds) == (15, 50, 180)
    kills = [f.target.split("-")[0] for f in quick.faults if f.action == KILL]
    assert sorted(kills) == sorted(KINDS_KILLED)
    # Start-up (about a minute), the load and the settling deadline: under five minutes.
    assert 60 + quick.seconds + quick.settle_seconds < 300


def test_the_database_outage_needs_a_postgresql_server_of_the_runs_own() -> None:
    on_sqlite = ChaosConfig.preset(True)
    skipped = {f.kind: f.reason for f in on_sqlite.faults if f.action == SKIP}
    assert "SQLite" in skipped["database outage"]
    assert all(f.describe().lstrip().startswith("--") for f in on_sqlite.faults if f.action == SKIP)
    for quick in (True, False):
        config = ChaosConfig.preset(quick, postgres=True)
        outage = next(f for f in config.faults if f.kind == "database outage")
        assert (outage.action, outage.target) == (DISRUPT, "postgresql")
        assert 5 <= outage.duration <= 30
        assert "postgresql for" in outage.describe()


def test_settings_come_from_the_environment() -> None:
    config = config_from_env({"CHAOS_QUICK": "1", "CHAOS_RATE": "7", "CHAOS_RESULTS_DIR": "/tmp/x"})
    assert (config.quick, config.rate, config.results_dir) == (True, 7.0, Path("/tmp/x"))
    assert config_from_env({}).quick is False
    with pytest.raises(ValueError, match="CHAOS_RATE"):
        config_from_env({"CHAOS_RATE": "fast"})
    with pytest.raises(ValueError, match="ends before the schedule"):
        config_from_env({"CHAOS_QUICK": "1", "CHAOS_SECONDS": "20"})
    # PostgreSQL when it is installed, unless CHAOS_POSTGRES=0; asking for it without it fails.
    assert config_from_env({}, postgres_installed=True).postgres is True
    assert config_from_env({"CHAOS_POSTGRES": "0"}, postgres_installed=True).postgres is False
    assert config_from_env({}, postgres_installed=False).postgres is False
    with pytest.raises(ValueError, match="apt-get install postgresql"):
        config_from_env({"CHAOS_POSTGRES": "1"}, postgres_installed=False)


@pytest.mark.parametrize("quick", [True, False])
def test_the_bank_burst_comes_after_the_bank_kill_which_would_forget_it(quick: bool) -> None:
    config = ChaosConfig.preset(quick)
    burst = next(f for f in config.faults if f.kind == "bank error and timeout burst")
    kill = next(f for f in config.faults if f.action == KILL and f.target == "bank")
    assert (burst.action, burst.target) == (DISRUPT, "bank")
    assert burst.at > kill.at + 10 and 10 <= burst.duration <= 30
