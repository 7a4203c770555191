"""The mailer's composition root: build the clients, then consume `order_confirm` until stopped."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.events import ORDER_CONFIRM
from kafka_restaurants.mailer.confirmations import ConfirmationMailer, MailSettings
from kafka_restaurants.mailer.records import SentRecords
from kafka_restaurants.mailer.smtp import SmtpConfig, SmtpSender
from kafka_restaurants.messaging.consumer import ConsumerSettings, EventConsumer
from kafka_restaurants.messaging.outcomes import Incoming, Outcome
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.observability import setup_tracing
from kafka_restaurants.runtime import HealthServer, configure_logging, stop_on_signals
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

GROUP_ID = "confirmation-service"


@dataclass
class MailerProcess:
    """Everything the running mailer holds, so that it can be stopped and closed."""

    consumer: EventConsumer
    sender: SmtpSender
    engine: Engine

    def run(self) -> None:
        """Consume until stopped, then close SMTP connections and the database (blocking)."""
        try:
            self.consumer.run()
        finally:
            self.sender.close()
            self.engine.dispose()

    def stop(self) -> None:
        """Finish the current batch and return from run()."""
        self.consumer.stop()


def smtp_config(settings: Settings) -> SmtpConfig:
    """SMTP server, TLS and login from the settings."""
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls,
        user=settings.smtp_user or None,
        password=settings.smtp_password,
    )


def build_mailer(
    settings: Settings,
    *,
    group_id: str = GROUP_ID,
    topic: str = ORDER_CONFIRM,
    backoff_base: float = 0.2,
    backoff_cap: float = 30.0,
) -> MailerProcess:
    """Wire the consumer, SMTP sender and sent-record; connects to nothing until run()."""
    engine = create_db_engine(settings.mailer_db_url)
    sender = SmtpSender(smtp_config(settings))
    mailer = ConfirmationMailer(
        SentRecords(engine),
        sender,
        MailSettings(mail_from=settings.mail_from, public_base_url=settings.public_base_url),
    )

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        return await asyncio.to_thread(mailer.handle_batch, batch)

    consumer = EventConsumer(
        ConsumerSettings(
            settings.bootstrap_servers,
            group_id=group_id,
            topics=(topic,),
            transactional=False,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_attempts=settings.mailer_max_delivery_attempts,
            security=client_security(settings),
        ),
        handle,
    )
    return MailerProcess(consumer=consumer, sender=sender, engine=engine)


def serve(settings: Settings) -> None:
    """Run the mailer in the foreground until SIGTERM / SIGINT."""
    configure_logging(settings.log_level, settings.log_format, "mailer")
    setup_tracing("mailer")
    migrate("mailer", settings.mailer_db_url)
    process = build_mailer(settings)
    health = HealthServer(
        "mailer", settings.host, settings.mailer_health_port, lambda: process.consumer.running
    )
    stop_on_signals(process)
    health.start()
    log.info(
        "mailer sending through %s:%d as %s",
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
    )
    try:
        process.run()
    finally:
        health.stop()
