"""The kitchen's follower: confirmed orders become tickets, `order_status` steps are recorded.

Built as a ConsumerService (messaging/service.py) in its own consumer group, so it reads every
confirmation independently of the mailer; instances in the group share the partitions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from kafka_restaurants.events import (
    ORDER_CONFIRM,
    ORDER_STATUS,
    InvalidEvent,
    OrderConfirmed,
    OrderStatusChanged,
    decode_on_topic,
)
from kafka_restaurants.kitchen.store import KitchenStore
from kafka_restaurants.kitchen.tickets import ticket_row
from kafka_restaurants.messaging.consumer import ConsumerSettings, Handler
from kafka_restaurants.messaging.outcomes import (
    Done,
    Incoming,
    Outcome,
    database_down,
    invalid,
)
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.messaging.service import ConsumerService
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

GROUP_ID = "kitchen-display"
TOPICS = (ORDER_CONFIRM, ORDER_STATUS)
_EVENTS: dict[str, type[OrderConfirmed | OrderStatusChanged]] = {
    ORDER_CONFIRM: OrderConfirmed,
    ORDER_STATUS: OrderStatusChanged,
}


def parse(message: Incoming) -> OrderConfirmed | OrderStatusChanged:
    """The event on a topic the kitchen follows; InvalidEvent when it is not one."""
    return decode_on_topic(message.topic, message.value, message.headers, _EVENTS)


class KitchenHandler:
    """Records a batch of tickets and steps in one database transaction."""

    def __init__(self, store: KitchenStore) -> None:
        self.store = store

    async def __call__(self, batch: list[Incoming]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        tickets: list[dict[str, Any]] = []
        steps: list[OrderStatusChanged] = []
        for message in batch:
            try:
                event = parse(message)
            except InvalidEvent as exc:
                outcomes.append(invalid(exc))
                continue
            if isinstance(event, OrderConfirmed):
                tickets.append(ticket_row(event))
            else:
                steps.append(event)
            outcomes.append(Done())
        if not tickets and not steps:
            return outcomes
        try:
            await asyncio.to_thread(self.store.record, tickets, steps)
        except Exception as exc:  # database down or locked: keep the messages, try again
            log.warning("could not record kitchen tickets: %s", exc)
            return database_down(outcomes, exc)
        return outcomes


def consumer_settings(settings: Settings, group_id: str = GROUP_ID) -> ConsumerSettings:
    """How the kitchen reads: its own group, both topics, offsets after the database write."""
    return ConsumerSettings(
        settings.bootstrap_servers,
        group_id=group_id,
        topics=TOPICS,
        transactional=False,
        max_attempts=settings.max_delivery_attempts,
        security=client_security(settings),
    )


def kitchen_follower(
    settings: Settings, store: KitchenStore, group_id: str = GROUP_ID
) -> ConsumerService:
    """The kitchen's follower as a ConsumerService over `store` (opened by the caller)."""

    @asynccontextmanager
    async def open_handler() -> AsyncIterator[Handler]:
        yield KitchenHandler(store)

    return ConsumerService("kitchen", consumer_settings(settings, group_id), open_handler)
