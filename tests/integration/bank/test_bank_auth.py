"""Service identity at the bank over real HTTP: who may call which route (401, 403 or served)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kafka_restaurants.db import migrate
from tests.fixtures.bank import API_KEY, AS_OPERATOR, OPERATOR_KEY, TRANSACTIONS_KEY, auth
from tests.fixtures.components import free_port
from tests.integration.bank.conftest import BankServer, bank_settings
from tests.integration.bank.test_bank_http import CARDS, StartBank, tokenize

CARD = {"number": CARDS["succeeds"], "exp_month": 12, "exp_year": 2031, "cvc": "123"}
TERMS = {"reference": "auth-1", "max_amount": 100, "currency": "ILS"}
CHARGE = {"token": "tok_nobody", "amount": 100, "currency": "ILS", "reference": "auth-1"}
FAULTS = {"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0}

# Every route that needs a caller: (method, path, params, body), and who may call it.
ROUTES: dict[str, tuple[str, str, dict[str, str], Any, set[str]]] = {
    "create token": ("POST", "/v1/tokens", {}, {**CARD, **TERMS}, {"api", "operator"}),
    "charge": ("POST", "/v1/charges", {}, CHARGE, {"transactions", "operator"}),
    "charge batch": (
        "POST",
        "/v1/charges/batch",
        {},
        {"charges": [{**CHARGE, "idempotency_key": "auth-batch"}]},
        {"transactions", "operator"},
    ),
    "look up by reference": (
        "GET",
        "/v1/charges",
        {"reference": "auth-1"},
        None,
        {"api", "transactions", "operator"},
    ),
    "list every charge": ("GET", "/v1/charges", {}, None, {"operator"}),
    "list by status": ("GET", "/v1/charges", {"status": "succeeded"}, None, {"operator"}),
    "void token": (
        "POST",
        "/v1/tokens/{token}/void",
        {},
        {"reference": "auth-1"},
        {"api", "operator"},
    ),
    "read faults": ("GET", "/admin/faults", {}, None, {"operator"}),
    "set faults": ("PUT", "/admin/faults", {}, FAULTS, {"operator"}),
}
KEYS = {"api": API_KEY, "transactions": TRANSACTIONS_KEY, "operator": OPERATOR_KEY}


def call(bank: BankServer, route: str, headers: dict[str, str]) -> httpx.Response:
    method, path, params, body, _ = ROUTES[route]
    return httpx.request(
        method,
        f"{bank.url}{path}",
        params=params,
        json=body,
        headers={**headers, "Idempotency-Key": "auth-key"},
        timeout=10,
    )


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BankServer]:
    """One bank for the module: these tests only read, or are refused."""
    workdir = tmp_path_factory.mktemp("bank-auth")
    url = f"sqlite:///{workdir / 'bank.sqlite'}"
    migrate("bank", url)
    server = BankServer(bank_settings(url, workdir)).start()
    yield server
    server.stop()


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_refuses_a_request_without_a_known_key(bank: BankServer, route: str) -> None:
    for headers in (
        {},
        auth("not-a-key-the-bank-knows"),
        auth(API_KEY + "x"),
        auth(API_KEY[:-1]),
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": API_KEY},
        {"Authorization": "Bearer"},
    ):
        response = call(bank, route, headers)
        assert response.status_code == 401, (route, headers, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json() == {"detail": "a known bearer key is required"}


@pytest.mark.parametrize("route", ROUTES)
def test_each_caller_may_do_only_its_own_part(bank: BankServer, route: str) -> None:
    allowed = ROUTES[route][4]
    for caller, key in KEYS.items():
        response = call(bank, route, auth(key))
        if caller in allowed:
            assert response.status_code not in (401, 403), (route, caller, response.text)
        else:
            assert response.status_code == 403, (route, caller, response.text)
            assert caller in response.json()["detail"]


def test_health_readiness_metrics_and_docs_stay_open(bank: BankServer) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert httpx.get(f"{bank.url}{path}", timeout=10).status_code == 200, path


def test_the_openapi_document_names_the_bearer_scheme_on_every_guarded_route(
    bank: BankServer,
) -> None:
    document = httpx.get(f"{bank.url}/openapi.json", timeout=10).json()
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["callerKey"]
    assert (schemes["callerKey"]["type"], schemes["callerKey"]["scheme"]) == ("http", "bearer")
    guarded = {(method.upper(), path) for method, path, *_ in ROUTES.values()}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if (method.upper(), path) in guarded:
                assert operation["security"] == [{"callerKey": []}], (method, path)
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            else:
                assert "security" not in operation, (method, path)


def test_the_api_looks_up_an_order_it_tokenized_but_cannot_charge_it(
    sqlite_url: str, start_bank: StartBank
) -> None:
    bank = start_bank(sqlite_url)
    token = tokenize(bank, CARDS["succeeds"], reference="order-a")["token"]
    body = {"token": token, "amount": 100, "currency": "ILS", "reference": "order-a"}
    charged = httpx.post(
        f"{bank.url}/v1/charges", json=body, headers={**auth(API_KEY), "Idempotency-Key": "a"}
    )
    assert charged.status_code == 403
    listed = httpx.get(f"{bank.url}/v1/charges", headers=AS_OPERATOR).json()["charges"]
    assert listed == [], "a refused call charges nothing"


def test_a_bank_started_without_caller_keys_exits_naming_the_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANK_", "DATABASE"))}
    env.update(
        DATA_DIR=str(tmp_path),
        BANK_DATABASE_URL=f"sqlite:///{tmp_path / 'bank.sqlite'}",
        BANK_PORT=str(free_port()),
        BANK_CALLER_KEY_API=API_KEY,
    )
    started = subprocess.run(
        [sys.executable, "-m", "kafka_restaurants.cli.main", "serve", "bank"],
        env=env,
        cwd=tmp_path,  # no .env file here
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2, started.stderr
    assert "BANK_CALLER_KEY_TRANSACTIONS is not set" in started.stderr
    assert "BANK_CALLER_KEY_OPERATOR is not set" in started.stderr
    assert API_KEY not in started.stderr + started.stdout
