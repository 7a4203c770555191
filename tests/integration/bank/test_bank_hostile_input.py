"""What the fuzzer found at the bank, each pinned: text no database column can hold is refused
naming the field, and every answer is one the OpenAPI document lists."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.bank import AS_API, AS_OPERATOR, AS_TRANSACTIONS
from tests.integration.bank.test_bank_batch import batch, item
from tests.integration.bank.test_bank_http import CARDS, StartBank, tokenize

# Raw JSON, because json.dumps cannot write an unpaired surrogate other than as this escape.
UNPAIRED_SURROGATE = "\\udc00"


def _post_json(url: str, raw: str, **headers: str) -> httpx.Response:
    return httpx.post(
        url, content=raw.encode(), headers={"Content-Type": "application/json", **headers}
    )


def _refusal(response: httpx.Response) -> list[tuple[tuple[str | int, ...], str]]:
    assert response.status_code == 422, response.text
    return [(tuple(error["loc"]), error["type"]) for error in response.json()["detail"]]


def _refused_at(response: httpx.Response) -> list[tuple[str | int, ...]]:
    return [loc for loc, _type in _refusal(response)]


def test_nul_and_unpaired_surrogates_are_refused_naming_the_field(
    database_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(database_url)
    token = tokenize(bank, CARDS["succeeds"], reference="order-4")["token"]
    url = f"{bank.url}/v1/charges"

    def charge(token: str, reference: str) -> httpx.Response:
        body = (
            f'{{"token": "{token}", "amount": 100, "currency": "ILS", "reference": "{reference}"}}'
        )
        return _post_json(url, body, **AS_TRANSACTIONS, **{"Idempotency-Key": "hostile-1"})

    assert _refusal(charge(token, "order\\u0000-1")) == [(("body", "reference"), "nul_character")]
    # pydantic's own string check (string_unicode) refuses it before ours (unpaired_surrogate).
    assert _refused_at(charge(token, UNPAIRED_SURROGATE)) == [("body", "reference")]
    assert _refusal(charge("tok\\u0000", "order-1")) == [(("body", "token"), "nul_character")]
    assert _refused_at(charge(UNPAIRED_SURROGATE, "order-1")) == [("body", "token")]

    listed = httpx.get(url, params={"reference": "order\x00-1"}, headers=AS_TRANSACTIONS)
    assert _refusal(listed) == [(("query", "reference"), "nul_character")]

    results = batch(
        bank,
        [
            item("hostile\x00-2", token, reference="order-2"),
            {**item("hostile-3", token), "reference": "order\x00-3"},
            item("hostile-4", token, reference="order-4"),
        ],
    )
    assert [result["status_code"] for result in results] == [422, 422, 201]
    assert results[0]["body"]["detail"][0]["loc"] == ["body", "idempotency_key"]
    assert results[1]["body"]["detail"][0]["loc"] == ["body", "reference"]
    # Nothing but the good charge reached the database.
    stored = httpx.get(url, headers=AS_OPERATOR).json()["charges"]
    assert [charge["reference"] for charge in stored] == ["order-4"]


def _documented(bank_url: str) -> dict[str, set[str]]:
    paths = httpx.get(f"{bank_url}/openapi.json").json()["paths"]
    return {
        f"{method.upper()} {path}": set(operation["responses"])
        for path, methods in paths.items()
        for method, operation in methods.items()
    }


def test_every_status_the_bank_answers_is_documented(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url)
    documented = _documented(bank.url)
    assert documented["POST /v1/tokens"] == {"201", "400", "401", "403", "422"}
    assert documented["POST /v1/charges"] == {
        "200",
        "201",
        "400",
        "401",
        "403",
        "404",
        "409",
        "422",
        "503",
        "504",
    }
    assert documented["POST /v1/charges/batch"] == {"200", "400", "401", "403", "422", "504"}
    assert documented["GET /v1/charges"] == {"200", "401", "403", "422"}
    assert documented["GET /admin/faults"] == {"200", "401", "403"}
    assert documented["PUT /admin/faults"] == {"200", "400", "401", "403", "422"}
    assert documented["GET /readyz"] == {"200", "503"}

    # The answers the fuzzer met, each now listed above: a body that is not UTF-8 ...
    for path, caller in (
        ("/v1/tokens", AS_API),
        ("/v1/charges", AS_TRANSACTIONS),
        ("/v1/charges/batch", AS_TRANSACTIONS),
    ):
        unreadable = httpx.post(
            f"{bank.url}{path}",
            content=b'{"\xff": 1}',
            headers={**caller, "Content-Type": "application/json", "Idempotency-Key": "k"},
        )
        assert unreadable.status_code == 400, (path, unreadable.text)
    # ... a token no card has, and a batch with no body.
    unknown = httpx.post(
        f"{bank.url}/v1/charges",
        json={"token": "tok_nope", "amount": 1, "currency": "ILS", "reference": "r"},
        headers={**AS_TRANSACTIONS, "Idempotency-Key": "k"},
    )
    assert _refusal_status(unknown) == (404, [("body", "token")])
    empty = httpx.post(f"{bank.url}/v1/charges/batch", headers=AS_TRANSACTIONS)
    assert _refusal_status(empty) == (422, [("body",)])


def _refusal_status(response: httpx.Response) -> tuple[int, list[tuple[Any, ...]]]:
    return response.status_code, [tuple(error["loc"]) for error in response.json()["detail"]]


def test_the_batch_body_is_described(sqlite_url: str, start_bank: StartBank) -> None:
    bank = start_bank(sqlite_url)
    document = httpx.get(f"{bank.url}/openapi.json").json()
    body = document["paths"]["/v1/charges/batch"]["post"]["requestBody"]
    assert body["required"] is True
    reference = body["content"]["application/json"]["schema"]["$ref"]
    batch_schema = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    charges = batch_schema["properties"]["charges"]
    assert (charges["type"], charges["minItems"], charges["maxItems"]) == ("array", 1, 500)
    charge = charges["items"]
    if "$ref" in charge:
        charge = document["components"]["schemas"][charge["$ref"].rsplit("/", 1)[1]]
    assert set(charge["required"]) == {
        "idempotency_key",
        "token",
        "amount",
        "currency",
        "reference",
    }
