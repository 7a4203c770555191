"""`restaurants dlq list` and `restaurants dlq replay` against a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from kafka_restaurants.localbroker.broker import ensure_topics
from kafka_restaurants.messaging.dead_letters import list_dead_letters, replay_dead_letters
from tests.fixtures.kafka_io import consume_all, produce


def cli(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOOTSTRAP_SVR": bootstrap}
    return subprocess.run(
        [sys.executable, "-m", "kafka_restaurants.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_list_and_replay_each_dead_letter_once(kafka_bootstrap: str) -> None:
    topic = f"dl-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, {topic: 1, f"{topic}.DLQ": 1})
    produce(
        kafka_bootstrap,
        f"{topic}.DLQ",
        [
            (
                b"order-1",
                b"{broken",
                [
                    ("event_type", b"OrderPlaced"),
                    ("dlq.error", b"not a valid OrderPlaced: bad json"),
                    ("dlq.original_topic", topic.encode()),
                    ("dlq.original_partition", b"0"),
                    ("dlq.original_offset", b"7"),
                ],
            )
        ],
    )
    [letter] = list_dead_letters(kafka_bootstrap, topic)
    assert letter.key == b"order-1"
    assert letter.header("dlq.error") == "not a valid OrderPlaced: bad json"

    listed = cli(kafka_bootstrap, "dlq", "list", topic)
    assert listed.returncode == 0, listed.stderr
    assert "bad json" in listed.stdout and "1 dead letter(s)" in listed.stdout

    replayed = cli(kafka_bootstrap, "dlq", "replay", topic)
    assert replayed.returncode == 0, replayed.stderr
    assert "Replayed 1 dead letter(s)" in replayed.stdout
    [back] = consume_all(kafka_bootstrap, topic, expected=1)
    assert back.key() == b"order-1" and back.value() == b"{broken"
    assert dict(back.headers() or []) == {"event_type": b"OrderPlaced"}

    assert replay_dead_letters(kafka_bootstrap, topic) == 0  # already replayed
    assert len(list_dead_letters(kafka_bootstrap, topic)) == 1  # listing never consumes
