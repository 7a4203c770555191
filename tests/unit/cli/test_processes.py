"""The process list `restaurants up` starts: several instances of each consumer."""

from __future__ import annotations

import pytest

from kafka_restaurants.cli.processes import ProcessSpec, service_groups
from kafka_restaurants.settings import Settings


def specs(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, ProcessSpec]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    return {spec.name: spec for group in service_groups(settings) for spec in group}


def test_one_instance_each_keeps_the_plain_names_and_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    found = specs(monkeypatch, TRANSACTIONS_HEALTH_PORT="6201", MAILER_HEALTH_PORT="6301")
    assert found["transactions"].url == "http://127.0.0.1:6201"
    assert found["transactions"].env == {"TRANSACTIONS_HEALTH_PORT": "6201"}
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
    assert consumers == ["transactions-1", "transactions-2", "mailer-1", "mailer-2"]
    assert groups.index(consumers) == groups.index(["api"]) + 1
