"""The shared consumer loop against a real broker: outputs, dead letters, retries, offsets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from kafka_restaurants.events import OrderDeclined, decode
from kafka_restaurants.localbroker.broker import ensure_topics
from kafka_restaurants.messaging.consumer import ConsumerSettings, EventConsumer, Handler
from kafka_restaurants.messaging.outcomes import (
    DeadLetter,
    Done,
    Incoming,
    Outcome,
    Outgoing,
    Retry,
)
from tests.fixtures.components import wait_for
from tests.fixtures.kafka import kafka_libs_or_skip, running_broker
from tests.fixtures.kafka_io import committed_offsets, consume_all, produce, run_in_thread


def declined(order_id: str) -> bytes:
    event = OrderDeclined(order_id=order_id, decline_code="card_declined", reason="test")
    return event.model_dump_json().encode()


@pytest.fixture
def topics(kafka_bootstrap: str) -> tuple[str, str]:
    name = f"in-{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, {name: 2, f"{name}.DLQ": 1, f"{name}-out": 1})
    return name, f"{name}-out"


def forward_to(output: str) -> Handler:
    """A handler that re-publishes each valid OrderDeclined and dead-letters anything else."""

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in batch:
            try:
                event = decode(message.value, message.headers, OrderDeclined)
            except ValueError as exc:
                outcomes.append(DeadLetter(str(exc)))
                continue
            outcomes.append(Done((Outgoing(output, event),)))
        return outcomes

    return handle


@pytest.mark.parametrize("transactional", [True, False])
def test_outputs_produced_and_offsets_committed(
    kafka_bootstrap: str, topics: tuple[str, str], transactional: bool
) -> None:
    source, output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    ids = [f"order-{i}" for i in range(20)]
    produce(kafka_bootstrap, source, [(i.encode(), declined(i), None) for i in ids])
    settings = ConsumerSettings(kafka_bootstrap, group, (source,), transactional=transactional)
    for _ in run_in_thread(EventConsumer(settings, forward_to(output))):
        found = consume_all(kafka_bootstrap, output, expected=20)
        assert sorted(m.key().decode() for m in found) == sorted(ids)
        wait_for(
            lambda: sum(committed_offsets(kafka_bootstrap, group, source, 2)) == 20,
            what="offsets committed",
        )
    headers = dict(found[0].headers() or [])
    assert headers["event_type"] == b"OrderDeclined"
    assert headers["schema_version"] == b"1.0"


def test_garbage_goes_to_dead_letter_topic_and_consumer_goes_on(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    source, output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    produce(
        kafka_bootstrap,
        source,
        [(b"bad", b"{not json", None), (b"good", declined("good"), None)],
        partition=0,
    )
    settings = ConsumerSettings(kafka_bootstrap, group, (source,), transactional=True)
    for _ in run_in_thread(EventConsumer(settings, forward_to(output))):
        [dead] = consume_all(kafka_bootstrap, f"{source}.DLQ", expected=1)
        [good] = consume_all(kafka_bootstrap, output, expected=1)
    assert dead.value() == b"{not json"
    headers = dict(dead.headers() or [])
    assert b"not a valid OrderDeclined" in headers["dlq.error"]
    assert headers["dlq.original_topic"] == source.encode()
    assert headers["dlq.original_offset"] == b"0"
    assert good.key() == b"good"


def test_retry_waits_on_one_partition_while_the_other_flows(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    source, output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    attempts: Counter[str] = Counter()
    release = threading.Event()
    forward = forward_to(output)

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        outcomes = await forward(batch)
        for index, message in enumerate(batch):
            key = (message.key or b"").decode()
            attempts[key] += 1
            if key == "stuck" and not release.is_set():
                outcomes[index] = Retry("bank unavailable")
        return outcomes

    produce(kafka_bootstrap, source, [(b"stuck", declined("stuck"), None)], partition=0)
    produce(kafka_bootstrap, source, [(b"after", declined("after"), None)], partition=0)
    produce(
        kafka_bootstrap,
        source,
        [(f"free-{i}".encode(), declined(f"free-{i}"), None) for i in range(5)],
        partition=1,
    )
    settings = ConsumerSettings(
        kafka_bootstrap,
        group,
        (source,),
        transactional=True,
        backoff_base=0.05,
        backoff_cap=0.2,
        max_attempts=1000,
    )
    for _ in run_in_thread(EventConsumer(settings, handle)):
        free = consume_all(kafka_bootstrap, output, expected=5)
        assert {m.key().decode() for m in free} == {f"free-{i}" for i in range(5)}
        wait_for(lambda: attempts["stuck"] >= 3, what="several retries of the stuck message")
        # Order within the partition holds: nothing after the stuck message went out.
        assert "after" not in {m.key().decode() for m in consume_all(kafka_bootstrap, output, 5)}
        release.set()
        everything = consume_all(kafka_bootstrap, output, expected=7)
    keys = [m.key().decode() for m in everything]
    assert sorted(keys) == sorted(["stuck", "after"] + [f"free-{i}" for i in range(5)])
    assert keys.count("stuck") == 1


@pytest.mark.parametrize("transactional", [True, False])
def test_retries_end_at_the_limit_in_the_dead_letter_topic_and_the_partition_moves_on(
    kafka_bootstrap: str, topics: tuple[str, str], transactional: bool
) -> None:
    source, output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    seen: list[tuple[int, bool]] = []
    forward = forward_to(output)

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        outcomes = await forward(batch)
        for index, message in enumerate(batch):
            if message.key == b"stuck":
                seen.append((message.attempt, message.final_attempt))
                outcomes[index] = Retry("smtp unavailable")
        return outcomes

    produce(
        kafka_bootstrap,
        source,
        [(b"stuck", declined("stuck"), None), (b"after", declined("after"), None)],
        partition=0,
    )
    settings = ConsumerSettings(
        kafka_bootstrap,
        group,
        (source,),
        transactional=transactional,
        backoff_base=0.02,
        backoff_cap=0.1,
        max_attempts=4,
    )
    for _ in run_in_thread(EventConsumer(settings, handle)):
        [dead] = consume_all(kafka_bootstrap, f"{source}.DLQ", expected=1)
        [after] = consume_all(kafka_bootstrap, output, expected=1)
        wait_for(
            lambda: committed_offsets(kafka_bootstrap, group, source, 2)[0] == 2,
            what="both messages committed past",
        )
    assert seen == [(1, False), (2, False), (3, False), (4, True)]
    assert dead.key() == b"stuck" and after.key() == b"after"
    headers = dict(dead.headers() or [])
    assert headers["dlq.error"] == b"gave up after 4 attempts: smtp unavailable"


def test_transactional_consumer_carries_on_after_the_broker_is_killed(tmp_path: Path) -> None:
    """Crash the whole (one-node) cluster: the loop renews its producer and keeps committing."""
    with running_broker(tmp_path, kafka_libs_or_skip()) as broker:
        bootstrap = broker.bootstrap
        ensure_topics(bootstrap, {"in": 2, "in.DLQ": 1, "out": 1})
        stalls: list[str] = []
        consumer = EventConsumer(
            ConsumerSettings(bootstrap, "g", ("in",), transactional=True),
            forward_to("out"),
            on_stall=stalls.append,
        )
        for _ in run_in_thread(consumer):
            produce(bootstrap, "in", [(b"before", declined("before"), None)])
            assert len(consume_all(bootstrap, "out", expected=1)) == 1
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGKILL)
            wait_for(lambda: not broker.is_running(), what="broker gone")
            broker.start(tmp_path / "kafka-restarted.log")
            broker.wait_until_ready(120)
            produce(bootstrap, "in", [(b"after", declined("after"), None)])
            found = consume_all(bootstrap, "out", expected=2, timeout=90)
            assert sorted(m.key() for m in found) == [b"after", b"before"]
        assert stalls == []


def test_a_lone_message_is_handled_without_waiting_for_a_full_batch(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """Batches grow with load, but a quiet topic's message goes straight to the handler: it
    is not held back waiting for `max_batch` messages or the poll timeout."""
    source, _output = topics
    seen: dict[str, float] = {}

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        for message in batch:
            seen[message.key.decode()] = time.monotonic()
        return [Done(()) for _ in batch]

    poll_timeout = 10.0
    settings = ConsumerSettings(
        kafka_bootstrap,
        f"g-{uuid.uuid4().hex[:8]}",
        (source,),
        max_batch=500,
        poll_timeout=poll_timeout,
    )
    for _ in run_in_thread(EventConsumer(settings, handle)):
        produce(kafka_bootstrap, source, [(b"first", declined("first"), None)])
        wait_for(lambda: "first" in seen, timeout=60, what="the first message (group join)")
        sent = time.monotonic()
        produce(kafka_bootstrap, source, [(b"second", declined("second"), None)])
        wait_for(lambda: "second" in seen, timeout=30, what="the second message")
        assert seen["second"] - sent < poll_timeout / 2


def test_a_batch_waits_its_linger_for_the_messages_that_follow_its_first(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """With `batch_linger`, a message that arrives soon after a batch's first one joins that
    batch (one transaction, one bank call) instead of making a batch of its own."""
    source, _output = topics
    batches: list[list[str]] = []

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        batches.append([message.key.decode() for message in batch])
        return [Done(()) for _ in batch]

    settings = ConsumerSettings(
        kafka_bootstrap, f"g-{uuid.uuid4().hex[:8]}", (source,), batch_linger=5.0
    )
    for _ in run_in_thread(EventConsumer(settings, handle)):
        produce(kafka_bootstrap, source, [(b"joined", declined("joined"), None)])
        wait_for(lambda: batches, timeout=60, what="the first batch (group join)")
        produce(kafka_bootstrap, source, [(b"first", declined("first"), None)])
        # Long after the consumer has the first message (without a linger it is handled
        # alone), well within the linger.
        time.sleep(1.0)
        produce(kafka_bootstrap, source, [(b"second", declined("second"), None)])
        wait_for(lambda: any("second" in b for b in batches), timeout=30, what="the second")
    assert ["first", "second"] in batches, batches


def test_stopping_commits_the_offsets_of_every_handled_message(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """Offsets of handled messages are committed in the background; a consumer that stops
    before the next interval still commits them, so a restart replays nothing."""
    source, _output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    handled: list[str] = []

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        handled.extend(message.key.decode() for message in batch)
        return [Done(()) for _ in batch]

    settings = ConsumerSettings(kafka_bootstrap, group, (source,), commit_interval=3600.0)
    ids = [f"order-{i}" for i in range(10)]
    for _ in run_in_thread(EventConsumer(settings, handle)):
        produce(kafka_bootstrap, source, [(i.encode(), declined(i), None) for i in ids])
        wait_for(lambda: len(handled) == len(ids), timeout=60, what="every message handled")
    assert sum(committed_offsets(kafka_bootstrap, group, source, 2)) == len(ids)


def test_stored_offsets_a_frozen_broker_never_commits_count_as_a_stall(tmp_path: Path) -> None:
    """A non-transactional consumer commits in the background; when those commits stop
    succeeding (here the broker is frozen with SIGSTOP), the watchdog reports a stall instead of
    the process idling on uncommitted offsets forever."""
    with running_broker(tmp_path, kafka_libs_or_skip()) as broker:
        ensure_topics(broker.bootstrap, {"in": 1})
        entered, release = threading.Event(), threading.Event()
        handled: list[str] = []

        async def handle(batch: list[Incoming]) -> list[Outcome]:
            entered.set()
            await asyncio.to_thread(release.wait, 60)
            handled.extend(message.key.decode() for message in batch)
            return [Done(()) for _ in batch]

        stalls: list[str] = []
        settings = ConsumerSettings(
            broker.bootstrap, "g", ("in",), commit_interval=1.0, commit_stall_seconds=2.0
        )
        for _ in run_in_thread(EventConsumer(settings, handle, on_stall=stalls.append)):
            produce(broker.bootstrap, "in", [(b"m", declined("m"), None)])
            assert broker.pid is not None
            # The message is in the handler, which waits: freeze the broker, then let it finish.
            wait_for(entered.is_set, timeout=60, what="the message in the handler")
            os.kill(broker.pid, signal.SIGSTOP)
            try:
                release.set()
                wait_for(lambda: stalls, timeout=30, what="the stall report")
            finally:
                os.kill(broker.pid, signal.SIGCONT)
        assert handled == ["m"]
        assert "offsets stored by group g have not been committed" in stalls[0]


_MEMBER = """
import sys
from kafka_restaurants.messaging.consumer import ConsumerSettings, EventConsumer
from kafka_restaurants.messaging.outcomes import Done

