"""Who is calling the bank, and what each caller may do: one bearer key per service.

The bank knows one key per caller (BANK_CALLER_KEY_API, _TRANSACTIONS, _OPERATOR); a caller
presents its own (BANK_API_KEY) as `Authorization: Bearer <key>`. A presented key is compared
in constant time against every configured key, so the answer's timing says nothing about which
key, or how much of one, it matched. Keys never appear in a log line or a response.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from kafka_restaurants.settings import Settings

# Shorter keys are refused at start-up: a key is a password nobody has to type.
MIN_KEY_LENGTH = 16


class Permission(StrEnum):
    """One thing a caller may ask of the bank."""

    CREATE_TOKENS = "create_tokens"
    CHARGE = "charge"
    LOOK_UP_CHARGES = "look_up_charges"  # the charges of one reference
    LIST_CHARGES = "list_charges"  # every charge, unfiltered by reference
    CONTROL_FAULTS = "control_faults"
    VOID_TOKENS = "void_tokens"  # make an order's unused token unusable


class Caller(StrEnum):
    """The services the bank knows, each with its own key."""

    API = "api"
    TRANSACTIONS = "transactions"
    OPERATOR = "operator"


PERMISSIONS: Mapping[Caller, frozenset[Permission]] = {
    # The api swaps cards for tokens; its reconciler looks up an order's charges and voids
    # the token of an order it fails, so no charge can still come after.
    Caller.API: frozenset(
        {Permission.CREATE_TOKENS, Permission.LOOK_UP_CHARGES, Permission.VOID_TOKENS}
    ),
    # The payment service charges, and looks an order's charge up when it gives up retrying.
    Caller.TRANSACTIONS: frozenset({Permission.CHARGE, Permission.LOOK_UP_CHARGES}),
    Caller.OPERATOR: frozenset(Permission),
}

# The setting that holds each caller's key.
KEY_SETTINGS: Mapping[Caller, str] = {
    Caller.API: "BANK_CALLER_KEY_API",
    Caller.TRANSACTIONS: "BANK_CALLER_KEY_TRANSACTIONS",
    Caller.OPERATOR: "BANK_CALLER_KEY_OPERATOR",
}


class BankKeysMissing(ValueError):
    """The bank was started without a usable key for every caller."""


@dataclass(frozen=True)
class CallerKeys:
    """The bank's view of its callers: each caller's key, as bytes for compare_digest."""

    keys: Mapping[Caller, bytes]

    def __repr__(self) -> str:  # never print a key, even in a traceback
        return f"CallerKeys({', '.join(self.keys)})"

    def identify(self, presented: str | None) -> Caller | None:
        """The caller whose key was presented, or None; constant time over every key."""
        if not presented:
            return None
        candidate = presented.encode("utf-8", "surrogateescape")
        found: Caller | None = None
        for caller, key in self.keys.items():
            # No early exit: every key is compared whatever matched before.
            if hmac.compare_digest(candidate, key):
                found = caller
        return found


def caller_keys(settings: Settings) -> CallerKeys:
    """The configured caller keys; raises BankKeysMissing naming each setting that is wrong."""
    values = {
        Caller.API: settings.bank_caller_key_api,
        Caller.TRANSACTIONS: settings.bank_caller_key_transactions,
        Caller.OPERATOR: settings.bank_caller_key_operator,
    }
    problems: list[str] = []
    keys: dict[Caller, bytes] = {}
    for caller, secret in values.items():
        name = KEY_SETTINGS[caller]
        value = secret.get_secret_value() if secret is not None else ""
        if not value:
            problems.append(f"{name} is not set")
        elif len(value) < MIN_KEY_LENGTH:
            problems.append(f"{name} is shorter than {MIN_KEY_LENGTH} characters")
        else:
            keys[caller] = value.encode()
    seen: dict[bytes, Caller] = {}
    for caller, key in keys.items():
        if key in seen:
            first, second = KEY_SETTINGS[seen[key]], KEY_SETTINGS[caller]
            problems.append(f"{first} and {second} are the same key")
        seen[key] = caller
    if problems:
        raise BankKeysMissing(
            "the bank needs its own key for each caller: "
            + "; ".join(problems)
            + " (`restaurants up` generates them into DATA_DIR/bank_keys.json)"
        )
    return CallerKeys(keys)
