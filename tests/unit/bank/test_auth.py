"""Caller keys: which caller a presented key names, and a bank configured wrong refuses to start."""

from __future__ import annotations

import pytest

from kafka_restaurants.bank.auth import (
    PERMISSIONS,
    BankKeysMissing,
    Caller,
    Permission,
    caller_keys,
)
from kafka_restaurants.settings import Settings

KEYS = {
    "BANK_CALLER_KEY_API": "a" * 16,
    "BANK_CALLER_KEY_TRANSACTIONS": "t" * 16,
    "BANK_CALLER_KEY_OPERATOR": "o" * 16,
}


def settings(**values: str) -> Settings:
    return Settings.model_validate({**values})


def test_a_presented_key_names_its_caller_or_nobody() -> None:
    keys = caller_keys(settings(**KEYS))
    assert keys.identify("a" * 16) is Caller.API
    assert keys.identify("t" * 16) is Caller.TRANSACTIONS
    assert keys.identify("o" * 16) is Caller.OPERATOR
    for presented in (None, "", "a" * 15, "a" * 17, "A" * 16, "\udcff" * 16, "é" * 16):
        assert keys.identify(presented) is None, presented


def test_the_keys_never_show_in_a_repr() -> None:
    keys = caller_keys(settings(**KEYS))
    assert "a" * 16 not in repr(keys) and "o" * 16 not in str(keys)


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({}, ["BANK_CALLER_KEY_API is not set", "BANK_CALLER_KEY_OPERATOR is not set"]),
        (
            {**KEYS, "BANK_CALLER_KEY_TRANSACTIONS": ""},
            ["BANK_CALLER_KEY_TRANSACTIONS is not set"],
        ),
        (
            {**KEYS, "BANK_CALLER_KEY_OPERATOR": "tiny-key"},
            ["BANK_CALLER_KEY_OPERATOR is shorter than 16 characters"],
        ),
        (
            {**KEYS, "BANK_CALLER_KEY_OPERATOR": "a" * 16},
            ["BANK_CALLER_KEY_API and BANK_CALLER_KEY_OPERATOR are the same key"],
        ),
    ],
)
def test_a_bank_without_a_key_for_every_caller_refuses_to_start(
    values: dict[str, str], problems: list[str]
) -> None:
    with pytest.raises(BankKeysMissing) as refused:
        caller_keys(settings(**values))
    for problem in problems:
        assert problem in str(refused.value)
    for key in values.values():
        if key:
            assert key not in str(refused.value).replace("BANK_CALLER_KEY", "")


def test_each_caller_may_do_only_its_part() -> None:
    assert PERMISSIONS[Caller.API] == {
        Permission.CREATE_TOKENS,
        Permission.LOOK_UP_CHARGES,
        Permission.VOID_TOKENS,
    }
    assert PERMISSIONS[Caller.TRANSACTIONS] == {Permission.CHARGE, Permission.LOOK_UP_CHARGES}
    assert PERMISSIONS[Caller.OPERATOR] == set(Permission)
