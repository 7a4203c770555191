"""Idempotency-Key rules: the same key and request give the same order, another request a 409."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

from kafka_restaurants.api.errors import FieldError, OrderRejected

# Never part of a fingerprint: nothing derived from a card is stored, not even a digest.
UNHASHED_FIELDS = frozenset({"card"})


def request_fingerprint(request: BaseModel) -> str:
    """A digest of what an order asks for, card left out.

    A retry that changes only the card therefore answers with the first order.
    """
    asked = request.model_dump(mode="json", exclude=set(UNHASHED_FIELDS))
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def check_same_request(stored: str | None, fingerprint: str | None) -> None:
    """Raise OrderRejected (409) when a key's order asked for something else than this request.

    Orders stored before fingerprints existed (None) match any request.
    """
    if stored is not None and fingerprint is not None and stored != fingerprint:
        raise OrderRejected(
            [
                FieldError(
                    ("header", "Idempotency-Key"),
                    "this Idempotency-Key already placed an order with different details: "
                    "send a new key for a new order",
                    "idempotency_key_reused",
                )
            ],
            status_code=409,
        )
