"""The api's outbox relay and order-status consumer: a dead one is restarted and reported on
/healthz and /metrics; one that keeps dying fails liveness and ends the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from kafka_restaurants.api import app as api_app
from kafka_restaurants.api.outbox import OutboxRelay
from kafka_restaurants.api.workers import RestartPolicy
from kafka_restaurants.messaging.consumer import STALLED_EXIT_CODE
from kafka_restaurants.settings import Settings
from tests.fixtures.components import free_port, wait_for
from tests.integration.api.conftest import seed_small_catalog


def settings_with_workers(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path}/api.sqlite"
    seed_small_catalog(url)
    # Port 1 is closed: the real relay and consumer run and find no Kafka, which is no death.
    return Settings.model_validate(
        {"DATABASE_URL": url, "BOOTSTRAP_SVR": "127.0.0.1:1", "API_WORKERS": "true"}
    )


def create_app_for_test(tmp_path: Path, policy: RestartPolicy | None = None) -> FastAPI:
    settings = settings_with_workers(tmp_path)
    return api_app.create_app(settings) if policy is None else api_app.create_app(settings, policy)


def metric(api: TestClient, name: str, worker: str) -> float | None:
    """A sample of the api's /metrics, as a scraper reads it."""
    for family in text_string_to_metric_families(api.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and sample.labels == {"worker": worker}:
                return float(sample.value)
    return None


class StatusConsumerDiesOnce:
    """Stands in for the order-status ConsumerProcess: the first one built dies at once."""

    built = 0

    def __init__(self, *_args: Any) -> None:
        type(self).built += 1
        self.first = type(self).built == 1
        self.stopped = threading.Event()

    def run(self) -> None:
        if self.first:
            raise RuntimeError("lost the consumer")
        self.stopped.wait(60)

    def stop(self) -> None:
        self.stopped.set()


@pytest.mark.parametrize("dead", ["outbox_relay", "order_status"])
def test_a_dead_worker_is_restarted_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dead: str
) -> None:
    if dead == "order_status":
        monkeypatch.setattr(StatusConsumerDiesOnce, "built", 0)
        monkeypatch.setattr(api_app, "ConsumerProcess", StatusConsumerDiesOnce)
    else:
        relay_run = OutboxRelay.run
        runs: list[int] = []

        def dies_once(relay: OutboxRelay) -> None:
            runs.append(1)
            if len(runs) == 1:
                raise RuntimeError("lost the relay")
            relay_run(relay)

        monkeypatch.setattr(OutboxRelay, "run", dies_once)

    before = REGISTRY.get_sample_value("api_worker_restarts_total", {"worker": dead}) or 0.0
    with TestClient(create_app_for_test(tmp_path)) as api:
        # The default policy: the first restart comes about a second after the death.
        wait_for(
            lambda: metric(api, "api_worker_restarts_total", dead) == before + 1,
            timeout=15,
            what=f"{dead} restarted",
        )
        wait_for(lambda: metric(api, "api_worker_up", dead) == 1, what=f"{dead} up again")
        health = api.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "workers": {
                "outbox_relay": "running",
                "order_status": "running",
                "reconciler": "running",
            },
        }
        assert api.get("/readyz").status_code == 200


class StatusConsumerAlwaysDies:
    def __init__(self, *_args: Any) -> None:
        pass

    def run(self) -> None:
        raise RuntimeError("lost the consumer")

    def stop(self) -> None:
        pass


def test_a_worker_that_keeps_dying_fails_liveness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_app, "ConsumerProcess", StatusConsumerAlwaysDies)
    given_up: list[str] = []
    policy = RestartPolicy(limit=2, pause=lambda _recent: 0.0, on_give_up=given_up.append)
    with TestClient(create_app_for_test(tmp_path, policy)) as api:
        wait_for(lambda: api.get("/healthz").status_code == 503, what="/healthz to fail")
        wait_for(
            lambda: api.get("/healthz").json()["workers"]["reconciler"] == "running",
            what="the other workers running",
        )
        body = api.get("/healthz").json()
        assert body == {
            "status": "failed",
            "workers": {
                "outbox_relay": "running",
                "order_status": "failed",
                "reconciler": "running",
            },
            "detail": "order_status died (RuntimeError) and is not coming back",
        }
        assert metric(api, "api_worker_up", "order_status") == 0
        assert metric(api, "api_worker_up", "outbox_relay") == 1
        assert given_up == [
            "api worker order_status died (RuntimeError) with its restart budget spent "
            "(2 within 60s)"
        ]


def test_a_worker_that_keeps_dying_ends_the_process(tmp_path: Path) -> None:
    settings_with_workers(tmp_path)  # seeds the database the process serves
    port = free_port()
    script = textwrap.dedent(
        f"""
        import uvicorn
        from kafka_restaurants.api import app as api_app
        from kafka_restaurants.api.workers import RestartPolicy
        from kafka_restaurants.settings import Settings

        class AlwaysDies:
            def __init__(self, *args):
                pass

            def run(self):
                raise RuntimeError("lost the consumer")

            def stop(self):
                pass

        api_app.ConsumerProcess = AlwaysDies
        settings = Settings.model_validate(
            {{"DATABASE_URL": "sqlite:///{tmp_path}/api.sqlite", "BOOTSTRAP_SVR": "127.0.0.1:1"}}
        )
        # The default policy but for the pause: the process's own give-up is under test.
        policy = RestartPolicy(limit=1, pause=lambda recent: 0.0)
        uvicorn.run(api_app.create_app(settings, policy), host="127.0.0.1", port={port})
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert code == STALLED_EXIT_CODE, stderr
    assert "api worker order_status died (RuntimeError) with its restart budget spent" in stderr
