"""The bank's wire format, as the payment service speaks it: a charge call, the bank's answers
(a reply, no answer, or a batch failed as a whole), and its record of charges. No rules here:
what an answer means for an order is `charging`'s business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChargeCall:
    """One charge to send to the bank: the Idempotency-Key header and the JSON body."""

    idempotency_key: str
    token: str
    amount: int
    currency: str
    reference: str

    def body(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "amount": self.amount,
            "currency": self.currency,
            "reference": self.reference,
        }

    def batch_body(self) -> dict[str, Any]:
        """This charge as one entry of a POST /v1/charges/batch body: the key goes inside."""
        return {"idempotency_key": self.idempotency_key, **self.body()}


@dataclass(frozen=True)
class BankReply:
    """An HTTP answer from the bank: its status code and JSON body (empty when not JSON)."""

    status_code: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class BankUnreachable:
    """No answer from the bank: connection refused, timed out, or cut off mid-way."""

    reason: str


@dataclass(frozen=True)
class BankBatchFailed:
    """The bank answered a batch call as a whole, not charge by charge (a 5xx, say)."""

    reason: str


BankAnswer = BankReply | BankUnreachable | BankBatchFailed


@dataclass(frozen=True)
class ChargesFound:
    """The bank's record of charges for one reference (GET /v1/charges?reference=...)."""

    charges: tuple[Mapping[str, Any], ...]


def batch_answers(status_code: int, body: Mapping[str, Any], count: int) -> list[BankAnswer]:
    """Each of `count` charges' answer, from the bank's answer to their batch call.

    Only a 200 with one result per charge answers the charges one by one; anything else
    failed the call as a whole, which leaves every charge's fate unknown (retry them all).
    """
    results = body.get("results")
    if status_code != 200:
        failed = BankBatchFailed(f"bank answered the batch call {status_code}: {error_text(body)}")
        return [failed] * count
    if not isinstance(results, list) or len(results) != count:
        found = len(results) if isinstance(results, list) else "no"
        failed = BankBatchFailed(f"bank batch answer has {found} results for {count} charges")
        return [failed] * count
    return [_batch_result(result) for result in results]


def _batch_result(result: object) -> BankAnswer:
    if isinstance(result, dict):
        status, body = result.get("status_code"), result.get("body")
        if isinstance(status, int) and isinstance(body, dict):
            return BankReply(status, body)
    return BankBatchFailed("bank batch answer has an unreadable result")


def batch_requests(requests: Sequence[ChargeCall]) -> dict[str, Any]:
    """The POST /v1/charges/batch body for `requests`."""
    return {"charges": [request.batch_body() for request in requests]}


def error_text(body: Mapping[str, Any]) -> str:
    text = body.get("error") or body.get("message") or body.get("detail") or "no details"
    return str(text)[:300]
