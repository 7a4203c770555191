"""CommitWatch: which commits count as stuck, and when."""

from __future__ import annotations

import time

from confluent_kafka import KafkaError

from kafka_restaurants.messaging.commit_watch import CommitWatch
from tests.fixtures.components import wait_for


def watch(stalls: list[str] | None = None) -> CommitWatch:
    return CommitWatch("g", stall_seconds=60.0, commit_interval=0.2, on_stall=(stalls or []).append)


def test_a_blocking_commit_is_stuck_only_past_its_deadline_and_only_while_it_runs() -> None:
    commits = watch()
    with commits.blocking():
        now = time.monotonic()
        assert commits.stall(now) is None
        reason = commits.stall(now + 61)
    assert reason == "a Kafka commit for group g has not returned in 60s"
    assert commits.stall(time.monotonic() + 61) is None


def test_stored_offsets_are_stuck_when_no_background_commit_succeeds_in_time() -> None:
    commits = watch()
    commits.stored()
    now = time.monotonic()
    assert commits.stall(now + 60) is None  # within interval + stall
    reason = commits.stall(now + 61)
    assert reason is not None and "offsets stored by group g have not been committed" in reason


def test_a_failed_background_commit_keeps_waiting_and_a_good_one_ends_the_wait() -> None:
    commits = watch()
    commits.stored()
    commits.on_commit(KafkaError(KafkaError.REQUEST_TIMED_OUT), [])
    assert commits.stall(time.monotonic() + 61) is not None
    commits.on_commit(None, [])
    assert commits.stall(time.monotonic() + 61) is None


def test_nothing_to_commit_and_revoked_partitions_end_the_wait() -> None:
    commits = watch()
    commits.stored()
    commits.on_commit(KafkaError(KafkaError._NO_OFFSET), [])
    assert commits.stall(time.monotonic() + 61) is None
    commits.stored()
    commits.revoked()
    assert commits.stall(time.monotonic() + 61) is None


def test_the_watchdog_thread_reports_a_stall_once() -> None:
    stalls: list[str] = []
    commits = CommitWatch("g", stall_seconds=0.0, commit_interval=0.0, on_stall=stalls.append)
    commits.stored()
    commits.start()
    try:
        wait_for(lambda: stalls, timeout=10, what="the stall")
    finally:
        commits.stop()
    assert len(stalls) == 1 and "offsets stored by group g" in stalls[0]
