"""The bank's vocabulary: what its use cases take (a charge request, a token's terms), what
they answer (charges and tokens as clients see them, what voiding found) and the refusals.

Plain values, shared by the use cases (`bank/service.py`) and the HTTP layer that serializes
them (`bank/routes.py`, `bank/responses.py`); the JSON bodies are dumped straight from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class UnknownToken(LookupError):
    """No card was tokenized under this token."""


class IdempotencyKeyReused(ValueError):
    """The Idempotency-Key was already used for a charge with a different body."""


class TransientProcessingError(RuntimeError):
    """The charge could not be processed this time; retrying with the same key may succeed."""


@dataclass(frozen=True)
class ChargeRequest:
    """What a client asks to charge."""

    token: str
    amount: int
    currency: str
    reference: str


@dataclass(frozen=True)
class ChargeView:
    """A charge as clients see it."""

    charge_id: str
    status: str
    decline_code: str | None
    amount: int
    currency: str
    reference: str
    created_at: datetime


@dataclass(frozen=True)
class ChargeResult:
    """A charge and whether it was an idempotent replay of an earlier request."""

    charge: ChargeView
    replayed: bool


# A charge of a batch that got no charge: what the single endpoint raises, as a value.
ChargeRefusal = UnknownToken | IdempotencyKeyReused | TransientProcessingError


@dataclass(frozen=True)
class TokenTerms:
    """What a token is made for: one order's reference, and at most this amount."""

    reference: str
    max_amount: int
    currency: str


@dataclass(frozen=True)
class TokenView:
    """A tokenized card as clients see it: also POST /v1/tokens's response model, so the
    OpenAPI document describes exactly what is dumped."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    reference: str
    max_amount: int
    currency: str
    expires_at: datetime


class TokenVoid(StrEnum):
    """What voiding a token found."""

    VOIDED = "voided"  # unusable from now on (or already voided)
    USED = "used"  # a charge used it first
    UNKNOWN = "unknown"  # no token of that reference
