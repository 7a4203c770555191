"""Who may do what on the secured broker: one SCRAM principal per service, and its ACLs.

Each service gets exactly what its own code does with Kafka and nothing else; the broker
denies everything no ACL allows (`allow.everyone.if.no.acl.found=false`). The group names are
the services' GROUP_ID constants (a unit test keeps them in step; messaging imports no
service). Kafka counts READ and WRITE as DESCRIBE too, and an idempotent producer needs only
WRITE on some topic (KIP-679), so READ and WRITE are all a service needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from kafka_restaurants.events.topics import (
    ORDER,
    ORDER_CONFIRM,
    ORDER_DECLINED,
    ORDER_STATUS,
    dead_letter_topic,
)

# The super user: the broker's own inter-broker connections and the operator's tools
# (topic creation, this provisioning, `restaurants dlq`). No service runs as it.
ADMIN = "admin"
API_GROUP = "api-order-status"
TRANSACTIONS_GROUP = "transaction-service"
MAILER_GROUP = "confirmation-service"
KITCHEN_GROUP = "kitchen-display"
SCRAM_ITERATIONS = 8192


@dataclass(frozen=True)
class Grant:
    """One permission: an operation on a topic, consumer group or transactional id."""

    resource: Literal["topic", "group", "transactional_id"]
    name: str
    operation: Literal["read", "write"]
    prefixed: bool = False

    def __str__(self) -> str:
        pattern = f"{self.name}*" if self.prefixed else self.name
        return f"{self.operation.upper()} {self.resource} {pattern}"


def _writes(*topics: str) -> tuple[Grant, ...]:
    return tuple(Grant("topic", topic, "write") for topic in topics)


def _reads(group: str, *topics: str) -> tuple[Grant, ...]:
    return (Grant("group", group, "read"), *(Grant("topic", t, "read") for t in topics))


SERVICE_GRANTS: Mapping[str, tuple[Grant, ...]] = {
    # The outbox relay publishes OrderPlaced, and the reconciler's OrderConfirmed for an order
    # it settled from the bank's charges; the order-status consumer reads both result topics
    # and the kitchen's steps, and dead-letters what it cannot parse.
    "api": (
        *_writes(ORDER, ORDER_CONFIRM),
        *_reads(API_GROUP, ORDER_CONFIRM, ORDER_DECLINED, ORDER_STATUS),
        *_writes(
            dead_letter_topic(ORDER_CONFIRM),
            dead_letter_topic(ORDER_DECLINED),
            dead_letter_topic(ORDER_STATUS),
        ),
    ),
    # Charges each order and writes its result and offsets in one Kafka transaction, under
    # transactional ids `transaction-service-<host>-<pid>` (consumer.transactional_id).
    "transactions": (
        *_reads(TRANSACTIONS_GROUP, ORDER),
        *_writes(ORDER_CONFIRM, ORDER_DECLINED, dead_letter_topic(ORDER)),
        Grant("transactional_id", f"{TRANSACTIONS_GROUP}-", "write", prefixed=True),
    ),
    # Mails each confirmation, and an "on its way" notice per delivered order; parks what it
    # cannot mail.
    "mailer": (
        *_reads(MAILER_GROUP, ORDER_CONFIRM, ORDER_STATUS),
        *_writes(dead_letter_topic(ORDER_CONFIRM), dead_letter_topic(ORDER_STATUS)),
    ),
    # Keeps a ticket per confirmed order and the steps taken on it; publishes the presses.
    "kitchen": (
        *_reads(KITCHEN_GROUP, ORDER_CONFIRM, ORDER_STATUS),
        *_writes(ORDER_STATUS, dead_letter_topic(ORDER_CONFIRM), dead_letter_topic(ORDER_STATUS)),
    ),
}
SERVICES = tuple(SERVICE_GRANTS)

_RESOURCE_TYPES = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "transactional_id": ResourceType.TRANSACTIONAL_ID,
}
_OPERATIONS = {"read": AclOperation.READ, "write": AclOperation.WRITE}


def principal(user: str) -> str:
    """The Kafka principal of a SCRAM user."""
    return f"User:{user}"


def acl_binding(user: str, grant: Grant) -> AclBinding:
    """The ALLOW ACL that gives `user` the `grant`, from any host."""
    return AclBinding(
        _RESOURCE_TYPES[grant.resource],
        grant.name,
        ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
        principal(user),
        "*",
        _OPERATIONS[grant.operation],
        AclPermissionType.ALLOW,
    )


def wanted_acls() -> set[AclBinding]:
    """Every ACL of every service principal."""
    return {acl_binding(user, grant) for user, grants in SERVICE_GRANTS.items() for grant in grants}


def provision_principals(
    admin: AdminClient, passwords: Mapping[str, str], timeout: float = 30.0
) -> None:
    """Make each service's SCRAM credential and its ACLs what this module says, as the admin.

    Safe to run again: credentials are upserted, missing ACLs created, and ACLs of a service
    principal that the table no longer lists deleted.
    """
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            passwords[user].encode(),
        )
        for user in SERVICES
    ]
    for future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout).values():
        future.result(timeout)
    wanted = wanted_acls()
    existing = set(
        admin.describe_acls(
            AclBindingFilter(
                ResourceType.ANY,
                None,  # type: ignore[arg-type]  # None matches any name
                ResourcePatternType.ANY,
                None,  # type: ignore[arg-type]
                None,  # type: ignore[arg-type]
                AclOperation.ANY,
                AclPermissionType.ANY,
            ),
            request_timeout=timeout,
        ).result(timeout)
    )
    ours = {principal(user) for user in SERVICES}
    stale = [acl for acl in existing - wanted if acl.principal in ours]
    if stale:
        for future in admin.delete_acls(
            [_exact_filter(acl) for acl in stale], request_timeout=timeout
        ).values():
            future.result(timeout)
    missing = list(wanted - existing)
    if missing:
        for future in admin.create_acls(missing, request_timeout=timeout).values():
            future.result(timeout)


def _exact_filter(acl: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        acl.restype,
        acl.name,
        acl.resource_pattern_type,
        acl.principal,
        acl.host,
        acl.operation,
        acl.permission_type,
    )
