"""The mailer's composition root: build the clients, then consume `order_confirm` (and
`order_status`) until stopped."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.events import ORDER_CONFIRM, ORDER_STATUS
from kafka_restaurants.mailer.confirmations import ConfirmationMailer, MailSettings
from kafka_restaurants.mailer.delivery_notices import DeliveryNotices, NoticeClaims
from kafka_restaurants.mailer.records import SentRecords
from kafka_restaurants.mailer.smtp import SmtpConfig, SmtpSender
from kafka_restaurants.messaging.consumer import ConsumerSettings, Handler
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.messaging.service import ConsumerService, by_topic, serve_consumer
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

GROUP_ID = "confirmation-service"


def smtp_config(settings: Settings) -> SmtpConfig:
    """SMTP server, TLS and login from the settings."""
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls,
        user=settings.smtp_user or None,
        password=settings.smtp_password,
    )


def mailer_service(
    settings: Settings,
    *,
    group_id: str = GROUP_ID,
    topic: str = ORDER_CONFIRM,
    status_topic: str = ORDER_STATUS,
    backoff_base: float = 0.2,
    backoff_cap: float = 30.0,
) -> ConsumerService:
    """The mailer as a consumer: `order_confirm` in, one email per order out (and `order_status`
    in, at most one "on its way" email per delivered order). Its database
    engine and SMTP connections are opened with the handler and closed when consuming ends."""

    @asynccontextmanager
    async def open_handler() -> AsyncIterator[Handler]:
        engine = create_db_engine(settings.mailer_db_url)
        sender = SmtpSender(smtp_config(settings))
        records = SentRecords(engine)
        try:
            confirmations = ConfirmationMailer(
                records,
                sender,
                MailSettings(
                    mail_from=settings.mail_from, public_base_url=settings.public_base_url
                ),
            )
            notices = DeliveryNotices(
                records,
                NoticeClaims(engine),
                sender,
                settings.mail_from,
                settings.public_base_url,
            )
            yield by_topic(confirmations, {status_topic: notices})
        finally:
            sender.close()
            engine.dispose()

    consumer = ConsumerSettings(
        settings.bootstrap_servers,
        group_id=group_id,
        # The kitchen's steps too: one email when an order is out for delivery.
        topics=(topic, status_topic),
        transactional=False,
        backoff_base=backoff_base,
        backoff_cap=backoff_cap,
        max_attempts=settings.mailer_max_delivery_attempts,
        security=client_security(settings),
    )
    return ConsumerService("mailer", consumer, open_handler)


def serve(settings: Settings) -> None:
    """Run the mailer in the foreground until SIGTERM / SIGINT."""
    migrate("mailer", settings.mailer_db_url)
    log.info(
        "mailer sending through %s:%d as %s",
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
    )
    serve_consumer(mailer_service(settings), settings, settings.mailer_health_port)
