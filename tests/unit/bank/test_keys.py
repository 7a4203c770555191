"""Generated caller keys for a local system: made once, private, shared by every start."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kafka_restaurants.bank.auth import Caller, caller_keys
from kafka_restaurants.bank.keys import (
    KEYS_FILE_NAME,
    bearer,
    caller_environments,
    generated_keys,
    operator_key,
    resolve_caller_keys,
)
from kafka_restaurants.settings import Settings


def test_keys_are_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = generated_keys(tmp_path)
    assert set(first) == {
        "BANK_CALLER_KEY_API",
        "BANK_CALLER_KEY_TRANSACTIONS",
        "BANK_CALLER_KEY_OPERATOR",
    }
    assert len(set(first.values())) == 3 and all(len(key) >= 32 for key in first.values())
    path = tmp_path / KEYS_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert generated_keys(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [KEYS_FILE_NAME], "no temporary file left"


def test_a_damaged_keys_file_is_reported_not_replaced(tmp_path: Path) -> None:
    (tmp_path / KEYS_FILE_NAME).write_text(json.dumps({"BANK_CALLER_KEY_API": "x"}))
    with pytest.raises(RuntimeError, match="delete it to start over"):
        generated_keys(tmp_path)


def test_generated_keys_start_a_bank_and_give_each_caller_its_own(tmp_path: Path) -> None:
    settings = Settings.model_validate({"DATA_DIR": str(tmp_path)})
    environments = caller_environments(settings)
    bank = Settings.model_validate(environments["bank"])
    keys = caller_keys(bank)  # does not raise: the bank can start with them
    assert keys.identify(environments["api"]["BANK_API_KEY"]) is Caller.API
    assert keys.identify(environments["transactions"]["BANK_API_KEY"]) is Caller.TRANSACTIONS
    assert operator_key(tmp_path, env={}) == environments["bank"]["BANK_CALLER_KEY_OPERATOR"]


def test_configured_keys_win_and_none_is_written(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "DATA_DIR": str(tmp_path),
            "BANK_CALLER_KEY_API": "api-key-from-a-secret",
            "BANK_CALLER_KEY_TRANSACTIONS": "transactions-key-from-a-secret",
            "BANK_CALLER_KEY_OPERATOR": "operator-key-from-a-secret",
        }
    )
    assert resolve_caller_keys(settings)[Caller.OPERATOR] == "operator-key-from-a-secret"
    assert not (tmp_path / KEYS_FILE_NAME).exists()


def test_the_operator_key_comes_from_the_environment_first(tmp_path: Path) -> None:
    assert operator_key(tmp_path, env={}) is None
    assert operator_key(None, env={}) is None
    assert operator_key(None, env={"BANK_CALLER_KEY_OPERATOR": "from-env"}) == "from-env"
    generated_keys(tmp_path)
    assert operator_key(tmp_path, env={"BANK_CALLER_KEY_OPERATOR": "from-env"}) == "from-env"


def test_bearer() -> None:
    assert bearer("k") == {"Authorization": "Bearer k"}
    assert bearer(None) == {} == bearer("")
