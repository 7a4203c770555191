"""The mailer process is wired from its settings."""

from __future__ import annotations

from pathlib import Path

from kafka_restaurants.mailer.app import mailer_service
from kafka_restaurants.settings import Settings


def test_the_mailer_waits_out_smtp_outages_longer_than_other_consumers(tmp_path: Path) -> None:
    settings = Settings(
        DATA_DIR=str(tmp_path), MAX_DELIVERY_ATTEMPTS=12, MAILER_MAX_DELIVERY_ATTEMPTS=150
    )
    assert mailer_service(settings).consumer.max_attempts == 150
