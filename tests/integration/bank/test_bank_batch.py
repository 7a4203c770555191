"""POST /v1/charges/batch over real HTTP and a real database: per charge, the single endpoint."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.fixtures.bank import AS_TRANSACTIONS
from tests.integration.bank.conftest import BankServer
from tests.integration.bank.test_bank_http import CARDS, StartBank, charge, charges, tokenize


def item(key: str, token: str, amount: int = 4200, reference: str = "") -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "token": token,
        "amount": amount,
        "currency": "ILS",
        "reference": reference or key,
    }


def batch(bank: BankServer, items: list[Any]) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{bank.url}/v1/charges/batch",
        json={"charges": items},
        headers=AS_TRANSACTIONS,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    results = list(response.json()["results"])
    assert len(results) == len(items)
    return results


def test_mixed_batch_answers_each_charge_as_the_single_endpoint_would(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    # A token per order, as the api makes them.
    tokens = {
        order: tokenize(bank, CARDS[card], reference=order)["token"]
        for order, card in [
            ("b-ok", "succeeds"),
            ("b-declined", "card_declined"),
            ("b-poor", "insufficient_funds"),
            ("b-flaky", "processing_error"),
            ("earlier", "succeeds"),
        ]
    }
    stored = charge(bank, tokens["earlier"], key="earlier", reference="earlier").json()
    items = [
        item("b-ok", tokens["b-ok"]),
        item("b-declined", tokens["b-declined"]),
        item("b-poor", tokens["b-poor"]),
        item("b-flaky", tokens["b-flaky"]),
        item("earlier", tokens["earlier"]),  # a replay of a single-endpoint charge
        item("earlier", tokens["earlier"], amount=1),  # that key with another body
        item("b-unknown", "tok_nobody"),
        {"idempotency_key": "b-bad", "token": tokens["b-ok"], "amount": 10.5},
        item("b-ok", tokens["b-ok"]),  # the same key again, later in the batch
    ]
    results = batch(bank, items)

    codes = [r["status_code"] for r in results]
    assert codes == [201, 201, 201, 503, 200, 409, 404, 422, 200]
    ok, declined, poor, flaky, replay, reused, unknown, bad, again = (r["body"] for r in results)
    assert (ok["status"], ok["decline_code"], ok["amount"], ok["reference"]) == (
        "succeeded",
        None,
        4200,
        "b-ok",
    )
    assert ok["charge_id"].startswith("ch_") and ok["created_at"].endswith("Z")
    assert (declined["status"], declined["decline_code"]) == ("declined", "card_declined")
    assert (poor["status"], poor["decline_code"]) == ("declined", "insufficient_funds")
    assert flaky == {"error": "processing_error", "message": "temporary failure: try again"}
    assert replay == stored
    assert reused["detail"][0]["type"] == "idempotency_key_reused"
    assert unknown["detail"][0]["loc"] == ["body", "token"]
    assert {tuple(e["loc"]) for e in bad["detail"]} == {
        ("body", "amount"),
        ("body", "currency"),
        ("body", "reference"),
    }
    assert again == ok
    # Stored like single charges: the single endpoint replays them, and nothing else was kept.
    assert charge(bank, tokens["b-ok"], key="b-ok", reference="b-ok").json() == ok
    assert {c["reference"] for c in charges(bank)} == {"earlier", "b-ok", "b-declined", "b-poor"}


def test_flaky_card_fails_twice_per_key_across_batches_and_single_calls(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    one, two = (
        tokenize(bank, CARDS["processing_error"], reference=order)["token"]
        for order in ("flaky-1", "flaky-2")
    )
    # Attempts count per key, in batch order: the same key twice in one batch is two attempts.
    first = batch(bank, [item("flaky-1", one), item("flaky-1", one), item("flaky-2", two)])
    assert [r["status_code"] for r in first] == [503, 503, 503]
    assert charges(bank) == []
    second = batch(bank, [item("flaky-1", one), item("flaky-2", two)])
    assert [r["status_code"] for r in second] == [201, 503]
    assert charge(bank, two, key="flaky-2", reference="flaky-2").status_code == 201
    replay = batch(bank, [item("flaky-1", one)])
    assert replay == [{"status_code": 200, "body": second[0]["body"]}]


def test_results_survive_a_restart(sqlite_url: str, start_bank: StartBank) -> None:
    bank = start_bank(sqlite_url)
    token = tokenize(bank, CARDS["succeeds"], reference="restart-1")["token"]
    [first] = batch(bank, [item("restart-1", token)])
    bank.stop()
    again = start_bank(sqlite_url)
    assert batch(again, [item("restart-1", token)]) == [{"status_code": 200, "body": first["body"]}]


def test_concurrent_batches_with_the_same_keys_charge_each_key_once(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    keys = [f"race-{uuid.uuid4().hex[:8]}" for _ in range(30)]
    tokens = {key: tokenize(bank, CARDS["succeeds"], reference=key)["token"] for key in keys}

    def send(shift: int) -> list[dict[str, Any]]:
        rotated = keys[shift:] + keys[:shift]  # different orders in different batches
        results = batch(bank, [item(key, tokens[key]) for key in rotated])
        return results[-shift:] + results[:-shift] if shift else results

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, [0, 7, 13, 21, 3, 29]))
    for position, key in enumerate(keys):
        per_batch = [answer[position] for answer in answers]
        assert [r["status_code"] for r in per_batch].count(201) <= 1
        assert {r["status_code"] for r in per_batch} <= {200, 201}
        assert len({r["body"]["charge_id"] for r in per_batch}) == 1
        assert len(charges(bank, reference=key)) == 1


def test_bad_batches_are_refused_whole_with_the_field(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url)
    url = f"{bank.url}/v1/charges/batch"
    for body, loc in (
        ({"charges": []}, ["body", "charges"]),
        ({}, ["body", "charges"]),
        ({"charges": [{}] * 501}, ["body", "charges"]),
    ):
        response = httpx.post(url, json=body, headers=AS_TRANSACTIONS)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == loc
    assert httpx.post(url, content=b"{nope", headers=AS_TRANSACTIONS).status_code == 422


def test_injected_faults_per_charge_and_per_call(sqlite_url: str, start_bank: StartBank) -> None:
    erring = start_bank(sqlite_url, BANK_ERROR_RATE=1.0)
    token = tokenize(erring, CARDS["succeeds"], reference="f-1")["token"]
    results = batch(erring, [item("f-1", token), item("f-2", token)])
    assert [r["status_code"] for r in results] == [503, 503]
    assert results[0]["body"]["error"] == "processing_error"
    erring.stop()

    hanging = start_bank(sqlite_url, BANK_TIMEOUT_RATE=1.0, BANK_TIMEOUT_SECONDS=0.3)
    response = httpx.post(
        f"{hanging.url}/v1/charges/batch",
        json={"charges": [item("f-1", token)]},
        headers=AS_TRANSACTIONS,
        timeout=10,
    )
    assert response.status_code == 504
    assert response.json()["error"] == "timeout"
    assert charges(hanging) == []
