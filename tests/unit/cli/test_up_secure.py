"""`restaurants up --secure` secures the managed broker only; it refuses a cluster of one's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kafka_restaurants.cli.main import app
from kafka_restaurants.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_secure_with_an_external_cluster_is_refused_and_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOOTSTRAP_SVR", "kafka-1:9092")

    result = CliRunner().invoke(app, ["up", "--secure", "--detach"])

    assert result.exit_code == 2
    assert "KAFKA_SECURITY_PROTOCOL" in result.output and "kafka-1:9092" in result.output
    assert not (tmp_path / "log").exists()  # nothing was started
