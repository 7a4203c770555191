"""The process list `restaurants up` starts: several instances of each consumer."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kafka_restaurants.bank.keys import KEYS_FILE_NAME
from kafka_restaurants.cli.processes import ProcessSpec, service_groups
from kafka_restaurants.settings import Settings

KEY_NAMES = {"BANK_CALLER_KEY_API", "BANK_CALLER_KEY_TRANSACTIONS", "BANK_CALLER_KEY_OPERATOR"}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own DATA_DIR: `service_groups` generates the bank's keys there."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in (*KEY_NAMES, "BANK_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def specs(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, ProcessSpec]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    return {spec.name: spec for group in service_groups(settings) for spec in group}


def test_one_instance_each_keeps_the_plain_names_and_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    found = specs(monkeypatch, TRANSACTIONS_HEALTH_PORT="6201", MAILER_HEALTH_PORT="6301")
    assert found["transactions"].url == "http://127.0.0.1:6201"
    assert found["transactions"].env["TRANSACTIONS_HEALTH_PORT"] == "6201"
    assert found["mailer"].url == "http://127.0.0.1:6301"
    assert not [name for name in found if name.startswith(("transactions-", "mailer-"))]


def test_instances_get_a_name_and_health_port_each_and_the_same_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = specs(
        monkeypatch,
        TRANSACTIONS_INSTANCES="3",
        MAILER_INSTANCES="2",
        TRANSACTIONS_HEALTH_PORT="6201",
        MAILER_HEALTH_PORT="6301",
    )
    transactions = [found[f"transactions-{i}"] for i in (1, 2, 3)]
    mailers = [found[f"mailer-{i}"] for i in (1, 2)]
    assert "transactions" not in found and "mailer" not in found
    assert [s.env["TRANSACTIONS_HEALTH_PORT"] for s in transactions] == ["6201", "6202", "6203"]
    assert [s.url for s in mailers] == ["http://127.0.0.1:6301", "http://127.0.0.1:6302"]
    # One command line: the same consumer group; the transactional id differs by pid.
    assert len({tuple(s.command) for s in transactions}) == 1
    assert transactions[0].command[-1] == "transactions"
    assert mailers[1].command[-1] == "mailer"


def test_instances_start_together_after_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSACTIONS_INSTANCES", "2")
    monkeypatch.setenv("MAILER_INSTANCES", "2")
    settings = Settings(_env_file=None)
    groups = [[s.name for s in g] for g in service_groups(settings)]
    consumers = next(g for g in groups if "transactions-1" in g)
    assert consumers == ["transactions-1", "transactions-2", "mailer-1", "mailer-2", "kitchen"]
    assert groups.index(consumers) == groups.index(["api"]) + 1


def test_the_bank_gets_every_caller_key_and_each_caller_only_its_own(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    found = specs(monkeypatch, TRANSACTIONS_INSTANCES="2")
    bank = found["bank"].env
    assert set(bank) == KEY_NAMES and len(set(bank.values())) == 3
    assert found["api"].env == {"BANK_API_KEY": bank["BANK_CALLER_KEY_API"]}
    for name in ("transactions-1", "transactions-2"):
        assert found[name].env["BANK_API_KEY"] == bank["BANK_CALLER_KEY_TRANSACTIONS"]
    others = [spec for name, spec in found.items() if name not in {"bank", "api"}]
    assert others, "the mailer, web replicas... are there"
    for spec in others:
        assert not KEY_NAMES & set(spec.env), spec.name
        if not spec.name.startswith("transactions"):
            assert "BANK_API_KEY" not in spec.env, spec.name
    # Generated once, private, and the same on the next start.
    keys_file = data_dir / KEYS_FILE_NAME
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert specs(monkeypatch)["bank"].env == bank


def test_caller_keys_set_in_the_environment_win(monkeypatch: pytest.MonkeyPatch) -> None:
    found = specs(monkeypatch, BANK_CALLER_KEY_OPERATOR="operator-key-from-the-environment")
    assert found["bank"].env["BANK_CALLER_KEY_OPERATOR"] == "operator-key-from-the-environment"
    assert found["api"].env["BANK_API_KEY"] == found["bank"].env["BANK_CALLER_KEY_API"]


def test_the_kitchen_serves_its_tickets_and_health_on_one_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = specs(monkeypatch, KITCHEN_PORT="6401")
    assert found["kitchen"].url == "http://127.0.0.1:6401"
    assert found["kitchen"].command[-2:] == ["serve", "kitchen"]
    several = specs(monkeypatch, KITCHEN_PORT="6401", KITCHEN_INSTANCES="2")
    assert "kitchen" not in several
    assert [several[f"kitchen-{i}"].env["KITCHEN_PORT"] for i in (1, 2)] == ["6401", "6402"]
