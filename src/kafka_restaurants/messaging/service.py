"""The one shape of a Kafka-consuming service: what it reads, and how it opens its handler.

Every consumer (the payment service, the mailer, the kitchen, the api's order-status follower)
is declared as a `ConsumerService`: a name, the `ConsumerSettings` it reads with, and `open`,
an async context manager that opens what the handler needs (bank client, database, SMTP) inside
the consumer's event loop, yields the batch handler, and closes everything when the loop ends.
`ConsumerProcess` owns the loop; `serve_consumer` adds logging, tracing, the health server and
signal handling around it for a process of its own. A handler never sees a Kafka client type:

    @asynccontextmanager
    async def open_handler() -> AsyncIterator[Handler]:
        async with BankClient(url) as bank:
            yield PaymentHandler(bank)      # async (batch: list[Incoming]) -> list[Outcome]

    serve_consumer(ConsumerService("transactions", consumer_settings, open_handler), settings,
                   health_port=settings.transactions_health_port)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from kafka_restaurants.messaging.consumer import ConsumerSettings, EventConsumer, Handler
from kafka_restaurants.messaging.outcomes import Incoming, Outcome
from kafka_restaurants.observability import setup_tracing
from kafka_restaurants.runtime import HealthServer, configure_logging, stop_on_signals
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

OpenHandler = Callable[[], AbstractAsyncContextManager[Handler]]


@dataclass(frozen=True)
class ConsumerService:
    """A consumer declared once: its name, what it reads, and how its handler is opened."""

    name: str
    consumer: ConsumerSettings
    open: OpenHandler


def by_topic(first: Handler, then: Mapping[str, Handler]) -> Handler:
    """One handler for a service that reads several topics. The messages of each topic in
    `then` go to that topic's handler, every other message to `first`; `first` runs first,
    then the others in the order given (a kitchen step can wait for a payment result of the
    same batch), and the outcomes come back in batch order."""

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        parts: dict[str | None, list[int]] = {}
        for index, message in enumerate(batch):
            parts.setdefault(message.topic if message.topic in then else None, []).append(index)
        outcomes: dict[int, Outcome] = {}
        for topic, handler in [(None, first), *then.items()]:
            indexes = parts.get(topic, [])
            if indexes:
                answered = await handler([batch[i] for i in indexes])
                outcomes.update(zip(indexes, answered, strict=True))
        return [outcomes[i] for i in range(len(batch))]

    return handle


class ConsumerProcess:
    """Runs one ConsumerService: opens its handler, consumes until stopped, closes it again.

    `run()` blocks; `stop()` (from a signal handler or another thread) finishes the batch in
    hand and makes `run()` return. It is also the api's Worker shape (run/stop).
    """

    def __init__(self, service: ConsumerService) -> None:
        self.service = service
        self._consumer: EventConsumer | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """True while the consumer loop runs (the readiness signal)."""
        return self._consumer is not None and self._consumer.running

    def stop(self) -> None:
        self._stopping = True
        if self._consumer is not None:
            self._consumer.stop()

    def run(self) -> None:
        asyncio.run(self.run_async())

    async def run_async(self) -> None:
        async with self.service.open() as handler:
            self._consumer = EventConsumer(self.service.consumer, handler)
            if self._stopping:  # stopped while the handler was being opened
                return
            await self._consumer.run_async()


def serve_consumer(service: ConsumerService, settings: Settings, health_port: int) -> None:
    """Run `service` as a process of its own until SIGTERM/SIGINT, with /healthz, /readyz and
    /metrics on `health_port`."""
    configure_logging(settings.log_level, settings.log_format, service.name)
    setup_tracing(service.name)
    process = ConsumerProcess(service)
    health = HealthServer(service.name, settings.host, health_port, lambda: process.running)
    health.start()
    stop_on_signals(process)
    log.info(
        "%s: group %s on %s",
        service.name,
        service.consumer.group_id,
        ",".join(service.consumer.topics),
    )
    try:
        process.run()
    finally:
        health.stop()
