"""The ACL table: one principal per service, each allowed only what its code does."""

from __future__ import annotations

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from kafka_restaurants.api import order_status
from kafka_restaurants.kitchen import follower as kitchen_follower
from kafka_restaurants.mailer import app as mailer_app
from kafka_restaurants.messaging.consumer import transactional_id
from kafka_restaurants.messaging.principals import (
    API_GROUP,
    KITCHEN_GROUP,
    MAILER_GROUP,
    SERVICE_GRANTS,
    TRANSACTIONS_GROUP,
    acl_binding,
    wanted_acls,
)
from kafka_restaurants.transactions import app as transactions_app
from kafka_restaurants.transactions.charging import OutputTopics


def table(service: str) -> set[str]:
    return {str(grant) for grant in SERVICE_GRANTS[service]}


def test_group_names_are_the_services_own() -> None:
    assert API_GROUP == order_status.GROUP_ID
    assert TRANSACTIONS_GROUP == transactions_app.GROUP_ID
    assert MAILER_GROUP == mailer_app.GROUP_ID
    assert KITCHEN_GROUP == kitchen_follower.GROUP_ID


def test_the_api_writes_orders_and_reads_results_in_its_group() -> None:
    assert table("api") == {
        "WRITE topic order",
        "WRITE topic order_confirm",  # the reconciler's OrderConfirmed, through the outbox
        "READ group api-order-status",
        "READ topic order_confirm",
        "READ topic order_declined",
        "WRITE topic order_confirm.DLQ",
        "WRITE topic order_declined.DLQ",
        "READ topic order_status",  # the kitchen's steps, for the customer's order page
        "WRITE topic order_status.DLQ",
    }
    assert set(order_status.TOPICS) == {"order_confirm", "order_declined", "order_status"}


def test_transactions_reads_orders_and_writes_results_in_its_transactions() -> None:
    outputs = OutputTopics()
    assert table("transactions") == {
        "READ group transaction-service",
        "READ topic order",
        f"WRITE topic {outputs.confirmed}",
        f"WRITE topic {outputs.declined}",
        "WRITE topic order.DLQ",
        "WRITE transactional_id transaction-service-*",
    }
    assert transactional_id(transactions_app.GROUP_ID).startswith("transaction-service-")


def test_the_mailer_only_reads_confirmations_and_kitchen_steps() -> None:
    assert table("mailer") == {
        "READ group confirmation-service",
        "READ topic order_confirm",
        "WRITE topic order_confirm.DLQ",
        "READ topic order_status",  # one email when an order is out for delivery
        "WRITE topic order_status.DLQ",
    }


def test_no_service_gets_more_than_read_and_write_or_a_cluster_grant() -> None:
    bindings = wanted_acls()
    assert len(bindings) == sum(len(grants) for grants in SERVICE_GRANTS.values())
    assert {b.operation for b in bindings} == {AclOperation.READ, AclOperation.WRITE}
    assert {b.restype for b in bindings} == {
        ResourceType.TOPIC,
        ResourceType.GROUP,
        ResourceType.TRANSACTIONAL_ID,
    }
    assert {b.principal for b in bindings} == {
        "User:api",
        "User:transactions",
        "User:mailer",
        "User:kitchen",
    }
    prefixed = [b for b in bindings if b.resource_pattern_type == ResourcePatternType.PREFIXED]
    assert prefixed == [acl_binding("transactions", SERVICE_GRANTS["transactions"][-1])]
