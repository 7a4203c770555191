"""The payment service's composition root: consume `order`, charge the bank, publish the result.

Scaling: run more instances. They join the same consumer group (`transaction-service`), Kafka
spreads the `order` partitions across them, and each instance commits its results and offsets
in its own Kafka transactions; nothing else is shared. The partition count of `order` is the
ceiling on useful instances.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind
from prometheus_client import Counter

from kafka_restaurants.events import (
    ORDER,
    PAYMENT_FAILED,
    InvalidEvent,
    OrderConfirmed,
    OrderDeclined,
    OrderPlaced,
)
from kafka_restaurants.messaging.consumer import ConsumerSettings, Handler
from kafka_restaurants.messaging.outcomes import Incoming, Outcome, Retry
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.messaging.service import ConsumerService, serve_consumer
from kafka_restaurants.messaging.telemetry import handling_message
from kafka_restaurants.observability import instrument_httpx
from kafka_restaurants.observability.tracing import tracer
from kafka_restaurants.settings import Settings
from kafka_restaurants.transactions.bank_client import BankClient
from kafka_restaurants.transactions.bank_wire import BankAnswer
from kafka_restaurants.transactions.charging import (
    OutputTopics,
    charge_for_order,
    charge_request,
    dead_letter_for,
    give_up_on_order,
    read_order,
)

log = logging.getLogger(__name__)

GROUP_ID = "transaction-service"

PAYMENTS_SETTLED = Counter(
    "payments_settled_total", "Orders whose payment reached a final result", ["result"]
)


def order_reader(
    bootstrap_servers: str, group_id: str = GROUP_ID, topic: str = ORDER
) -> ConsumerSettings:
    """How the payment service reads `topic`: transactionally, in batches of up to 500 (other
    settings, such as the linger, retry limit and security, by `dataclasses.replace`)."""
    return ConsumerSettings(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        topics=(topic,),
        # Results and consumed offsets commit together: a charge result is published
        # exactly once per order, and a crash in between redoes the (idempotent) charge.
        transactional=True,
        max_batch=500,
    )


@dataclass(frozen=True)
class TransactionsConfig:
    """What one payment service instance reads, writes and calls."""

    reading: ConsumerSettings  # see order_reader
    bank_url: str
    # This service's own key at the bank (BANK_API_KEY).
    bank_api_key: str | None = field(default=None, repr=False)
    # The CA an https bank's certificate is checked against (TLS_CA_FILE).
    bank_ca_file: Path | None = None
    outputs: OutputTopics = field(default_factory=OutputTopics)
    # Bank calls in flight at once (one bank connection each; a call carries `charge_chunk`
    # orders, so a 500-message batch makes 5). Raise it (TRANSACTIONS_CONCURRENCY) for a
    # bank that scales with parallel requests.
    concurrency: int = 16
    # Orders per bank call (POST /v1/charges/batch, one database transaction in the bank):
    # the bank's cost per HTTP request is spread over this many orders.
    charge_chunk: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> TransactionsConfig:
        """The production configuration."""
        return cls(
            reading=replace(
                order_reader(settings.bootstrap_servers),
                batch_linger=settings.transactions_batch_linger_ms / 1000,
                max_attempts=settings.max_delivery_attempts,
                security=client_security(settings),
            ),
            bank_url=settings.bank_base_url,
            bank_api_key=settings.bank_api_key.get_secret_value()
            if settings.bank_api_key
            else None,
            bank_ca_file=settings.tls_ca_file,
            concurrency=settings.transactions_concurrency,
        )


class PaymentHandler:
    """Charges a batch's orders `chunk` to a bank call, answering in batch order; up to
    `concurrency` bank calls are in flight at once."""

    def __init__(
        self, bank: BankClient, outputs: OutputTopics, concurrency: int = 16, chunk: int = 100
    ) -> None:
        self.bank = bank
        self.outputs = outputs
        self.chunk = chunk
        self.in_flight = asyncio.Semaphore(concurrency)

    async def __call__(self, batch: list[Incoming]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        orders: list[tuple[int, OrderPlaced, SpanContext]] = []
        for index, message in enumerate(batch):
            with handling_message(message):
                try:
                    order = read_order(message)
                except InvalidEvent as exc:
                    outcomes[index] = dead_letter_for(exc)
                    continue
                orders.append((index, order, trace.get_current_span().get_span_context()))
        chunk = self.chunk
        parts = [orders[start : start + chunk] for start in range(0, len(orders), chunk)]
        await asyncio.gather(*(self._settle(batch, part, outcomes) for part in parts))
        return [outcome for outcome in outcomes if outcome is not None]

    async def _settle(
        self,
        batch: list[Incoming],
        part: list[tuple[int, OrderPlaced, SpanContext]],
        outcomes: list[Outcome | None],
    ) -> None:
        """Charge `part` in one bank call and fill in its outcomes."""
        async with self.in_flight:
            answers, call = await _charge_together(self.bank, part)
        giving_up: list[int] = []
        for (index, order, _), answer in zip(part, answers, strict=True):
            with handling_message(batch[index]):  # the order's span and log context
                if call.is_valid:
                    trace.get_current_span().add_link(call)
                outcomes[index] = charge_for_order(order, answer, self.outputs)
            if isinstance(outcomes[index], Retry) and batch[index].final_attempt:
                giving_up.append(index)
        if giving_up:
            # Lookups of the part's final attempts at once: a hung bank costs one timeout.
            found = {
                index: (order, answer)
                for (index, order, _), answer in zip(part, answers, strict=True)
            }
            ended = await asyncio.gather(
                *(self._give_up(batch[index], *found[index]) for index in giving_up)
            )
            for index, outcome in zip(giving_up, ended, strict=True):
                outcomes[index] = outcome
        for index, order, _ in part:
            with handling_message(batch[index]):
                _record(order.order_id, outcomes[index])

    async def _give_up(self, message: Incoming, order: OrderPlaced, answer: BankAnswer) -> Outcome:
        async with self.in_flight:
            return await _end_order(self.bank, message, order, answer, self.outputs)


async def _end_order(
    bank: BankClient,
    message: Incoming,
    order: OrderPlaced,
    answer: BankAnswer,
    outputs: OutputTopics,
) -> Outcome:
    """The last attempt failed too: ask the bank what it did with the order, then end it."""
    with handling_message(message):
        found = await bank.charges_for(order.order_id)
        outcome = give_up_on_order(order, answer, found, message.attempt, outputs)
        log.warning("order %s: giving up after %d attempts", order.order_id, message.attempt)
        return outcome


async def _charge_together(
    bank: BankClient, part: list[tuple[int, OrderPlaced, SpanContext]]
) -> tuple[list[BankAnswer], SpanContext]:
    """One bank call for `part`, in a span linked to each order's consume span (and back)."""
    links = [Link(context) for _, _, context in part if context.is_valid]
    # A root span of its own (it serves many traces), linked to every order it charges.
    with tracer().start_as_current_span(
        "bank charge batch",
        context=Context(),
        kind=SpanKind.INTERNAL,
        links=links,
        attributes={"bank.charges": len(part)},
    ) as span:
        answers = await bank.charge_batch([charge_request(order) for _, order, _ in part])
        return answers, span.get_span_context()


