"""The kitchen's composition root: migrate, then serve the HTTP API with the follower beside it."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.events import ORDER_STATUS, OrderStatusChanged, encode
from kafka_restaurants.kitchen.access import resolve_kitchen_secret
from kafka_restaurants.kitchen.follower import GROUP_ID, kitchen_follower
from kafka_restaurants.kitchen.http_api import Publish, create_kitchen_app
from kafka_restaurants.kitchen.store import KitchenStore
from kafka_restaurants.messaging.producer import Record, RecordPublisher
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.messaging.service import ConsumerProcess
from kafka_restaurants.observability import configure_logging, setup_tracing
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import server_tls

log = logging.getLogger(__name__)

# A press waits this long for Kafka before the screen says "press again".
PRESS_TIMEOUT_MS = 5000


def step_publisher(settings: Settings) -> tuple[Publish, RecordPublisher]:
    """Publish to `order_status` with the idempotent, acks=all producer; and its closer."""
    publisher = RecordPublisher(
        settings.bootstrap_servers,
        delivery_timeout_ms=PRESS_TIMEOUT_MS,
        security=client_security(settings),
    )

    def publish(event: OrderStatusChanged) -> bool:
        encoded = encode(event)
        record = Record(ORDER_STATUS, encoded.key, encoded.value, encoded.headers)
        return publisher.publish([record])[0]

    return publish, publisher


def create_app(settings: Settings, *, group_id: str = GROUP_ID) -> FastAPI:
    """The kitchen process: its API, and while it runs, the follower on a thread of its own."""
    engine = create_db_engine(settings.kitchen_db_url)
    store = KitchenStore(engine)
    follower = ConsumerProcess(kitchen_follower(settings, store, group_id))
    publish, publisher = step_publisher(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=follower.run, name="kitchen-follower", daemon=True)
        thread.start()
        try:
            yield
        finally:
            follower.stop()
            thread.join(30)
            publisher.close()
            engine.dispose()

    secret = resolve_kitchen_secret(settings)
    return create_kitchen_app(store, secret, publish, lambda: follower.running, lifespan)


def serve(settings: Settings) -> None:
    """Migrate the kitchen's tables, then serve until SIGTERM / SIGINT (uvicorn's handlers)."""
    import uvicorn

    configure_logging(settings.log_level, settings.log_format, "kitchen")
    setup_tracing("kitchen")
    migrate("kitchen", settings.kitchen_db_url)
    log.info("kitchen: group %s, tickets on port %d", GROUP_ID, settings.kitchen_port)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.kitchen_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
        **server_tls(settings),  # type: ignore[arg-type]  # HTTPS with TLS_CERT_FILE/KEY_FILE
    )
