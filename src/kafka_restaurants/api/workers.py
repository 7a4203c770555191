"""Keeping the api's background workers (outbox relay, order-status consumer) alive and honest.

A worker that ends while the api is not stopping is started again after a growing pause: a
fresh consumer or a new relay round usually gets past what killed it (a database blip, a client
error) without dropping the HTTP requests in flight. A worker that dies again after `limit`
restarts within `window` seconds will not be cured by another try in this process, so the
supervisor gives up: by default the process exits, and whatever runs it (`restaurants up`,
uvicorn's process manager with API_PROCESSES > 1, Kubernetes) starts a fresh one. Exiting works
under every one of them; a failing /healthz only helps where a liveness probe is watching, and
with several processes behind one port it reaches only some of the probes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from prometheus_client import Counter, Gauge

from kafka_restaurants.messaging.backoff import backoff_seconds
from kafka_restaurants.messaging.consumer import exit_process
from kafka_restaurants.restarts import RestartBudget

log = logging.getLogger(__name__)

WORKER_UP = Gauge(
    "api_worker_up", "1 while an api background worker runs, 0 while it is down", ["worker"]
)
WORKER_RESTARTS = Counter(
    "api_worker_restarts_total", "Times an api background worker was started again", ["worker"]
)


class Worker(Protocol):
    """Something that runs until stopped: run() blocks, stop() (from another thread) ends it."""

    def run(self) -> None: ...

    def stop(self) -> None: ...


class WorkerState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # died; starts again after a pause
    FAILED = "failed"  # died too often; not coming back in this process
    STOPPED = "stopped"  # the api is shutting down


def restart_pause(recent_restarts: int) -> float:
    """Seconds before the next restart: about 1 s, doubling with each recent restart, at most 30."""
    return backoff_seconds(recent_restarts, base=1.0, cap=30.0)


@dataclass(frozen=True)
class RestartPolicy:
    """How often a dead worker is restarted, and what happens when that is not enough."""

    limit: int = 5
    window: float = 60.0
    pause: Callable[[int], float] = restart_pause
    clock: Callable[[], float] = time.monotonic
    on_give_up: Callable[[str], None] = exit_process


class SupervisedWorker:
    """Runs the worker `make` builds on its own thread, building a new one each time it dies."""

    def __init__(
        self, name: str, make: Callable[[], Worker], policy: RestartPolicy | None = None
    ) -> None:
        self.name = name
        self.state = WorkerState.STARTING
        self.last_error = ""
        self.restarts = 0
        self._make = make
        self._policy = policy or RestartPolicy()
        self._budget = RestartBudget(self._policy.limit, self._policy.window, self._policy.clock)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._current: Worker | None = None
        self._thread: threading.Thread | None = None

    @property
    def failed(self) -> bool:
        """Dead and not coming back."""
        return self.state is WorkerState.FAILED

    def start(self) -> None:
        WORKER_UP.labels(self.name).set(0)
        WORKER_RESTARTS.labels(self.name)  # exported at 0 before the first restart
        self._thread = threading.Thread(
            target=self._supervise, name=self.name.replace("_", "-"), daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the worker and wait for it; it is not restarted."""
        with self._lock:
            self._stopping.set()
            current = self._current
        if current is not None:
            current.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def _supervise(self) -> None:
        try:
            self._keep_running()
        except BaseException as exc:  # SystemExit and kin: not an error to retry, an end
            if not self._stopping.is_set():
                self._give_up(type(exc).__name__)
        if not self.failed:
            self._set_state(WorkerState.STOPPED)

    def _keep_running(self) -> None:
        while True:
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    worker = self._current = self._make()
                self._set_state(WorkerState.RUNNING)
                worker.run()
                error = "returned"
            except Exception as exc:
                # The traceback goes to the log; probes and metrics name the error's type only.
                log.error("api worker %s raised", self.name, exc_info=exc)
                error = type(exc).__name__
            if self._stopping.is_set():
                return
            self.last_error = error
            recent = self._budget.recent()
            if not self._budget.spend():
                self._give_up(error)
                return
            self._set_state(WorkerState.RESTARTING)
            pause = self._policy.pause(recent)
            log.error(
                "api worker %s died (%s); restarting in %.1fs (%d of %d allowed within %.0fs)",
                self.name,
                error,
                pause,
                recent + 1,
                self._policy.limit,
                self._policy.window,
            )
            if self._stopping.wait(pause):
                return
            self.restarts += 1
            WORKER_RESTARTS.labels(self.name).inc()

    def _give_up(self, error: str) -> None:
        self.last_error = error
        self._set_state(WorkerState.FAILED)
        self._policy.on_give_up(
            f"api worker {self.name} died ({error}) with its restart budget spent "
            f"({self._policy.limit} within {self._policy.window:.0f}s)"
        )

    def _set_state(self, state: WorkerState) -> None:
        self.state = state
        WORKER_UP.labels(self.name).set(1 if state is WorkerState.RUNNING else 0)


def worker_health(workers: list[SupervisedWorker]) -> tuple[bool, dict[str, object]]:
    """(alive, body) for /healthz: alive unless a worker died and is not coming back."""
    if not workers:
        return True, {"status": "ok"}
    failed = [worker for worker in workers if worker.failed]
    body: dict[str, object] = {
        "status": "failed" if failed else "ok",
        "workers": {worker.name: worker.state.value for worker in workers},
    }
    if failed:
        body["detail"] = "; ".join(
            f"{worker.name} died ({worker.last_error}) and is not coming back" for worker in failed
        )
    return not failed, body
