"""The payment service's settings reach its consumer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kafka_restaurants.settings import Settings
from kafka_restaurants.transactions.app import TransactionsConfig


def test_the_batch_linger_is_read_in_milliseconds_and_reaches_the_consumer() -> None:
    settings = Settings.model_validate({"TRANSACTIONS_BATCH_LINGER_MS": "35"})
    consumer = TransactionsConfig.from_settings(settings).reading
    assert consumer.batch_linger == pytest.approx(0.035)
    assert consumer.transactional


def test_a_linger_over_a_second_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="TRANSACTIONS_BATCH_LINGER_MS"):
        Settings.model_validate({"TRANSACTIONS_BATCH_LINGER_MS": "5000"})
