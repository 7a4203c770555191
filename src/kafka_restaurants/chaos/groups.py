"""Who shares the pipeline's consumer groups: members and the partitions each one holds.

Read with the Kafka admin API directly, like the bench's lag probe: the chaos run checks that
its consumer instances really split the partitions between them before it does any harm.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from kafka_restaurants.bench.kafka_probe import PIPELINE_GROUPS
from kafka_restaurants.localbroker.broker import operator_security
from kafka_restaurants.settings import get_settings

# group -> the partitions each member holds, as "topic/partition" (a group may read several
# topics: the mailer follows order_confirm and order_status).
Members = dict[str, list[list[str]]]


def group_members(bootstrap: str, timeout: float = 10.0) -> Members:
    """The partitions each member of every pipeline group holds now (a group that cannot be
    described counts as having no members)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **operator_security(get_settings())})
    found: Members = {}
    futures = admin.describe_consumer_groups(list(PIPELINE_GROUPS), request_timeout=timeout)
    for group, future in futures.items():
        try:
            description = future.result(timeout)
        except (KafkaException, TimeoutError):
            found[group] = []
            continue
        found[group] = [
            sorted(
                f"{tp.topic}/{tp.partition}" for tp in (member.assignment.topic_partitions or [])
            )
            for member in description.members
        ]
    return found


def wait_for_members(bootstrap: str, members: int, timeout: float = 60.0) -> Members:
    """Group membership once every pipeline group has `members` members that each hold a
    partition, or as it is when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        found = group_members(bootstrap)
        shared = all(
            len(held) == members and all(held)
            for held in (found.get(g, []) for g in PIPELINE_GROUPS)
        )
        if shared or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)
