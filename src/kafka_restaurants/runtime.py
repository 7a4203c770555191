"""What every consumer process needs around its loop: signals, health and metrics over HTTP."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Protocol

import uvicorn
from fastapi import FastAPI, Request

from kafka_restaurants.observability import logs
from kafka_restaurants.service_app import Probe, service_app

log = logging.getLogger(__name__)


def configure_logging(level: str = "INFO", log_format: str = "auto", service: str = "") -> None:
    """One line per event on stderr: JSON unless stderr is a terminal (LOG_FORMAT decides)."""
    logs.configure_logging(level, log_format, service or None)


def health_app(name: str, is_ready: Callable[[], bool]) -> FastAPI:
    """/healthz, /readyz and /metrics for a process whose real work is not HTTP."""

    def ready(_request: Request) -> Probe:
        return (True, {"status": "ready"}) if is_ready() else (False, {"status": "not ready"})

    return service_app(name, title=f"{name} health", ready_check=ready, documented=False)


class HealthServer:
    """The health app served by uvicorn on a background thread."""

    def __init__(self, name: str, host: str, port: int, is_ready: Callable[[], bool]) -> None:
        config = uvicorn.Config(
            health_app(name, is_ready), host=host, port=port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"{name}-health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class Stoppable(Protocol):
    """Anything with a stop() that makes its run() return."""

    def stop(self) -> None: ...


def stop_on_signals(target: Stoppable) -> None:
    """SIGTERM and SIGINT ask `target` to finish what it is doing and stop."""

    def handle(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        target.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
