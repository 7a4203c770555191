"""Card data over HTTPS: `restaurants serve bank` and `serve api` with TLS_CERT_FILE/TLS_KEY_FILE,
their clients checking the servers against TLS_CA_FILE.

An order placed through the web's api client reaches the api over https, the api swaps the card
for a token at the bank over https, and the payment service's and reconciler's bank clients use
that token over https. A client trusting another CA is refused; plain http to a TLS port gets
no answer. The certificates are made here with the openssl CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kafka_restaurants.api.bank_client import CardTokens, ChargeLookup
from kafka_restaurants.api.errors import PaymentServiceUnavailable
from kafka_restaurants.api.tables import Order
from kafka_restaurants.cli.processes import http_ready
from kafka_restaurants.db import create_db_engine, session_factory
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import https_verify
from kafka_restaurants.transactions.bank_client import BankClient
from kafka_restaurants.transactions.bank_wire import BankReply, ChargeCall
from kafka_restaurants.web.api_client import ApiClient, ApiUnavailable
from kafka_restaurants.web.app import create_app as create_web_app
from tests.fixtures.bank import API_KEY, BANK_KEYS, OPERATOR_KEY, TRANSACTIONS_KEY
from tests.fixtures.components import free_port, wait_for
from tests.integration.api.conftest import seed_small_catalog

CARD = "4242424242424242"
CVC = "123"


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path  # a CA that signed nothing these servers present


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate it signed for localhost and 127.0.0.1, and another CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = _make_ca(directory, "services-ca")
    other_ca, _ = _make_ca(directory, "other-ca")
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", extensions,
        cwd=directory,
    )  # fmt: skip
    return Pki(ca=ca, cert=cert, key=key, other_ca=other_ca)


@dataclass
class Services:
    bank_url: str
    api_url: str
    api_db_url: str
    logs: list[Path]


def _serve(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kafka_restaurants.cli.main", "serve", name],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def services(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The bank and the api as real processes, each serving HTTPS with the CA's certificate."""
    data = tmp_path_factory.mktemp("https-data")
    api_db_url = f"sqlite:///{data}/api.sqlite"
    seed_small_catalog(api_db_url)
    bank_port, api_port = free_port(), free_port()
    # The host name (not the address) is what the api checks the bank's certificate for.
    bank_url, api_url = f"https://localhost:{bank_port}", f"https://localhost:{api_port}"
    tls = {
        "TLS_CERT_FILE": str(pki.cert),
        "TLS_KEY_FILE": str(pki.key),
        "TLS_CA_FILE": str(pki.ca),
        "HOST": "127.0.0.1",
        "DATA_DIR": str(data),
        "LOG_FORMAT": "text",
    }
    logs = [data / "bank.log", data / "api.log"]
    bank = _serve(
        "bank",
        {
            **tls,
            **BANK_KEYS,
            "BANK_PORT": str(bank_port),
            "BANK_DATABASE_URL": f"sqlite:///{data}/bank.sqlite",
        },
        logs[0],
    )
    api = None
    try:
        wait_for(http_ready(f"{bank_url}/readyz", pki.ca), timeout=60, what="the bank over https")
        api = _serve(
            "api",
            {
                **tls,
                "API_PORT": str(api_port),
                "DATABASE_URL": api_db_url,
                "API_WORKERS": "false",
                "BOOTSTRAP_SVR": "127.0.0.1:1",  # closed: no Kafka needed here
                "BANK_URL": bank_url,
                "BANK_API_KEY": API_KEY,
                "API_ORDER_RATE_PER_CLIENT": "0",
            },
            logs[1],
        )
        wait_for(http_ready(f"{api_url}/healthz", pki.ca), timeout=60, what="the api over https")
        yield Services(bank_url, api_url, api_db_url, logs)
    finally:
        if api is not None:
            _stop(api)
        _stop(bank)


