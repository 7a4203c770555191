"""SmtpSender against real aiosmtpd servers: reuse, reconnects, STARTTLS, login, refusals."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from kafka_restaurants.mailer.smtp import (
    OutgoingMail,
    SendFailed,
    SendResult,
    Sent,
    SmtpConfig,
    SmtpSender,
)
from tests.fixtures.components import free_port, require

HOST = "127.0.0.1"


class CountingHandler:
    """Accepts everything and remembers which client connection (peer) sent each message."""

    def __init__(self) -> None:
        self.peers: list[Any] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.peers.append(session.peer)
        if isinstance(session.auth_data, LoginPassword):
            self.logins.append(session.auth_data.login.decode())
        return "250 OK"


def outgoing(index: int) -> OutgoingMail:
    message = EmailMessage()
    message["Subject"] = f"test {index}"
    message.set_content("hello")
    return OutgoingMail(message, "shop@example.com", f"customer{index}@example.com")


@pytest.fixture
def started() -> Iterator[list[Controller]]:
    controllers: list[Controller] = []
    yield controllers
    for controller in controllers:
        controller.stop()


def start(controllers: list[Controller], handler: CountingHandler, **smtp: Any) -> int:
    port = free_port()
    controller = Controller(
        handler, hostname=HOST, port=port, server_hostname="test-smtp.local", **smtp
    )
    controller.start()
    controllers.append(controller)
    return port


def test_one_batch_uses_at_most_the_configured_connections(started: list[Controller]) -> None:
    handler = CountingHandler()
    port = start(started, handler)
    sender = SmtpSender(SmtpConfig(HOST, port, connections=3))
    try:
        for batch in range(3):
            results = sender.send_all([outgoing(batch * 20 + i) for i in range(20)])
            assert results == [Sent()] * 20
    finally:
        sender.close()
    assert len(handler.peers) == 60
    assert len(set(handler.peers)) <= 3, "connections are reused across messages and batches"


def test_a_connection_the_server_closed_while_idle_is_replaced(started: list[Controller]) -> None:
    handler = CountingHandler()
    port = start(started, handler, timeout=0.5)  # the server hangs up on idle clients
    sender = SmtpSender(SmtpConfig(HOST, port, connections=1))
    try:
        assert sender.send_all([outgoing(1)]) == [Sent()]
        time.sleep(1.0)  # let the server's idle timeout pass: there is nothing to poll
        assert sender.send_all([outgoing(2)]) == [Sent()]
    finally:
        sender.close()
    assert len(handler.peers) == 2 and handler.peers[0] != handler.peers[1]


def test_each_result_is_handed_over_before_the_next_message_goes(
    started: list[Controller],
) -> None:
    handler = CountingHandler()
    port = start(started, handler)
    sender = SmtpSender(SmtpConfig(HOST, port, connections=1))
    seen: list[tuple[int, SendResult, int, str]] = []

    def on_result(position: int, result: SendResult) -> str | None:
        seen.append((position, result, len(handler.peers), threading.current_thread().name))
        return None

    try:
        results = sender.send_all([outgoing(i) for i in range(3)], on_result)
    finally:
        sender.close()
    assert results == [Sent()] * 3
    # Told in the worker thread, while the server had taken that message and no later one.
    assert [(position, result, accepted) for position, result, accepted, _ in seen] == [
        (0, Sent(), 1),
        (1, Sent(), 2),
        (2, Sent(), 3),
    ]
    assert all(thread.startswith("smtp") for *_, thread in seen)


def test_a_reason_from_on_result_holds_back_the_rest_of_the_batch(
    started: list[Controller],
) -> None:
    handler = CountingHandler()
    port = start(started, handler)
    sender = SmtpSender(SmtpConfig(HOST, port, connections=1))
    told: list[int] = []

    def on_result(position: int, result: SendResult) -> str | None:
        told.append(position)
        return "could not record" if position == 1 else None

    try:
        results = sender.send_all([outgoing(i) for i in range(4)], on_result)
    finally:
        sender.close()
    assert results[:2] == [Sent(), Sent()]
    assert results[2:] == [SendFailed("could not record")] * 2  # transient: kept for a retry
    assert told == [0, 1, 2, 3]
    assert len(handler.peers) == 2


class SlowToAnswerHandler(CountingHandler):
    """Stores each message, then takes `delay` seconds to say so (a loaded or paused server)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.peers.append(session.peer)
        await asyncio.sleep(self.delay)
        return "250 OK"


def test_a_message_whose_answer_is_slow_is_waited_for_not_sent_twice(
    started: list[Controller],
) -> None:
    # The server has stored the message when it answers late: giving up then (the old single
    # timeout) made the message look unsent, and its retry was a second email.
    handler = SlowToAnswerHandler(delay=2.5)
    port = start(started, handler)
    sender = SmtpSender(SmtpConfig(HOST, port, connections=1, timeout=1, send_timeout=10))
    try:
        assert sender.send_all([outgoing(0)]) == [Sent()]
    finally:
        sender.close()
    assert len(handler.peers) == 1


def test_unreachable_server_fails_the_batch_fast_and_transiently() -> None:
    sender = SmtpSender(SmtpConfig(HOST, free_port(), connections=2, timeout=2))
    try:
        started = time.monotonic()
        results = sender.send_all([outgoing(i) for i in range(50)])
        assert time.monotonic() - started < 5
    finally:
        sender.close()
    assert all(isinstance(r, SendFailed) and not r.permanent for r in results)
    assert isinstance(results[0], SendFailed) and "SMTP unreachable" in results[0].reason


class RefusingHandler(CountingHandler):
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("customer1@"):
            return "550 5.1.1 no such user"
        if address.startswith("customer2@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_refusals_are_per_message_and_keep_the_connection(started: list[Controller]) -> None:
    handler = RefusingHandler()
    port = start(started, handler)
    sender = SmtpSender(SmtpConfig(HOST, port, connections=1))
    try:
        results = sender.send_all([outgoing(i) for i in range(4)])
    finally:
        sender.close()
    assert results[0] == Sent() and results[3] == Sent()
    assert isinstance(results[1], SendFailed) and results[1].permanent
    assert "550 5.1.1 no such user" in results[1].reason
    assert isinstance(results[2], SendFailed) and not results[2].permanent
    assert len(set(handler.peers)) == 1


def accept_shop_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
    return AuthResult(success=ok, auth_data=auth_data)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    require(shutil.which("openssl") is not None, "the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_starttls_and_login_when_configured(
    started: list[Controller], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    handler = CountingHandler()
    port = start(
        started,
        handler,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=accept_shop_login,
    )
    # The client verifies the server certificate against the default trust store.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))

    good = SmtpSender(SmtpConfig(HOST, port, use_tls=True, user="shop", password="s3cret"))
    wrong = SmtpSender(
        SmtpConfig(HOST, port, use_tls=True, user="shop", password="nope", timeout=2)
    )
    plain = SmtpSender(SmtpConfig(HOST, port, use_tls=False, user="shop", password="s3cret"))
    try:
        assert good.send_all([outgoing(1)]) == [Sent()]
        [refused] = wrong.send_all([outgoing(2)])
        [no_tls] = plain.send_all([outgoing(3)])
    finally:
        for sender in (good, wrong, plain):
            sender.close()
    assert handler.logins == ["shop"]  # only the right credentials delivered anything
    # Wrong credentials are a configuration problem: kept for a retry, never dropped.
    assert isinstance(refused, SendFailed) and not refused.permanent
    assert isinstance(no_tls, SendFailed) and not no_tls.permanent
