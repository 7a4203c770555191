"""At most one "on its way" email per delivered order, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.events import ORDER_STATUS, OrderStatusChanged, OrderStep, encode
from kafka_restaurants.mailer.confirmations import ConfirmationMailer, MailSettings
from kafka_restaurants.mailer.delivery_notices import (
    DeliveryNotices,
    NoticeClaims,
)
from kafka_restaurants.mailer.records import SentRecords
from kafka_restaurants.mailer.smtp import SendFailed
from kafka_restaurants.messaging.consumer import Handler
from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Retry
from kafka_restaurants.messaging.service import by_topic
from tests.unit.mailer.test_confirmations import ScriptedTransport
from tests.unit.mailer.test_confirmations import message as confirmation

SITE = "http://shop.example"
MAIL_FROM = "Shop <orders@shop.example>"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    migrate("mailer", database_url)
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def step(order_id: str, which: OrderStep, offset: int = 0) -> Incoming:
    encoded = encode(OrderStatusChanged(order_id=order_id, restaurant_id=7, step=which))
    return Incoming(ORDER_STATUS, 0, offset, encoded.key, encoded.value, list(encoded.headers))


def handler(engine: Engine, transport: ScriptedTransport) -> Handler:
    records = SentRecords(engine)
    confirmations = ConfirmationMailer(records, transport, MailSettings(MAIL_FROM, SITE))
    notices = DeliveryNotices(records, NoticeClaims(engine), transport, MAIL_FROM, SITE)
    return by_topic(confirmations, {ORDER_STATUS: notices})


def test_one_email_when_out_for_delivery_and_never_a_second(engine: Engine) -> None:
    transport = ScriptedTransport()
    mail = handler(engine, transport)
    early = asyncio.run(mail([step("o-1", OrderStep.OUT_FOR_DELIVERY)]))
    assert isinstance(early[0], Retry) and "waiting for its confirmation" in early[0].reason
    batch = [
        confirmation("o-1", email="dana@example.com"),
        step("o-1", OrderStep.ACCEPTED),
        step("o-1", OrderStep.READY),
        step("o-1", OrderStep.OUT_FOR_DELIVERY),
        step("o-1", OrderStep.OUT_FOR_DELIVERY),  # pressed twice
        Incoming(ORDER_STATUS, 0, 9, b"x", b"{", []),
    ]
    outcomes = asyncio.run(mail(batch))
    assert [type(o) for o in outcomes] == [Done, Done, Done, Done, Done, DeadLetter]
    assert asyncio.run(mail(batch[3:5])) == [Done(), Done()]  # a replay sends nothing
    notices = [m for m in transport.sent if "on its way" in str(m.message["Subject"])]
    assert len(notices) == 1 and notices[0].recipient == "dana@example.com"
    assert f"{SITE}/orders/o-1" in notices[0].message.get_content()
    assert len(transport.sent) == 2  # the confirmation and the one notice


def test_a_transient_smtp_failure_gives_the_claim_back_and_retries(engine: Engine) -> None:
    transport = ScriptedTransport()
    mail = handler(engine, transport)
    asyncio.run(mail([confirmation("o-2", email="eli@example.com")]))
    transport.answers["eli@example.com"] = SendFailed("421 try later", permanent=False)
    [retry] = asyncio.run(mail([step("o-2", OrderStep.OUT_FOR_DELIVERY)]))
    assert isinstance(retry, Retry) and "421" in retry.reason
    del transport.answers["eli@example.com"]
    assert asyncio.run(mail([step("o-2", OrderStep.OUT_FOR_DELIVERY)])) == [Done()]
    assert [m.recipient for m in transport.sent] == ["eli@example.com", "eli@example.com"]


def test_a_claim_left_by_a_crash_is_never_sent_again(engine: Engine) -> None:
    transport = ScriptedTransport()
    mail = handler(engine, transport)
    asyncio.run(mail([confirmation("o-3", email="noa@example.com")]))
    assert NoticeClaims(engine).claim("o-3", "out_for_delivery")  # the crashed mailer's claim
    assert asyncio.run(mail([step("o-3", OrderStep.OUT_FOR_DELIVERY)])) == [Done()]
    assert [m.recipient for m in transport.sent] == ["noa@example.com"]  # the confirmation only
