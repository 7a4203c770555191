"""Tokens bound to one order, on a real database: reference, amount cap, currency, expiry and
single use are enforced, and a retry of the same charge still replays the first answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text

from kafka_restaurants.bank.domain import ChargeRequest, ChargeResult, TokenTerms
from kafka_restaurants.bank.service import Bank
from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.db.migrations import alembic_config
from tests.fixtures.bank import AS_API, AS_TRANSACTIONS
from tests.integration.bank.test_bank_batch import batch, item
from tests.integration.bank.test_bank_http import CARDS, StartBank, charge, charges

CARD = {"number": CARDS["succeeds"], "exp_month": 12, "exp_year": 2031, "cvc": "123"}


def token_for(bank: Any, reference: str, max_amount: int = 4200, card: str = "succeeds") -> str:
    body = {
        "number": CARDS[card],
        "exp_month": 12,
        "exp_year": 2031,
        "cvc": "123",
        "reference": reference,
        "max_amount": max_amount,
        "currency": "ils",
    }
    response = httpx.post(f"{bank.url}/v1/tokens", json=body, headers=AS_API)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["reference"], created["max_amount"], created["currency"]) == (
        reference,
        max_amount,
        "ILS",
    )
    return str(created["token"])


def outcome(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body["status"], body["decline_code"]


def test_a_token_pays_only_its_own_order_up_to_its_amount(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    token = token_for(bank, "order-1", max_amount=4200)

    assert outcome(charge(bank, token, key="thief-1", reference="order-2")) == (
        201,
        "declined",
        "token_reference_mismatch",
    )
    assert outcome(charge(bank, token, key="thief-2", amount=4201, reference="order-1")) == (
        201,
        "declined",
        "amount_over_token_limit",
    )
    in_dollars = httpx.post(
        f"{bank.url}/v1/charges",
        json={"token": token, "amount": 100, "currency": "USD", "reference": "order-1"},
        headers={**AS_TRANSACTIONS, "Idempotency-Key": "thief-3"},
    )
    assert outcome(in_dollars) == (201, "declined", "token_currency_mismatch")
    # The refusals charged nothing and used nothing: the order's own charge still goes through,
    # for less than the cap too.
    paid = charge(bank, token, key="order-1", amount=4000, reference="order-1")
    assert outcome(paid) == (201, "succeeded", None)
    assert [c["status"] for c in charges(bank, reference="order-1")] == [
        "succeeded",
        "declined",
        "declined",
    ]
    # A refusal is stored like a decline: its retry replays it.
    again = charge(bank, token, key="thief-1", reference="order-2")
    assert outcome(again) == (200, "declined", "token_reference_mismatch")


def test_a_token_says_when_it_expires(sqlite_url: str, start_bank: StartBank) -> None:
    bank = start_bank(sqlite_url, BANK_TOKEN_TTL_SECONDS=600)
    before = datetime.now(UTC)
    body = {**CARD, "reference": "order-1", "max_amount": 100, "currency": "ILS"}
    created = httpx.post(f"{bank.url}/v1/tokens", json=body, headers=AS_API).json()
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert (
        before + timedelta(seconds=600) <= expires_at <= datetime.now(UTC) + timedelta(seconds=600)
    )


def test_a_token_is_used_once_but_its_charge_replays(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    token = token_for(bank, "order-1")
    first = charge(bank, token, key="order-1", reference="order-1")
    assert outcome(first) == (201, "succeeded", None)
    # Another charge with the same token, even for the same order: refused.
    second = charge(bank, token, key="order-1-again", reference="order-1")
    assert outcome(second) == (201, "declined", "token_used")
    # The payment service's retries, single and batched: the first charge, never token_used.
    retried = charge(bank, token, key="order-1", reference="order-1")
    assert (retried.status_code, retried.json()) == (200, first.json())
    [batched] = batch(bank, [item("order-1", token, reference="order-1")])
    assert batched == {"status_code": 200, "body": first.json()}
    assert len([c for c in charges(bank) if c["status"] == "succeeded"]) == 1


def test_a_declined_card_uses_its_token_too(sqlite_url: str, start_bank: StartBank) -> None:
    bank = start_bank(sqlite_url)
    token = token_for(bank, "order-d", card="card_declined")
    assert outcome(charge(bank, token, key="order-d", reference="order-d"))[2] == "card_declined"
    assert outcome(charge(bank, token, key="other", reference="order-d"))[2] == "token_used"


def test_in_one_batch_the_first_key_uses_the_token_and_a_repeat_replays(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    token = token_for(bank, "order-b")
    results = batch(
        bank,
        [
            item("order-b", token, reference="order-b"),
            item("order-b-2", token, reference="order-b"),
            item("order-b", token, reference="order-b"),
        ],
    )
    assert [r["status_code"] for r in results] == [201, 201, 200]
    first, second, repeat = (r["body"] for r in results)
    assert (first["status"], second["decline_code"]) == ("succeeded", "token_used")
    assert repeat == first
    assert charge(bank, token, key="order-b", reference="order-b").json() == first


def test_a_flaky_charge_retries_to_success_on_its_token(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url)
    token = token_for(bank, "order-f", card="processing_error")
    answers = [charge(bank, token, key="order-f", reference="order-f") for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 201]
    assert answers[2].json()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("terms", "field", "kind"),
    [
        ({"reference": None}, "reference", "missing"),
        ({"max_amount": None}, "max_amount", "missing"),
        ({"currency": None}, "currency", "missing"),
        ({"max_amount": 10.5}, "max_amount", "int_type"),
        ({"max_amount": 0}, "max_amount", "greater_than"),
        ({"currency": "shekel"}, "currency", "string_pattern_mismatch"),
        ({"reference": ""}, "reference", "string_too_short"),
    ],
)
def test_a_token_request_must_say_what_it_pays_for(
    sqlite_url: str, start_bank: StartBank, terms: dict[str, Any], field: str, kind: str
) -> None:
    bank = start_bank(sqlite_url)
    body: dict[str, Any] = {
        "number": CARDS["succeeds"],
        "exp_month": 12,
        "exp_year": 2031,
        "cvc": "123",
        "reference": "order-1",
        "max_amount": 100,
        "currency": "ILS",
    }
    body.update(terms)
    body = {name: value for name, value in body.items() if value is not None}
    response = httpx.post(f"{bank.url}/v1/tokens", json=body, headers=AS_API)
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [(["body", field], kind)]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2031, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_token_expires_but_a_charge_made_in_time_still_replays(database_url: str) -> None:
    migrate("bank", database_url)
    engine = create_db_engine(database_url)
    clock = Clock()
    bank = Bank(engine, clock=clock, token_ttl=timedelta(minutes=60))
    try:
        paid = bank.tokenize_card("4242424242424242", 1, 2032, "123", TokenTerms("e-1", 9, "ILS"))
        late = bank.tokenize_card("4242424242424242", 1, 2032, "123", TokenTerms("e-2", 9, "ILS"))
        assert paid.expires_at == clock.now + timedelta(minutes=60)
        clock.now += timedelta(minutes=59, seconds=59)
        first = bank.charge_card("e-1", ChargeRequest(paid.token, 9, "ILS", "e-1"))
        assert isinstance(first, ChargeResult) and first.charge.status == "succeeded"
        clock.now += timedelta(seconds=1)  # now exactly at expiry
        expired = bank.charge_card("e-2", ChargeRequest(late.token, 9, "ILS", "e-2"))
        assert (expired.charge.status, expired.charge.decline_code) == (
            "declined",
            "token_expired",
        )
        replay = bank.charge_card("e-1", ChargeRequest(paid.token, 9, "ILS", "e-1"))
        assert replay.replayed and replay.charge == first.charge
    finally:
        engine.dispose()


def test_tokens_made_before_the_binding_come_out_expired(database_url: str) -> None:
    """Migration 0003: an unbound token was as good as cash; after it, it pays nothing."""
    config = alembic_config("bank", database_url)
    command.upgrade(config, "0002")
    engine = create_db_engine(database_url)
    created = datetime.now(UTC) - timedelta(minutes=5)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO bank_tokens (token, brand, last4, behaviour, created_at) "
                "VALUES ('tok_old', 'visa', '4242', 'succeeds', :created)"
            ),
            {"created": created},
        )
    migrate("bank", database_url)
    bank = Bank(engine)
    try:
        result = bank.charge_card("old-1", ChargeRequest("tok_old", 100, "ILS", "old-1"))
        assert (result.charge.status, result.charge.decline_code) == ("declined", "token_expired")
    finally:
        engine.dispose()


def void(bank: Any, token: str, reference: str, headers: dict[str, str] = AS_API) -> httpx.Response:
    return httpx.post(
        f"{bank.url}/v1/tokens/{token}/void", json={"reference": reference}, headers=headers
    )


def test_a_voided_token_pays_nothing_and_a_used_one_cannot_be_voided(
    database_url: str, start_bank: StartBank
) -> None:
    # The reconciler voids the token of an order it fails: a charge that comes later anyway
    # (a lagging payment service) is declined, so a failed order never takes money.
    bank = start_bank(database_url)
    token = token_for(bank, "order-v")
    assert void(bank, token, "order-other").status_code == 404  # only the order's own token
    assert void(bank, token, "order-v").json() == {"token": token, "status": "voided"}
    assert void(bank, token, "order-v").status_code == 200  # again: the same answer
    late = charge(bank, token, key="order-v", reference="order-v")
    assert outcome(late) == (201, "declined", "token_used")
    assert [c["status"] for c in charges(bank, reference="order-v")] == ["declined"]

    paid = token_for(bank, "order-p")
    assert outcome(charge(bank, paid, key="order-p", reference="order-p"))[1] == "succeeded"
    refused = void(bank, paid, "order-p")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"][0]["type"] == "token_used"
    # Only the api (and the operator) may void; the payment service may not.
    assert void(bank, paid, "order-p", headers=AS_TRANSACTIONS).status_code == 403
    assert void(bank, paid, "order-p", headers={}).status_code == 401
