"""Supervising the api's background workers: restart with a pause, give up when they keep dying."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY

from kafka_restaurants.api.workers import (
    RestartPolicy,
    SupervisedWorker,
    Worker,
    WorkerState,
    worker_health,
)
from tests.fixtures.components import wait_for


class ScriptedWorker:
    """Raises `error`, or returns at once when `returns`, or else runs until stopped."""

    def __init__(self, error: BaseException | None = None, returns: bool = False) -> None:
        self.error = error
        self.returns = returns
        self.stopped = threading.Event()

    def run(self) -> None:
        if self.error is not None:
            raise self.error
        if not self.returns:
            self.stopped.wait(30)

    def stop(self) -> None:
        self.stopped.set()


class Script:
    """Hands out the scripted workers in order, remembering how many were built."""

    def __init__(self, *workers: ScriptedWorker, before_each: Callable[[], None] = lambda: None):
        self._workers: Iterator[ScriptedWorker] = iter(workers)
        self._before_each = before_each
        self.built: list[ScriptedWorker] = []

    def __call__(self) -> Worker:
        self._before_each()
        worker = next(self._workers)
        self.built.append(worker)
        return worker


def up(name: str) -> float | None:
    return REGISTRY.get_sample_value("api_worker_up", {"worker": name})


def restarts(name: str) -> float | None:
    return REGISTRY.get_sample_value("api_worker_restarts_total", {"worker": name})


def no_pause(_recent: int) -> float:
    return 0.0


def test_a_dead_worker_is_down_during_its_pause_then_running_again() -> None:
    pauses: list[int] = []
    resume = threading.Event()

    def pause(recent: int) -> float:
        pauses.append(recent)
        resume.wait(30)
        return 0.0

    script = Script(ScriptedWorker(RuntimeError("boom")), ScriptedWorker())
    worker = SupervisedWorker("unit_restarted", script, RestartPolicy(pause=pause))
    worker.start()
    try:
        wait_for(lambda: worker.state is WorkerState.RESTARTING, what="the worker to die")
        assert up("unit_restarted") == 0
        assert restarts("unit_restarted") == 0
        assert worker.last_error == "RuntimeError"
        # Coming back: alive, and the body says which worker is down.
        assert worker_health([worker]) == (
            True,
            {"status": "ok", "workers": {"unit_restarted": "restarting"}},
        )
        resume.set()
        wait_for(lambda: worker.state is WorkerState.RUNNING, what="the worker to run again")
        assert up("unit_restarted") == 1
        assert restarts("unit_restarted") == 1
        assert (worker.restarts, pauses, len(script.built)) == (1, [0], 2)
    finally:
        resume.set()
        worker.stop()
    assert worker.state is WorkerState.STOPPED
    assert script.built[1].stopped.is_set()


def test_a_worker_that_keeps_dying_is_given_up_and_fails_liveness() -> None:
    given_up: list[str] = []
    script = Script(*(ScriptedWorker(RuntimeError("boom")) for _ in range(3)))
    policy = RestartPolicy(limit=2, window=60.0, pause=no_pause, on_give_up=given_up.append)
    worker = SupervisedWorker("unit_dying", script, policy)
    worker.start()
    try:
        wait_for(lambda: given_up, what="the supervisor to give up")
    finally:
        worker.stop()
    assert worker.state is WorkerState.FAILED
    assert (worker.restarts, len(script.built)) == (2, 3)
    assert given_up == [
        "api worker unit_dying died (RuntimeError) with its restart budget spent (2 within 60s)"
    ]
    assert up("unit_dying") == 0
    assert restarts("unit_dying") == 2
    assert worker_health([worker]) == (
        False,
        {
            "status": "failed",
            "workers": {"unit_dying": "failed"},
            "detail": "unit_dying died (RuntimeError) and is not coming back",
        },
    )


def test_deaths_further_apart_than_the_window_are_always_restarted() -> None:
    now = [0.0]

    def a_minute_passes() -> None:
        now[0] += 61.0

    given_up: list[str] = []
    pauses: list[int] = []

    def pause(recent: int) -> float:
        pauses.append(recent)
        return 0.0

    dying = [ScriptedWorker(RuntimeError("now and then")) for _ in range(5)]
    script = Script(*dying, ScriptedWorker(), before_each=a_minute_passes)
    policy = RestartPolicy(
        limit=1, window=60.0, pause=pause, clock=lambda: now[0], on_give_up=given_up.append
    )
    worker = SupervisedWorker("unit_sparse", script, policy)
    worker.start()
    try:
        wait_for(lambda: len(script.built) == 6 and worker.state is WorkerState.RUNNING)
    finally:
        worker.stop()
    assert (given_up, worker.restarts, pauses) == ([], 5, [0, 0, 0, 0, 0])


def test_the_pause_grows_with_the_restarts_within_the_window() -> None:
    pauses: list[int] = []

    def pause(recent: int) -> float:
        pauses.append(recent)
        return 0.0

    script = Script(*(ScriptedWorker(RuntimeError("boom")) for _ in range(3)), ScriptedWorker())
    worker = SupervisedWorker("unit_growing", script, RestartPolicy(pause=pause))
    worker.start()
    try:
        wait_for(lambda: worker.state is WorkerState.RUNNING and len(script.built) == 4)
    finally:
        worker.stop()
    assert pauses == [0, 1, 2]


def test_a_worker_that_returns_unasked_counts_as_dead() -> None:
    script = Script(ScriptedWorker(returns=True), ScriptedWorker())
    worker = SupervisedWorker("unit_returned", script, RestartPolicy(pause=no_pause))
    worker.start()
    try:
        wait_for(lambda: worker.restarts == 1 and worker.state is WorkerState.RUNNING)
    finally:
        worker.stop()
    assert worker.last_error == "returned"


def test_stopping_neither_restarts_nor_gives_up() -> None:
    given_up: list[str] = []
    script = Script(ScriptedWorker())
    worker = SupervisedWorker("unit_stopped", script, RestartPolicy(on_give_up=given_up.append))
    worker.start()
    wait_for(lambda: worker.state is WorkerState.RUNNING)
    worker.stop()
    assert (worker.state, worker.restarts, given_up) == (WorkerState.STOPPED, 0, [])
    assert script.built[0].stopped.is_set()
    assert up("unit_stopped") == 0
    assert worker_health([worker])[0]


def test_stopping_during_the_pause_does_not_restart() -> None:
    script = Script(ScriptedWorker(RuntimeError("boom")))
    worker = SupervisedWorker("unit_paused", script, RestartPolicy(pause=lambda _recent: 600.0))
    worker.start()
    wait_for(lambda: worker.state is WorkerState.RESTARTING)
    worker.stop(timeout=10)
    assert (worker.state, worker.restarts, len(script.built)) == (WorkerState.STOPPED, 0, 1)


def test_system_exit_in_a_worker_is_given_up_at_once() -> None:
    given_up: list[str] = []
    script = Script(ScriptedWorker(SystemExit(3)))
    worker = SupervisedWorker(
        "unit_exited", script, RestartPolicy(pause=no_pause, on_give_up=given_up.append)
    )
    worker.start()
    wait_for(lambda: given_up, what="the supervisor to give up")
    worker.stop()
    assert worker.state is WorkerState.FAILED
    assert worker.last_error == "SystemExit"


def test_without_workers_liveness_is_simply_ok() -> None:
    assert worker_health([]) == (True, {"status": "ok"})