async def handle(batch):
    return [Done(()) for _ in batch]

EventConsumer(ConsumerSettings(sys.argv[1], sys.argv[2], (sys.argv[3],)), handle).run()
"""


def _partitions_held(bootstrap: str, group: str) -> list[list[int]]:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the answer comes
    members = admin.describe_consumer_groups([group])[group].result(10).members
    return [sorted(tp.partition for tp in m.assignment.topic_partitions or []) for m in members]


def test_a_killed_members_partitions_move_to_the_survivor_within_seconds(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """kill -9 leaves no LeaveGroup: the group waits for the member's session to expire. With
    librdkafka's 45 s default that stalled the whole pipeline for 45 s after a crash."""
    source, _output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    seen: set[str] = set()

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        seen.update(message.key.decode() for message in batch)
        return [Done(()) for _ in batch]

    member = subprocess.Popen(
        [sys.executable, "-c", _MEMBER, kafka_bootstrap, group, source],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _partitions_held(kafka_bootstrap, group) == [[0, 1]], timeout=60)
        for _ in run_in_thread(
            EventConsumer(ConsumerSettings(kafka_bootstrap, group, (source,)), handle)
        ):
            wait_for(
                lambda: sorted(_partitions_held(kafka_bootstrap, group)) == [[0], [1]],
                timeout=60,
                what="the two members to share the partitions",
            )
            member.kill()
            member.wait(10)
            killed_at = time.monotonic()
            for partition in (0, 1):
                produce(
                    kafka_bootstrap,
                    source,
                    [(f"p{partition}".encode(), declined("x"), None)],
                    partition,
                )
            wait_for(lambda: seen >= {"p0", "p1"}, timeout=40, what="both partitions' messages")
            assert time.monotonic() - killed_at < 30  # librdkafka's default session: 45 s
    finally:
        member.kill()
        member.wait(10)


