"""What must survive and what must never be kept: restarts, races and card secrecy."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from kafka_restaurants.bank.domain import ChargeRequest, TokenTerms
from kafka_restaurants.bank.service import Bank
from kafka_restaurants.db import create_db_engine, migrate
from tests.fixtures.bank import AS_API, AS_OPERATOR, AS_TRANSACTIONS, BANK_KEYS
from tests.fixtures.components import free_port, wait_for

# Test cards with CVCs chosen so they cannot be confused with status codes in logs.
CARDS = [
    ("4242424242424242", "731"),
    ("4000000000000002", "732"),
    ("4000000000009995", "733"),
    ("4000000000000119", "734"),
    ("378282246310005", "7319"),
]

SERVE = (
    "import logging; logging.basicConfig(level=logging.DEBUG); "
    "logging.getLogger('sqlalchemy.engine').setLevel(logging.INFO); "
    "from kafka_restaurants.bank.app import serve; "
    "from kafka_restaurants.settings import Settings; serve(Settings())"
)


class BankProcess:
    """`serve(settings)` in a real subprocess configured by environment variables, as deployed."""

    def __init__(self, db_url: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"bank-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BANK_", "DATABASE"))}
        env.update(
            HOST="127.0.0.1",
            BANK_PORT=str(self.port),
            BANK_DATABASE_URL=db_url,
            DATA_DIR=str(workdir),
            BANK_TRANSIENT_FAILURES="1",
            LOG_LEVEL="DEBUG",  # the service's debug lines and request lines, to check them
            **BANK_KEYS,
        )
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE], cwd=workdir, env=env, stdout=log, stderr=log
            )

        def healthy() -> bool:
            assert self.process.poll() is None, self.log.read_text()
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200

        wait_for(healthy, timeout=60, what="bank subprocess /readyz")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[BankProcess]]:
    started: list[BankProcess] = []
    yield started
    for process in started:
        process.stop()


def _use_every_card(url: str) -> dict[str, dict[str, Any]]:
    """Tokenize and charge each card; return the first answer per card number."""
    answers = {}
    for index, (number, cvc) in enumerate(CARDS):
        card = {"number": number, "exp_month": 1, "exp_year": 2031, "cvc": cvc}
        terms = {"reference": f"ref-{index}", "max_amount": 1500, "currency": "ILS"}
        token = httpx.post(f"{url}/v1/tokens", json={**card, **terms}, headers=AS_API)
        body = {"token": token.json()["token"], "amount": 1500, **terms}
        del body["max_amount"]
        headers = {**AS_TRANSACTIONS, "Idempotency-Key": f"key-{index}"}
        for _ in range(3):  # the flaky card fails once first (BANK_TRANSIENT_FAILURES=1)
            response = httpx.post(f"{url}/v1/charges", json=body, headers=headers)
            if response.status_code != 503:
                break
        assert response.status_code == 201, response.text
        answers[number] = {"body": body, "headers": headers, "result": response.json()}
    return answers


def test_restart_keeps_results_and_no_card_data_is_kept_or_logged(
    database_url: str, tmp_path: Path, processes: list[BankProcess]
) -> None:
    first = BankProcess(database_url, tmp_path)
    processes.append(first)
    answers = _use_every_card(first.url)
    first.stop()

    second = BankProcess(database_url, tmp_path)  # migrations run again: a no-op
    processes.append(second)
    for answer in answers.values():
        replay = httpx.post(
            f"{second.url}/v1/charges", json=answer["body"], headers=answer["headers"]
        )
        assert (replay.status_code, replay.json()) == (200, answer["result"])
    listed = httpx.get(f"{second.url}/v1/charges", headers=AS_OPERATOR)
    assert len(listed.json()["charges"]) == len(CARDS)
    second.stop()

    _assert_no_card_data_in_tables(database_url)
    if make_url(database_url).get_backend_name() == "sqlite":
        _assert_no_card_data_in_files(Path(make_url(database_url).database or ""))
    # The logs really hold the service's and the database's debug output, and no card data.
    assert "tokenized a card (visa ending 4242)" in first.log.read_text()
    assert "INSERT INTO bank_charges" in first.log.read_text()
    assert "POST /v1/charges" in second.log.read_text()
    for process in (first, second):
        _assert_no_card_data_in_text(process.log.read_text())
        # Nor the callers' keys, which every request carried.
        for key in BANK_KEYS.values():
            assert key not in process.log.read_text()


def _assert_no_card_data_in_text(text: str) -> None:
    for number, cvc in CARDS:
        assert number not in text
        # Not part of a longer token, nor the milliseconds of a timestamp ("16.732+00:00").
        assert not re.search(rf"(?<![0-9A-Za-z.]){cvc}(?![0-9A-Za-z])", text), cvc


def _assert_no_card_data_in_tables(db_url: str) -> None:
    engine = create_db_engine(db_url)
    metadata = MetaData()
    metadata.reflect(engine)
    assert {"bank_tokens", "bank_charges", "bank_charge_attempts"} <= set(metadata.tables)
    with engine.connect() as connection:
        values = [
            str(value)
            for table in metadata.tables.values()
            for row in connection.execute(select(table))
            for value in row
        ]
    engine.dispose()
    assert values
    for number, cvc in CARDS:
        assert not [v for v in values if number in v or v == cvc]


def _assert_no_card_data_in_files(database: Path) -> None:
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    data = b"".join(p.read_bytes() for p in files)
    assert data
    for number, _cvc in CARDS:
        assert number.encode() not in data
        assert number.encode("utf-16-le") not in data


def test_racing_requests_with_one_key_store_one_charge(database_url: str) -> None:
    """Both requests pass the "already charged?" check before either inserts: one must lose.

    On PostgreSQL the token's row lock makes the second wait for the first to commit, and it
    then finds the first's charge: the race cannot be forced there, only run.
    """
    migrate("bank", database_url)
    engine = create_db_engine(database_url)
    both_checked = threading.Barrier(2, timeout=10)
    force_the_race = engine.dialect.name == "sqlite"

    def clock_after_both_checked() -> datetime:
        # The clock is read just before the insert; holding both threads here forces the race.
        if force_the_race and threading.current_thread().name.startswith("racer"):
            both_checked.wait()
        return datetime.now(UTC)

    bank = Bank(engine, clock=clock_after_both_checked)
    terms = TokenTerms("race", 900, "ILS")
    token = bank.tokenize_card("4242424242424242", 1, 2031, "731", terms).token
    request = ChargeRequest(token, 900, "ILS", "race")
    results: list[Any] = []

    def racer() -> None:
        results.append(bank.charge_card("race-key", request))

    threads = [threading.Thread(target=racer, name=f"racer-{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    engine.dispose()

    assert len(results) == 2
    assert sorted(r.replayed for r in results) == [False, True]
    assert results[0].charge == results[1].charge
    assert len(bank.list_charges(reference="race")) == 1


def test_nothing_logs_card_numbers_at_debug(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    migrate("bank", sqlite_url)
    engine = create_db_engine(sqlite_url)
    with caplog.at_level(logging.DEBUG):
        bank = Bank(engine)
        for number, cvc in CARDS:
            bank.tokenize_card(number, 1, 31, cvc, TokenTerms("order-1", 100, "ILS"))
    engine.dispose()
    assert "tokenized a card (visa ending 4242)" in caplog.text
    _assert_no_card_data_in_text(caplog.text)


def test_at_info_only_the_charge_is_logged(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One line per order at INFO (the charge); the token is a DEBUG detail."""
    migrate("bank", sqlite_url)
    engine = create_db_engine(sqlite_url)
    bank = Bank(engine)
    with caplog.at_level(logging.INFO, logger="kafka_restaurants.bank"):
        terms = TokenTerms("order-1", 900, "ILS")
        token = bank.tokenize_card("4000000000000002", 1, 31, "732", terms).token
        bank.charge_card("order-1", ChargeRequest(token, 900, "ILS", "order-1"))
        bank.charge_card("order-1", ChargeRequest(token, 900, "ILS", "order-1"))  # a replay
    engine.dispose()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1, lines
    assert "'order-1'" in lines[0] and "declined (card_declined)" in lines[0]
