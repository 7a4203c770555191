"""The real mailbox process: mail sent with smtplib shows up in the JSON API and the pages."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape

from tests.fixtures.components import free_port, wait_for

HOST = "127.0.0.1"


@dataclass
class Mailbox:
    process: subprocess.Popen[bytes]
    smtp_port: int
    http: httpx.Client
    log_path: Path

    def send(self, message: EmailMessage, **kwargs: object) -> None:
        with smtplib.SMTP(HOST, self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _start(tmp_path: Path, **settings: str) -> tuple[subprocess.Popen[bytes], int, int, Path]:
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "HOST": HOST,
        "MAILBOX_SMTP_PORT": str(smtp_port),
        "MAILBOX_HTTP_PORT": str(http_port),
        "DATA_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "INFO",
        **settings,
    }
    log_path = tmp_path / "mailbox.log"
    with log_path.open("wb") as log:
        # cwd=tmp_path so a developer's .env does not change the ports under test.
        process = subprocess.Popen(
            [sys.executable, "-m", "kafka_restaurants.mailbox"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, smtp_port, http_port, log_path


def _ready(http: httpx.Client, process: subprocess.Popen[bytes], log_path: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"mailbox exited early:\n{log_path.read_text(errors='replace')}")
    return http.get("/readyz").status_code == 200


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return process.returncode


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    tmp_path = tmp_path_factory.mktemp("mailbox")
    process, smtp_port, http_port, log_path = _start(tmp_path)
    http = httpx.Client(base_url=f"http://{HOST}:{http_port}", timeout=10)
    try:
        wait_for(lambda: _ready(http, process, log_path), timeout=30, what="mailbox /readyz")
        yield Mailbox(process, smtp_port, http, log_path)
    finally:
        http.close()
        _stop(process)


@pytest.fixture(autouse=True)
def empty_inbox(mailbox: Mailbox) -> None:
    assert mailbox.http.delete("/api/v1/messages").status_code == 200
    assert mailbox.http.get("/api/v1/messages").json()["total"] == 0


def _confirmation(subject: str = "Commande confirmée 🍕 n° 42") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Kafka Restaurants <orders@kafka-restaurants.local>"
    message["To"] = "Zoë Client <zoe@example.com>, Bob <bob@example.com>"
    message["Cc"] = "kitchen@example.com"
    message["Subject"] = subject
    message["Message-ID"] = "<order-42@kafka-restaurants.local>"
    message.set_content("Hello Zoë,\n2 x Margherita\nTotal: 25.00 EUR\n")
    message.add_alternative(
        "<html><body><h1>Merci Zoë</h1><p>2 &times; Margherita</p><p>Total: <b>25.00 EUR</b></p>"
        "<script>alert('x')</script></body></html>",
        subtype="html",
    )
    return message


def _wait_for_total(mailbox: Mailbox, total: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = mailbox.http.get("/api/v1/messages").json()
        return body if body["total"] == total else None

    result = wait_for(check, timeout=10, what=f"{total} message(s) in the mailbox")
    assert isinstance(result, dict)
    return result


def test_multipart_unicode_mail_to_several_recipients_is_in_the_api(mailbox: Mailbox) -> None:
    mailbox.send(_confirmation(), to_addrs=["zoe@example.com", "bob@example.com", "audit@x.org"])
    body = _wait_for_total(mailbox, 1)
    assert body["unread"] == 1
    [summary] = body["messages"]
    assert summary["From"] == {
        "Name": "Kafka Restaurants",
        "Address": "orders@kafka-restaurants.local",
    }
    assert summary["To"] == [
        {"Name": "Zoë Client", "Address": "zoe@example.com"},
        {"Name": "Bob", "Address": "bob@example.com"},
    ]
    assert summary["Cc"] == [{"Name": "", "Address": "kitchen@example.com"}]
    assert summary["Bcc"] == [{"Name": "", "Address": "audit@x.org"}]
    assert summary["Subject"] == "Commande confirmée 🍕 n° 42"
    assert summary["MessageID"] == "order-42@kafka-restaurants.local"
    assert summary["Snippet"].startswith("Hello Zoë, 2 x Margherita")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", summary["Created"])

    detail = mailbox.http.get(f"/api/v1/message/{summary['ID']}").json()
    assert detail["Text"].strip() == "Hello Zoë,\n2 x Margherita\nTotal: 25.00 EUR"
    assert "<b>25.00 EUR</b>" in detail["HTML"]
    assert mailbox.http.get("/api/v1/messages").json()["unread"] == 0
    raw = mailbox.http.get(f"/api/v1/message/{summary['ID']}/raw")
    assert b"Message-ID: <order-42@kafka-restaurants.local>" in raw.content


def test_search_finds_by_recipient_subject_and_text(mailbox: Mailbox) -> None:
    mailbox.send(_confirmation("Order 1 for Zoë"))
    other = _confirmation("Order 2 for Carol")
    other.replace_header("To", "carol@example.com")
    mailbox.send(other)
    _wait_for_total(mailbox, 2)

    def subjects(query: str) -> list[str]:
        response = mailbox.http.get("/api/v1/search", params={"query": query})
        assert response.status_code == 200, response.text
        return [m["Subject"] for m in response.json()["messages"]]

    assert subjects("to:carol@example.com") == ["Order 2 for Carol"]
    assert subjects("to:zoe@example.com") == ["Order 1 for Zoë"]
    assert subjects("subject:order") == ["Order 2 for Carol", "Order 1 for Zoë"]
    assert subjects("margherita -to:carol") == ["Order 1 for Zoë"]
    assert subjects('"no such words"') == []


def test_delete_all_empties_the_inbox(mailbox: Mailbox) -> None:
    mailbox.send(_confirmation())
    mailbox.send(_confirmation())
    _wait_for_total(mailbox, 2)
    response = mailbox.http.delete("/api/v1/messages")
    assert response.status_code == 200
    assert mailbox.http.get("/api/v1/messages").json() | {"messages": None} == {
        "total": 0,
        "unread": 0,
        "count": 0,
        "messages_count": 0,
        "messages_unread": 0,
        "start": 0,
        "tags": [],
        "messages": None,
    }


def test_inbox_page_escapes_a_script_subject(mailbox: Mailbox) -> None:
    evil = "<script>alert('pwned')</script> order"
    mailbox.send(_confirmation(evil))
    _wait_for_total(mailbox, 1)
    page = mailbox.http.get("/")
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert str(escape(evil)) in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_view_page_shows_html_in_a_sandboxed_iframe(mailbox: Mailbox) -> None:
    mailbox.send(_confirmation())
    [summary] = _wait_for_total(mailbox, 1)["messages"]
    page = mailbox.http.get(f"/view/{summary['ID']}")
    assert page.status_code == 200
    assert "<title>Commande confirmée 🍕 n° 42 · Mailbox</title>" in page.text
    assert "<script>" not in page.text
    iframe = re.search(r"<iframe\b[^>]*>", page.text)
    assert iframe is not None
    sandbox = re.search(r'sandbox="([^"]*)"', iframe.group(0))
    assert sandbox is not None
    assert "allow-scripts" not in sandbox.group(1)
    assert "allow-same-origin" not in sandbox.group(1)
    assert "&lt;b&gt;25.00 EUR&lt;/b&gt;" in iframe.group(0)
    assert "Hello Zoë," in page.text  # the text part
    assert "content-security-policy" in page.headers


def test_smtp_survives_garbage_and_abrupt_connections(mailbox: Mailbox) -> None:
    # Garbage commands, then hang up without QUIT.
    with socket.create_connection((HOST, mailbox.smtp_port), timeout=5) as sock:
        assert sock.recv(1024).startswith(b"220")
        sock.sendall(
            b"\x00\xff\xfe garbage \r\nHELO\r\nMAIL FROM:<<<>>>\r\n" + b"A" * 5000 + b"\r\n"
        )
        sock.recv(4096)
    # Hang up in the middle of DATA.
    with socket.create_connection((HOST, mailbox.smtp_port), timeout=5) as sock:
        sock.recv(1024)
        for line in (b"EHLO test", b"MAIL FROM:<a@example.com>", b"RCPT TO:<b@example.com>"):
            sock.sendall(line + b"\r\n")
            sock.recv(1024)
        sock.sendall(b"DATA\r\nSubject: half\r\n\r\nhalf a message")
    # Connect and close at once.
    socket.create_connection((HOST, mailbox.smtp_port), timeout=5).close()

    mailbox.send(_confirmation("still alive"))
    body = _wait_for_total(mailbox, 1)
    assert [m["Subject"] for m in body["messages"]] == ["still alive"]
    assert mailbox.process.poll() is None
    assert mailbox.http.get("/readyz").status_code == 200


def test_smtp_auth_is_accepted_like_mailpit_accept_any(mailbox: Mailbox) -> None:
    with smtplib.SMTP(HOST, mailbox.smtp_port, timeout=10) as smtp:
        smtp.login("mailer", "secret")
        smtp.send_message(_confirmation("authenticated"))
    [summary] = _wait_for_total(mailbox, 1)["messages"]
    assert summary["Username"] == "mailer"


def test_sigterm_stops_both_servers_even_with_an_idle_smtp_client(tmp_path: Path) -> None:
    process, smtp_port, http_port, log_path = _start(tmp_path)
    with httpx.Client(base_url=f"http://{HOST}:{http_port}", timeout=5) as http:
        wait_for(lambda: _ready(http, process, log_path), timeout=30, what="second mailbox")
    with socket.create_connection((HOST, smtp_port), timeout=5) as idle:
        assert idle.recv(1024).startswith(b"220")
        started = time.monotonic()
        returncode = _stop(process)
        assert time.monotonic() - started < 5, "an idle SMTP client must not hold up shutdown"
        assert idle.recv(1024) == b""  # the server hung up
    assert returncode in (0, -signal.SIGTERM), log_path.read_text()
    log = log_path.read_text()
    assert "mailbox SMTP server stopped" in log
    assert "Traceback" not in log
    for port in (smtp_port, http_port):
        with pytest.raises(OSError):
            socket.create_connection((HOST, port), timeout=2).close()


def test_max_bytes_setting_bounds_the_inbox_keeping_the_newest(tmp_path: Path) -> None:
    # Each stored confirmation holds a few kB (raw bytes and what is kept beside them).
    process, smtp_port, http_port, log_path = _start(tmp_path, MAILBOX_MAX_BYTES="20000")
    try:
        with httpx.Client(base_url=f"http://{HOST}:{http_port}", timeout=10) as http:
            wait_for(lambda: _ready(http, process, log_path), timeout=30, what="bounded mailbox")
            with smtplib.SMTP(HOST, smtp_port, timeout=10) as smtp:
                for n in range(12):
                    smtp.send_message(_confirmation(f"order {n}"))
            body = http.get("/api/v1/messages", params={"limit": 100}).json()
            subjects = [m["Subject"] for m in body["messages"]]
            assert 1 <= body["total"] < 12
            assert subjects == [f"order {n}" for n in range(11, 11 - body["total"], -1)]
            found = http.get("/api/v1/search", params={"query": "to:zoe@example.com"}).json()
            assert found["messages_count"] == body["total"]
    finally:
        _stop(process)


def test_port_in_use_fails_with_a_clear_exit(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        busy = taken.getsockname()[1]
        env = {
            **os.environ,
            "HOST": HOST,
            "MAILBOX_SMTP_PORT": str(busy),
            "MAILBOX_HTTP_PORT": str(free_port()),
        }
        result = subprocess.run(
            [sys.executable, "-m", "kafka_restaurants.mailbox"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert b"address already in use" in result.stderr