_RETRYING_MEMBER = """
import sys
from pathlib import Path
from kafka_restaurants.messaging.consumer import ConsumerSettings, EventConsumer
from kafka_restaurants.messaging.outcomes import Done, Retry

bootstrap, group, topic, workdir = sys.argv[1:5]
allowed, handled = Path(workdir, "allowed"), Path(workdir, "handled")
tried = Path(workdir, "tried")

async def handle(batch):
    if not allowed.exists():  # the SMTP server is down: retry, the partition paused meanwhile
        with tried.open("a") as out:
            out.write("retry\\n")
        return [Retry("not yet") for _ in batch]
    with handled.open("a") as out:
        out.writelines(message.key.decode() + "\\n" for message in batch)
    return [Done(()) for _ in batch]

settings = ConsumerSettings(bootstrap, group, (topic,), max_attempts=1000)
EventConsumer(settings, handle, on_stall=lambda reason: None).run()
"""


def test_a_partition_paused_for_a_retry_resumes_after_the_member_lost_it(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    """The chaos run's mailers: a partition paused for a retry, the member's session lost (a
    paused process, a restarted broker), the partition given back still paused by librdkafka
    while the consumer had forgotten the retry: silent for good, every email after it lost."""
    source, _output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    member = subprocess.Popen(
        [sys.executable, "-c", _RETRYING_MEMBER, kafka_bootstrap, group, source, str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    handled = tmp_path / "handled"
    try:
        produce(kafka_bootstrap, source, [(b"m0", declined("m0"), None)], 0)
        produce(kafka_bootstrap, source, [(b"m1", declined("m1"), None)], 1)
        tried = tmp_path / "tried"
        # The lone member holds both partitions and retries: its backoff now keeps them
        # paused for a second or more at a time.
        wait_for(lambda: tried.exists() and len(tried.read_text().split()) >= 6, timeout=90)
        # The fault itself, as the chaos run does it: paused past its 10 s session, the member
        # is dropped from the group and loses its partitions.
        member.send_signal(signal.SIGSTOP)
        time.sleep(15)
        member.send_signal(signal.SIGCONT)
        (tmp_path / "allowed").touch()
        wait_for(
            lambda: handled.exists() and set(handled.read_text().split()) == {"m0", "m1"},
            timeout=60,
            what="both messages handled once the member is back",
        )
    finally:
        member.kill()
        member.wait(10)
