"""The bench's and chaos run's lag probe against a real broker, including one that went away."""

from __future__ import annotations

from pathlib import Path

from kafka_restaurants.bench.kafka_probe import PIPELINE_GROUPS, LagProbe
from kafka_restaurants.messaging.admin import ensure_topics
from tests.fixtures.components import wait_for
from tests.fixtures.kafka import kafka_libs_or_skip, running_broker


def test_lag_is_unknown_not_an_exception_once_the_broker_is_gone(tmp_path: Path) -> None:
    lib_dir = kafka_libs_or_skip()
    with running_broker(tmp_path, lib_dir) as broker:
        bootstrap = f"127.0.0.1:{broker.port}"
        ensure_topics(bootstrap, dict.fromkeys(PIPELINE_GROUPS.values(), 1))
        probe = LagProbe(bootstrap)
        # A fresh broker makes its offsets topic first: unknown (None) until then, never a crash.
        wait_for(
            lambda: probe.lag() == dict.fromkeys(PIPELINE_GROUPS, 0),
            timeout=90,
            what="the lag of every pipeline group to be read",
        )
    try:
        assert probe.lag() == dict.fromkeys(PIPELINE_GROUPS)  # None: could not be read
    finally:
        probe.close()
