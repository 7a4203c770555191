"""Charge rules: what a charge on a card results in, what a token may pay for, idempotency
fingerprints, injected faults."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kafka_restaurants.bank.cards import CardBehaviour

SUCCEEDED = "succeeded"
DECLINED = "declined"


@dataclass(frozen=True)
class ChargeOutcome:
    """The final answer for a charge: succeeded, or declined with a code."""

    status: str
    decline_code: str | None = None


def outcome_for(behaviour: CardBehaviour) -> ChargeOutcome:
    """The final outcome of charging a card that behaves like `behaviour`."""
    if behaviour is CardBehaviour.CARD_DECLINED:
        return ChargeOutcome(DECLINED, "card_declined")
    if behaviour is CardBehaviour.INSUFFICIENT_FUNDS:
        return ChargeOutcome(DECLINED, "insufficient_funds")
    # PROCESSING_ERROR cards succeed once their transient failures are used up.
    return ChargeOutcome(SUCCEEDED)


def fails_transiently(behaviour: CardBehaviour, attempt: int, transient_failures: int) -> bool:
    """True when attempt number `attempt` (1-based) for one key must get a processing error."""
    return behaviour is CardBehaviour.PROCESSING_ERROR and attempt <= transient_failures


def request_fingerprint(token: str, amount: int, currency: str, reference: str) -> str:
    """A digest of a charge request's body, to tell a replay from a reused key."""
    canonical = json.dumps(
        {"token": token, "amount": amount, "currency": currency, "reference": reference},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Fault(StrEnum):
    """What the fault injector does to one charge request."""

    NONE = "none"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass
class FaultInjector:
    """Decides, per charge request, whether to fail it on purpose; seed `rng` for repeatability."""

    error_rate: float
    timeout_rate: float
    rng: random.Random
    # Added before every charge call; the operator may change all three at run time.
    latency_ms: int = 0

    def roll(self) -> Fault:
        """One draw: errors take the first `error_rate` of [0, 1), timeouts the next slice."""
        draw = self.rng.random()
        if draw < self.error_rate:
            return Fault.ERROR
        if draw < self.error_rate + self.timeout_rate:
            return Fault.TIMEOUT
        return Fault.NONE

    def roll_batch(self, size: int) -> tuple[bool, list[bool]]:
        """For a batch of `size` charges: (the whole call times out, which charges error).

        The timeout is one draw per call (a hung processor hangs the whole call), the error one
        draw per charge, so each charge meets about the same fault rates as a single call.
        """
        if self.timeout_rate and self.rng.random() < self.timeout_rate:
            return True, [False] * size
        if not self.error_rate:
            return False, [False] * size
        return False, [self.rng.random() < self.error_rate for _ in range(size)]


# Why a token cannot pay for a charge: each is a charge declined with this code.
TOKEN_USED = "token_used"
TOKEN_EXPIRED = "token_expired"
TOKEN_REFERENCE_MISMATCH = "token_reference_mismatch"
TOKEN_CURRENCY_MISMATCH = "token_currency_mismatch"
AMOUNT_OVER_TOKEN_LIMIT = "amount_over_token_limit"


@dataclass(frozen=True)
class TokenBinding:
    """What a token may pay for: one reference, up to an amount in one currency, until it
    expires, once (`used_by` is the Idempotency-Key of the charge that used it)."""

    reference: str
    max_amount: int
    currency: str
    expires_at: datetime
    used_by: str | None = None


def binding_refusal(
    binding: TokenBinding,
    key: str,
    reference: str,
    amount: int,
    currency: str,
    now: datetime,
) -> str | None:
    """The decline code when the token cannot pay this charge (under `key`), else None.

    The charge that used the token may ask again under its own key (a retry): only a charge
    under another key is refused as `token_used`.
    """
    if binding.used_by is not None and binding.used_by != key:
        return TOKEN_USED
    if now >= binding.expires_at:
        return TOKEN_EXPIRED
    if reference != binding.reference:
        return TOKEN_REFERENCE_MISMATCH
    if currency != binding.currency:
        return TOKEN_CURRENCY_MISMATCH
    if amount > binding.max_amount:
        return AMOUNT_OVER_TOKEN_LIMIT
    return None
