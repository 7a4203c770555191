"""Provisioning the bank's caller keys for a local system, and presenting one as a client.

`restaurants up` calls `resolve_caller_keys`: a key set in the environment (BANK_CALLER_KEY_*)
wins; any other is generated once into DATA_DIR/bank_keys.json (mode 0600) and reused on every
start, so the bank and its callers agree across restarts. The bench and chaos harnesses find
the operator key there too (`operator_key`).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from kafka_restaurants.bank.auth import KEY_SETTINGS, Caller
from kafka_restaurants.secret_files import create_once
from kafka_restaurants.settings import Settings

KEYS_FILE_NAME = "bank_keys.json"
OPERATOR_SETTING = KEY_SETTINGS[Caller.OPERATOR]


def bearer(key: str | None) -> dict[str, str]:
    """The Authorization header that presents `key` (no header without a key)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def keys_file(data_dir: Path) -> Path:
    return data_dir / KEYS_FILE_NAME


def generated_keys(data_dir: Path) -> dict[str, str]:
    """The keys generated for this data directory (setting name -> key), made on first use."""
    path = keys_file(data_dir)
    existing = _read(path)
    if existing is not None:
        return existing
    fresh = {name: secrets.token_urlsafe(32) for name in KEY_SETTINGS.values()}
    create_once(path, json.dumps(fresh))
    found = _read(path)
    if found is None:
        raise RuntimeError(f"{path} is not a readable bank keys file: delete it to start over")
    return found


def _read(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(name), str) and data[name] for name in KEY_SETTINGS.values()
    ):
        return None
    return {name: str(data[name]) for name in KEY_SETTINGS.values()}


def resolve_caller_keys(settings: Settings) -> dict[Caller, str]:
    """Each caller's key: the BANK_CALLER_KEY_* setting when set, else the generated one."""
    configured = {
        Caller.API: settings.bank_caller_key_api,
        Caller.TRANSACTIONS: settings.bank_caller_key_transactions,
        Caller.OPERATOR: settings.bank_caller_key_operator,
    }
    if all(value is not None and value.get_secret_value() for value in configured.values()):
        return {caller: value.get_secret_value() for caller, value in configured.items() if value}
    generated = generated_keys(settings.data_dir)
    return {
        caller: (value.get_secret_value() if value else "") or generated[KEY_SETTINGS[caller]]
        for caller, value in configured.items()
    }


def caller_environments(settings: Settings) -> dict[str, dict[str, str]]:
    """The environment each local process gets: the bank every caller key, each caller its own."""
    keys = resolve_caller_keys(settings)
    return {
        "bank": {KEY_SETTINGS[caller]: key for caller, key in keys.items()},
        "api": {"BANK_API_KEY": keys[Caller.API]},
        "transactions": {"BANK_API_KEY": keys[Caller.TRANSACTIONS]},
    }


def operator_key(data_dir: Path | None, env: Mapping[str, str] | None = None) -> str | None:
    """The operator's key: BANK_CALLER_KEY_OPERATOR in `env`, else the one generated in
    `data_dir` by `restaurants up`; None when neither is there."""
    env = os.environ if env is None else env
    if env.get(OPERATOR_SETTING):
        return env[OPERATOR_SETTING]
    if data_dir is None:
        return None
    found = _read(keys_file(data_dir))
    return found[OPERATOR_SETTING] if found else None
