"""The bank over real HTTP and a real database: tokens, test cards, idempotency, restarts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fixtures.bank import AS_API, AS_OPERATOR, AS_TRANSACTIONS
from tests.fixtures.components import wait_for
from tests.integration.bank.conftest import BankServer

CARDS = {
    "succeeds": "4242424242424242",
    "card_declined": "4000000000000002",
    "insufficient_funds": "4000000000009995",
    "processing_error": "4000000000000119",
}
StartBank = Callable[..., BankServer]


def tokenize(
    bank: BankServer, number: str, cvc: str = "123", reference: str = "o-1", **extra: Any
) -> dict[str, Any]:
    """A token for order `reference`, up to 4200 ILS, created as the api creates it."""
    card = {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": cvc, **extra}
    terms = {"reference": reference, "max_amount": 4200, "currency": "ILS"}
    response = httpx.post(f"{bank.url}/v1/tokens", json={**card, **terms}, headers=AS_API)
    assert response.status_code == 201, response.text
    return dict(response.json())


def charge(
    bank: BankServer, token: str, key: str | None = None, amount: int = 4200, reference: str = ""
) -> httpx.Response:
    """POST /v1/charges as the payment service sends it."""
    body = {"token": token, "amount": amount, "currency": "ILS", "reference": reference or "o-1"}
    headers = {"Idempotency-Key": key} if key is not None else {}
    return httpx.post(
        f"{bank.url}/v1/charges", json=body, headers={**AS_TRANSACTIONS, **headers}, timeout=30
    )


def charges(bank: BankServer, **params: Any) -> list[dict[str, Any]]:
    """GET /v1/charges as the operator (who alone may list every charge)."""
    response = httpx.get(f"{bank.url}/v1/charges", params=params, headers=AS_OPERATOR)
    assert response.status_code == 200, response.text
    return list(response.json()["charges"])


def test_tokenize_returns_token_brand_last4_and_expiry(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    token = tokenize(bank, "3782 8224 6310 005", cvc="1234", exp_year=31)
    assert token["token"].startswith("tok_")
    assert (token["brand"], token["last4"], token["exp_month"], token["exp_year"]) == (
        "amex",
        "0005",
        12,
        2031,
    )
    assert (token["reference"], token["max_amount"], token["currency"]) == ("o-1", 4200, "ILS")
    assert token["expires_at"].endswith("Z")
    assert httpx.get(f"{bank.url}/readyz").json() == {"status": "ready"}


def test_each_test_card(database_url: str, start_bank: StartBank) -> None:
    bank = start_bank(database_url)
    expected = {
        "succeeds": ("succeeded", None),
        "card_declined": ("declined", "card_declined"),
        "insufficient_funds": ("declined", "insufficient_funds"),
    }
    for name, (status, code) in expected.items():
        token = tokenize(bank, CARDS[name], reference=f"order-{name}")["token"]
        response = charge(bank, token, key=f"key-{name}", reference=f"order-{name}")
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["status"], body["decline_code"]) == (status, code)
        assert (body["amount"], body["currency"], body["reference"]) == (
            4200,
            "ILS",
            f"order-{name}",
        )
        assert body["charge_id"].startswith("ch_") and body["created_at"].endswith("Z")

    # Any other valid card succeeds.
    other = tokenize(bank, "5555555555554444")["token"]
    assert charge(bank, other, key="key-other").json()["status"] == "succeeded"

    listed = charges(bank)
    assert [c["reference"] for c in listed][:2] == ["o-1", "order-insufficient_funds"]
    assert len(listed) == 4
    assert {c["reference"] for c in charges(bank, status="declined")} == {
        "order-card_declined",
        "order-insufficient_funds",
    }
    assert len(charges(bank, reference="order-succeeds", status="succeeded")) == 1
    assert len(charges(bank, limit=1)) == 1


def test_flaky_card_fails_twice_per_key_then_succeeds(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    token = tokenize(bank, CARDS["processing_error"], reference="order-flaky")["token"]
    for _ in range(2):
        failed = charge(bank, token, key="order-flaky", reference="order-flaky")
        assert failed.status_code == 503
        assert failed.json()["error"] == "processing_error"
        assert charges(bank, reference="order-flaky") == []  # a 5xx is never stored
    won = charge(bank, token, key="order-flaky", reference="order-flaky")
    assert won.status_code == 201 and won.json()["status"] == "succeeded"
    replay = charge(bank, token, key="order-flaky", reference="order-flaky")
    assert (replay.status_code, replay.json()) == (200, won.json())
    # The failures are counted per key: a new key starts again.
    other = tokenize(bank, CARDS["processing_error"], reference="another-order")["token"]
    assert charge(bank, other, key="another-order", reference="another-order").status_code == 503


def test_idempotent_replay_conflict_and_errors(database_url: str, start_bank: StartBank) -> None:
    bank = start_bank(database_url)
    token = tokenize(bank, CARDS["succeeds"], reference="order-7")["token"]
    first = charge(bank, token, key="order-7", reference="order-7")
    again = charge(bank, token, key="order-7", reference="order-7")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(charges(bank, reference="order-7")) == 1

    reused = charge(bank, token, key="order-7", amount=1, reference="order-7")
    assert reused.status_code == 409
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

    missing = charge(bank, token, key=None)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

    unknown = charge(bank, "tok_nope", key="order-8")
    assert unknown.status_code == 404
    assert unknown.json()["detail"][0]["loc"] == ["body", "token"]

    bad = httpx.post(
        f"{bank.url}/v1/charges",
        json={"token": token, "amount": 10.5, "currency": "shekel", "reference": ""},
        headers={**AS_TRANSACTIONS, "Idempotency-Key": "order-9"},
    )
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {
        ("body", "amount"),
        ("body", "currency"),
        ("body", "reference"),
    }
    assert charges(bank, reference="order-8") == charges(bank, reference="") == []


@pytest.mark.parametrize(
    ("card", "field", "message"),
    [
        ({"number": "4242424242424241"}, "number", "card number fails the Luhn check"),
        ({"number": "4242-4242-4242-4242"}, "number", "card number must contain only digits"),
        ({"number": "42424242"}, "number", "card number must have 12 to 19 digits"),
        ({"exp_month": 13}, "exp_month", "expiry month must be 1 to 12"),
        ({"exp_year": 2019}, "exp_year", "card has expired"),
        ({"exp_year": 123}, "exp_year", "expiry year must have 2 or 4 digits"),
        ({"cvc": "98"}, "cvc", "CVC must be 3 digits"),
        ({"number": 4242424242424242}, "number", "Input should be a valid string"),
        ({"cvc": 987}, "cvc", "Input should be a valid string"),
    ],
)
def test_bad_cards_name_the_field_and_never_echo_the_card(
    sqlite_url: str, start_bank: StartBank, card: dict[str, Any], field: str, message: str
) -> None:
    bank = start_bank(sqlite_url)
    body = {
        "number": "4242424242424242",
        "exp_month": 12,
        "exp_year": 2031,
        "cvc": "987",
        "reference": "o-1",
        "max_amount": 100,
        "currency": "ILS",
        **card,
    }
    response = httpx.post(f"{bank.url}/v1/tokens", json=body, headers=AS_API)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {"loc": ["body", field], "msg": message, "type": detail[0]["type"]} in detail
    for error in detail:
        assert set(error) == {"loc", "msg", "type"}
    assert str(body["number"]).replace("-", "") not in response.text.replace("-", "")
    assert str(body["cvc"]) not in response.text


def test_concurrent_requests_with_one_key_charge_once(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    key = f"order-{uuid.uuid4()}"
    token = tokenize(bank, CARDS["succeeds"], reference=key)["token"]
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: charge(bank, token, key=key, reference=key), range(24)))
    assert sorted({r.status_code for r in responses}) in ([201], [200, 201])
    assert [r.status_code for r in responses].count(201) == 1
    assert len({r.json()["charge_id"] for r in responses}) == 1
    assert len(charges(bank, reference=key)) == 1


def test_fault_injection_error_rate(sqlite_url: str, start_bank: StartBank) -> None:
    bank = start_bank(sqlite_url, BANK_ERROR_RATE=1.0)
    token = tokenize(bank, CARDS["succeeds"], reference="order-err")["token"]
    for _ in range(3):
        response = charge(bank, token, key="order-err", reference="order-err")
        assert response.status_code == 503
        assert response.json()["error"] == "processing_error"
    assert charges(bank) == []


def test_fault_injection_timeout_keeps_the_service_responsive(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url, BANK_TIMEOUT_RATE=1.0, BANK_TIMEOUT_SECONDS=1.5)
    token = tokenize(bank, CARDS["succeeds"])["token"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        hanging = pool.submit(charge, bank, token, "order-slow")
        wait_for(lambda: bank.requests_in_flight() == 1, timeout=5, what="the charge to hang")
        # While the charge hangs, the service answers other requests at once.
        health = httpx.get(f"{bank.url}/healthz", timeout=0.5)
        assert health.status_code == 200 and not hanging.done()
        assert hanging.result(timeout=10).status_code == 504
    assert charges(bank) == []


def test_fault_injection_latency(sqlite_url: str, start_bank: StartBank) -> None:
    bank = start_bank(sqlite_url, BANK_LATENCY_MS=400)
    token = tokenize(bank, CARDS["succeeds"])["token"]
    response = charge(bank, token, key="order-latency")
    assert response.status_code == 201
    assert response.elapsed.total_seconds() >= 0.4