def _web_settings(api_url: str, ca_file: Path, data_dir: Path) -> Settings:
    return Settings.model_validate(
        {"API_URL": api_url, "TLS_CA_FILE": str(ca_file), "DATA_DIR": str(data_dir)}
    )


async def test_an_order_placed_through_web_reaches_the_bank_over_https(
    services: Services, pki: Pki, tmp_path: Path
) -> None:
    web = create_web_app(_web_settings(services.api_url, pki.ca, tmp_path))
    async with web.router.lifespan_context(web):
        api: ApiClient = web.state.web.api
        found = await api.search(q="Amore Mio")
        restaurant = await api.restaurant(found.restaurants[0].id)
        item = restaurant.menu[0]
        payload = {
            "restaurant_id": restaurant.id,
            "items": [{"menu_item_id": item.id, "quantity": 2}],
            "email": "tls@example.com",
            "name": "Tal",
            "card": {"number": CARD, "exp_month": 12, "exp_year": 2099, "cvc": CVC},
        }
        order_id = await api.place_order(payload, idempotency_key="https-order-1")
        order = await api.order(order_id)
    assert order.status == "pending"
    # The card became a token at the bank: that token pays this order, charged over https
    # by the payment service's client and found by the reconciler's.
    engine = create_db_engine(services.api_db_url)
    with session_factory(engine)() as session:
        token = session.scalars(select(Order.payment_token).where(Order.id == order_id)).one()
    engine.dispose()
    assert token and CARD not in token
    assert order.card is not None and order.card.last4 == "4242"
    async with BankClient(services.bank_url, api_key=TRANSACTIONS_KEY, ca_file=pki.ca) as bank:
        answers = await bank.charge_batch(
            [ChargeCall(order_id, token, order.total_minor, order.currency, order_id)]
        )
    assert isinstance(answers[0], BankReply), answers
    assert answers[0].body.get("status") == "succeeded", answers[0]
    lookup = ChargeLookup(services.bank_url, OPERATOR_KEY, ca_file=pki.ca)
    try:
        charges = lookup.charges_for(order_id)
    finally:
        lookup.close()
    assert charges is not None and [c["status"] for c in charges] == ["succeeded"]
    for log in services.logs:  # no card data in either process's output
        text = log.read_text(errors="replace")
        assert CARD not in text and f'"cvc": "{CVC}"' not in text


async def test_clients_trusting_another_ca_are_refused(
    services: Services, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for url in (f"{services.bank_url}/readyz", f"{services.api_url}/healthz"):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, verify=https_verify(pki.other_ca), timeout=5)
        assert not http_ready(url, pki.other_ca)()
        assert http_ready(url, pki.ca)()
    web = create_web_app(_web_settings(services.api_url, pki.other_ca, tmp_path))
    async with web.router.lifespan_context(web):
        with pytest.raises(ApiUnavailable):
            await web.state.web.api.styles()
    tokens = CardTokens(services.bank_url, API_KEY, ca_file=pki.other_ca)
    card = type("Card", (), {"number": CARD, "exp_month": 12, "exp_year": 2099, "cvc": CVC})
    try:
        with pytest.raises(PaymentServiceUnavailable, match="bank unreachable"):
            tokens.tokenize(card(), "00000000-0000-4000-8000-000000000000", 100, "ILS")
    finally:
        tokens.close()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text  # urllib3's one retry says why
    async with BankClient(
        services.bank_url, api_key=TRANSACTIONS_KEY, ca_file=pki.other_ca
    ) as bank:
        found = await bank.charges_for("00000000-0000-4000-8000-000000000000")
    assert found is None


def test_plain_http_to_a_tls_port_gets_no_answer(services: Services) -> None:
    for url in (services.bank_url, services.api_url):
        plain = url.replace("https://", "http://") + "/healthz"
        with pytest.raises(httpx.TransportError):
            httpx.get(plain, timeout=5)
