"""Fault injection changed at run time by the operator (GET/PUT /admin/faults), over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from kafka_restaurants.bank.control import (
    BankFaults,
    BankFaultsRefused,
    get_bank_faults,
    set_bank_faults,
)
from kafka_restaurants.bank.keys import bearer
from tests.fixtures.bank import AS_OPERATOR, OPERATOR_KEY, TRANSACTIONS_KEY
from tests.integration.bank.test_bank_batch import batch, item
from tests.integration.bank.test_bank_http import CARDS, StartBank, charge, tokenize


def put_faults(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(f"{url}/admin/faults", json=body, headers=AS_OPERATOR, timeout=10)


def test_faults_start_from_the_settings_and_change_at_run_time(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url, BANK_ERROR_RATE=0.25, BANK_LATENCY_MS=5)
    current = httpx.get(f"{bank.url}/admin/faults", headers=AS_OPERATOR, timeout=10)
    assert current.json() == {"error_rate": 0.25, "timeout_rate": 0.0, "latency_ms": 5}

    token = tokenize(bank, CARDS["succeeds"], reference="order-f")["token"]
    every_charge_fails = {"error_rate": 1.0, "timeout_rate": 0.0, "latency_ms": 0}
    assert put_faults(bank.url, every_charge_fails).json() == every_charge_fails
    failed = charge(bank, token, key="order-f", reference="order-f")
    assert (failed.status_code, failed.json()["error"]) == (503, "processing_error")
    [batched] = batch(bank, [item("order-f", token, reference="order-f")])
    assert batched["status_code"] == 503

    off = {"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0}
    assert put_faults(bank.url, off).json() == off
    assert charge(bank, token, key="order-f", reference="order-f").status_code == 201


def test_an_injected_timeout_and_latency_at_run_time(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url, BANK_TIMEOUT_SECONDS=0.2)
    token = tokenize(bank, CARDS["succeeds"], reference="order-t")["token"]
    put_faults(bank.url, {"error_rate": 0.0, "timeout_rate": 1.0, "latency_ms": 300})
    hung = charge(bank, token, key="order-t", reference="order-t")
    assert (hung.status_code, hung.json()["error"]) == (504, "timeout")
    assert hung.elapsed.total_seconds() >= 0.5  # 300 ms latency, then the 200 ms "hang"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 1.5, "timeout_rate": 0.0, "latency_ms": 0}, "error_rate"),
        ({"error_rate": 0.0, "timeout_rate": -0.1, "latency_ms": 0}, "timeout_rate"),
        ({"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": -1}, "latency_ms"),
        ({"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0.5}, "latency_ms"),
        # Found by schemathesis: a boolean was taken for 0.0.
        ({"error_rate": 0.0, "timeout_rate": False, "latency_ms": 0}, "timeout_rate"),
        ({"error_rate": "0.5", "timeout_rate": 0.0, "latency_ms": 0}, "error_rate"),
        ({"error_rate": 0.0, "timeout_rate": 0.0}, "latency_ms"),
        ({"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0, "x": 1}, "x"),
    ],
)
def test_bad_faults_are_refused_naming_the_field(
    sqlite_url: str, start_bank: StartBank, body: dict[str, Any], field: str
) -> None:
    bank = start_bank(sqlite_url)
    response = put_faults(bank.url, body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]
    unchanged = httpx.get(f"{bank.url}/admin/faults", headers=AS_OPERATOR, timeout=10).json()
    assert unchanged == {"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0}


def test_rates_that_add_up_to_more_than_one_are_refused(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url)
    response = put_faults(bank.url, {"error_rate": 0.6, "timeout_rate": 0.6, "latency_ms": 0})
    assert response.status_code == 422
    assert "error_rate + timeout_rate" in response.json()["detail"][0]["msg"]


def test_the_operator_client_sets_and_reads_faults(sqlite_url: str, start_bank: StartBank) -> None:
    bank = start_bank(sqlite_url)

    async def scenario() -> tuple[BankFaults, BankFaults, str]:
        async with httpx.AsyncClient(base_url=bank.url, headers=bearer(OPERATOR_KEY)) as client:
            applied = await set_bank_faults(client, error_rate=0.1, latency_ms=20)
            read = await get_bank_faults(client)
        async with httpx.AsyncClient(
            base_url=bank.url, headers=bearer(TRANSACTIONS_KEY)
        ) as not_operator:
            with pytest.raises(BankFaultsRefused) as refused:
                await set_bank_faults(not_operator)
        return applied, read, str(refused.value)

    applied, read, refusal = asyncio.run(scenario())
    assert applied == read == BankFaults(error_rate=0.1, timeout_rate=0.0, latency_ms=20)
    assert "403" in refusal and OPERATOR_KEY not in refusal and TRANSACTIONS_KEY not in refusal
