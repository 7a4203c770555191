"""The mailer as a process (`python -m kafka_restaurants.mailer`) delivering to the dev mailbox.

Both run exactly as `restaurants up` runs them, each on free ports, talking real SMTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from kafka_restaurants.events import ORDER_CONFIRM
from tests.fixtures.components import free_port, wait_for
from tests.fixtures.kafka_io import produce
from tests.unit.mailer.samples import confirmed

HOST = "127.0.0.1"


@contextmanager
def running(module: str, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m module` with `env`; SIGTERM it at the end and expect a clean exit."""
    with log_path.open("wb") as log:
        # cwd = the log's directory, so a developer's .env does not change what is under test.
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=log_path.parent,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(f"{module} ignored SIGTERM") from None
    # uvicorn re-raises SIGTERM after a clean shutdown, so -SIGTERM is clean too.
    assert process.returncode in (0, -signal.SIGTERM), (
        f"{module} exited {process.returncode}:\n{log_tail(log_path)}"
    )


def log_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-30:])


def ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"process exited early:\n{log_tail(log_path)}")
    return httpx.get(url, timeout=2).status_code == 200


def test_mailer_process_delivers_to_the_dev_mailbox(kafka_bootstrap: str, tmp_path: Path) -> None:
    smtp_port, http_port, health_port = free_port(), free_port(), free_port()
    order_id = f"proc-{os.getpid()}-{smtp_port}"
    common = {
        "HOST": HOST,
        "BOOTSTRAP_SVR": kafka_bootstrap,
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": "",
        "MAILER_DATABASE_URL": f"sqlite:///{tmp_path / 'mailer.sqlite'}",
        "MAILBOX_SMTP_PORT": str(smtp_port),
        "MAILBOX_HTTP_PORT": str(http_port),
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(smtp_port),
        "MAILER_HEALTH_PORT": str(health_port),
        "PUBLIC_URL": "http://shop.test",
        "LOG_LEVEL": "INFO",
    }
    mailbox_log, mailer_log = tmp_path / "mailbox.log", tmp_path / "mailer.log"
    mailbox_api = f"http://{HOST}:{http_port}/api/v1"
    with (
        running("kafka_restaurants.mailbox", common, mailbox_log) as mailbox,
        running("kafka_restaurants.mailer", common, mailer_log) as mailer,
    ):
        wait_for(
            lambda: ready(f"http://{HOST}:{http_port}/readyz", mailbox, mailbox_log),
            what="mailbox ready",
        )
        wait_for(
            lambda: ready(f"http://{HOST}:{health_port}/readyz", mailer, mailer_log),
            what="mailer ready",
        )
        event = confirmed(order_id, email="ruth@example.com", name="Ruth Cohen")
        produce(
            kafka_bootstrap,
            ORDER_CONFIRM,
            [(order_id.encode(), event.model_dump_json().encode(), None)],
        )

        def ours() -> list[dict[str, object]]:
            listing = httpx.get(f"{mailbox_api}/messages", timeout=5).json()
            return [
                m
                for m in listing["messages"]
                if m["To"] and m["To"][0]["Address"] == "ruth@example.com"
            ]

        [summary] = wait_for(ours, what="the confirmation in the mailbox")  # type: ignore[misc]
        assert summary["Subject"].startswith("Your order from Falafel Haifa is confirmed")
        assert summary["To"][0]["Name"] == "Ruth Cohen"
        full = httpx.get(f"{mailbox_api}/message/{summary['ID']}", timeout=5).json()
        assert "₪54.50" in full["Text"] and "₪54.50" in full["HTML"]
        assert f"http://shop.test/orders/{order_id}" in full["HTML"]
        metrics = httpx.get(f"http://{HOST}:{health_port}/metrics", timeout=5).text
        assert 'mailer_confirmations_total{result="sent"}' in metrics