def _record(order_id: str, outcome: Outcome | None) -> None:
    if outcome is None or isinstance(outcome, Retry):
        return  # the consumer loop logs retries and dead letters
    for output in outcome.outputs:
        event = output.event
        if isinstance(event, OrderConfirmed):
            PAYMENTS_SETTLED.labels("confirmed").inc()
            log.info("order %s confirmed by charge %s", order_id, event.charge_id)
        elif isinstance(event, OrderDeclined):
            # Bounded label values: the bank's decline codes are in the log, not the metric.
            failed = event.decline_code == PAYMENT_FAILED
            PAYMENTS_SETTLED.labels("payment_failed" if failed else "declined").inc()
            log.info("order %s declined: %s", order_id, event.decline_code)


def payment_service(config: TransactionsConfig) -> ConsumerService:
    """The payment service as a consumer: `order` in, charge results out, with a bank client
    opened in the consumer's event loop."""

    @asynccontextmanager
    async def open_handler() -> AsyncIterator[Handler]:
        async with BankClient(
            config.bank_url,
            api_key=config.bank_api_key,
            ca_file=config.bank_ca_file,
            max_connections=config.concurrency,
        ) as bank:
            yield PaymentHandler(bank, config.outputs, config.concurrency, config.charge_chunk)

    return ConsumerService("transactions", config.reading, open_handler)


def serve(settings: Settings) -> None:
    """Run the payment service until SIGTERM/SIGINT, with /healthz, /readyz and /metrics."""
    # httpx logs every request at INFO: a thousand lines a second at full speed.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    instrument_httpx()
    config = TransactionsConfig.from_settings(settings)
    log.info("payment service: bank at %s", config.bank_url)
    serve_consumer(payment_service(config), settings, settings.transactions_health_port)
