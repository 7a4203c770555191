"""What the bank's HTTP API answers besides its models: the batch's per-charge bodies, spelled
as the single endpoints answer them, and every status each route documents in OpenAPI."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from kafka_restaurants.bank.domain import (
    ChargeRefusal,
    ChargeResult,
    ChargeView,
    IdempotencyKeyReused,
    TokenView,
    TransientProcessingError,
    UnknownToken,
)
from kafka_restaurants.bank.schemas import (
    ChargeOut,
    FieldErrorsOut,
    MessageOut,
    ProcessingErrorOut,
)

# Responses are serialized straight from the service's dataclasses (the same JSON the
# response models describe), rather than validated into those models and then serialized.
TOKEN_JSON = TypeAdapter(TokenView)
CHARGE_JSON = TypeAdapter(ChargeView)


# The bodies of a batch's per-charge refusals: the single endpoint's, except that the key is a
# field of the charge rather than a header.
UNKNOWN_TOKEN = {
    "detail": [{"loc": ["body", "token"], "msg": "no card has this token", "type": "not_found"}]
}
KEY_REUSED = {
    "detail": [
        {
            "loc": ["body", "idempotency_key"],
            "msg": "this Idempotency-Key was already used for a different charge request",
            "type": "idempotency_key_reused",
        }
    ]
}
TRANSIENT = {"error": "processing_error", "message": "temporary failure: try again"}
INJECTED = {"error": "processing_error", "message": "injected fault: try again"}


def batch_item(status: int, body: dict[str, Any]) -> bytes:
    return json.dumps({"status_code": status, "body": body}, separators=(",", ":")).encode()


REFUSAL_ITEMS: dict[type[Exception], bytes] = {
    UnknownToken: batch_item(404, UNKNOWN_TOKEN),
    IdempotencyKeyReused: batch_item(409, KEY_REUSED),
    TransientProcessingError: batch_item(503, TRANSIENT),
}
INJECTED_ITEM = batch_item(503, INJECTED)

# Every status an endpoint can answer is in the OpenAPI document, with the body it carries.
UNREADABLE: dict[int | str, dict[str, Any]] = {
    400: {"model": MessageOut, "description": "The body is not UTF-8 (FastAPI cannot read it)"}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": FieldErrorsOut, "description": "A field is wrong; `detail` says which and why"}
}
# Every route but health, readiness and metrics names its caller.
AUTH: dict[int | str, dict[str, Any]] = {
    401: {
        "model": MessageOut,
        "description": "No bearer key, or one the bank does not know (`WWW-Authenticate: Bearer`)",
    },
    403: {"model": MessageOut, "description": "The caller's key does not allow this"},
}
CHARGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ChargeOut, "description": "This Idempotency-Key's stored result, replayed"},
    **UNREADABLE,
    **AUTH,
    404: {"model": FieldErrorsOut, "description": "No card has this token"},
    409: {
        "model": FieldErrorsOut,
        "description": "The Idempotency-Key was already used for a different charge request",
    },
    **INVALID,
    503: {
        "model": ProcessingErrorOut,
        "description": "A transient processing error (test card 4000000000000119, or an "
        "injected fault): retry with the same Idempotency-Key",
    },
    504: {"model": ProcessingErrorOut, "description": "An injected processor timeout"},
}
BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **UNREADABLE,
    **AUTH,
    422: {
        "model": FieldErrorsOut,
        "description": "The body or its `charges` list is wrong; nothing was charged. "
        "A single charge that is wrong gets its own 422 among the results instead",
    },
    504: {
        "model": ProcessingErrorOut,
        "description": "An injected processor timeout; nothing was charged",
    },
}


def charge_item(result: ChargeResult | ChargeRefusal) -> bytes:
    """One batch result, spelled as POST /v1/charges would answer that charge."""
    if isinstance(result, ChargeResult):
        status = b"200" if result.replayed else b"201"
        return (
            b'{"status_code":' + status + b',"body":' + CHARGE_JSON.dump_json(result.charge) + b"}"
        )
    return REFUSAL_ITEMS[type(result)]
