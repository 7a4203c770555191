"""The mailer against a real broker and a real SMTP server: one email per confirmed order."""

from __future__ import annotations

from email.message import EmailMessage

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy import create_engine

from kafka_restaurants.mailer.records import SentRecords
from kafka_restaurants.messaging.settlement import MESSAGES
from tests.fixtures.components import free_port, wait_for
from tests.fixtures.kafka_io import consume_all, produce
from tests.integration.mailer.conftest import (
    InboxHandler,
    SmtpInbox,
    StartMailer,
    committed,
    record,
    settle_and_count,
)


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_confirmed_order_mails_the_customer_once(
    kafka_bootstrap: str,
    order_topic: str,
    group_id: str,
    smtp_inbox: SmtpInbox,
    start_mailer: StartMailer,
    database_url: str,
) -> None:
    start_mailer(smtp_inbox.port, database_url)
    produce(kafka_bootstrap, order_topic, [record("order-happy")])

    wait_for(lambda: smtp_inbox.messages(), what="the confirmation email")
    wait_for(lambda: committed(kafka_bootstrap, group_id, order_topic) == 1, what="offset commit")
    [received] = smtp_inbox.messages()
    assert received.rcpt_tos == ["dana@example.com"]
    assert received.mail_from == "orders@kafka-restaurants.test"
    message = received.message
    assert message["Subject"] == "Your order from Falafel Haifa is confirmed (#orderhap)"
    assert message["Message-ID"] == "<order-order-happy@kafka-restaurants>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = text_and_html(message)
    for body in (text, html):
        assert "Falafel plate" in body and "Lemonade" in body
        assert "₪54.50" in body
        assert "http://shop.test/orders/order-happy" in body
    assert "2 x Falafel plate  ₪42.00" in text

    stored = SentRecords(create_engine(database_url)).get("order-happy")
    assert stored is not None and stored.status == "sent"
    assert stored.recipient == "dana@example.com"
    assert stored.message_id == "<order-order-happy@kafka-restaurants>"


def test_duplicates_and_a_replay_of_the_same_group_send_one_email(
    kafka_bootstrap: str,
    order_topic: str,
    group_id: str,
    smtp_inbox: SmtpInbox,
    start_mailer: StartMailer,
    sqlite_url: str,
) -> None:
    produce(kafka_bootstrap, order_topic, [record("order-dup"), record("order-dup")])
    first = start_mailer(smtp_inbox.port, sqlite_url)
    wait_for(lambda: committed(kafka_bootstrap, group_id, order_topic) == 2, what="both handled")
    assert len(smtp_inbox.messages()) == 1
    first.stop()

    # The same consumer group reads the topic again from the start.
    rewind = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group_id})
    try:
        rewind.commit(offsets=[TopicPartition(order_topic, 0, 0)], asynchronous=False)
    finally:
        rewind.close()
    assert committed(kafka_bootstrap, group_id, order_topic) == 0

    start_mailer(smtp_inbox.port, sqlite_url)
    wait_for(lambda: committed(kafka_bootstrap, group_id, order_topic) == 2, what="replay handled")
    assert settle_and_count(smtp_inbox) == 1


def test_smtp_down_is_retried_then_sent_once(
    kafka_bootstrap: str,
    order_topic: str,
    group_id: str,
    start_mailer: StartMailer,
    sqlite_url: str,
) -> None:
    port = free_port()  # nothing listens here yet
    start_mailer(port, sqlite_url)
    produce(kafka_bootstrap, order_topic, [record("order-retry")])

    def retries() -> float:
        labels = {"group": group_id, "topic": order_topic, "outcome": "retry"}
        return REGISTRY.get_sample_value(f"{MESSAGES._name}_total", labels) or 0.0

    wait_for(lambda: retries() >= 3, what="several retries while SMTP is down")
    assert committed(kafka_bootstrap, group_id, order_topic) < 0, "committed before sending"
    assert SentRecords(create_engine(sqlite_url)).get("order-retry") is None

    inbox = SmtpInbox(port, InboxHandler())
    inbox.start()
    try:
        wait_for(lambda: inbox.messages(), what="the email once SMTP is up")
        wait_for(lambda: committed(kafka_bootstrap, group_id, order_topic) == 1, what="commit")
        assert settle_and_count(inbox) == 1
        assert inbox.messages()[0].rcpt_tos == ["dana@example.com"]
    finally:
        inbox.stop()


def test_garbage_goes_to_the_dead_letter_topic_and_the_next_order_is_mailed(
    kafka_bootstrap: str,
    order_topic: str,
    group_id: str,
    smtp_inbox: SmtpInbox,
    start_mailer: StartMailer,
    sqlite_url: str,
) -> None:
    produce(
        kafka_bootstrap,
        order_topic,
        [(b"junk", b"\x00not json at all", None), record("order-after-junk")],
    )
    start_mailer(smtp_inbox.port, sqlite_url)

    [dead] = consume_all(kafka_bootstrap, f"{order_topic}.DLQ", expected=1)
    assert dead.value() == b"\x00not json at all"
    headers = dict(dead.headers() or [])
    assert b"not a valid OrderConfirmed" in headers["dlq.error"]
    assert headers["dlq.consumer_group"] == group_id.encode()
    wait_for(lambda: smtp_inbox.messages(), what="the valid order's email")
    wait_for(lambda: committed(kafka_bootstrap, group_id, order_topic) == 2, what="commit")
    [received] = smtp_inbox.messages()
    assert received.message["Message-ID"] == "<order-order-after-junk@kafka-restaurants>"


def test_a_refused_recipient_is_recorded_as_failed_and_not_retried(
    kafka_bootstrap: str,
    order_topic: str,
    group_id: str,
    smtp_inbox: SmtpInbox,
    start_mailer: StartMailer,
    sqlite_url: str,
) -> None:
    produce(
        kafka_bootstrap,
        order_topic,
        [record("order-bad", email="nobody@example.com"), record("order-good")],
    )
    start_mailer(smtp_inbox.port, sqlite_url)

    wait_for(lambda: committed(kafka_bootstrap, group_id, order_topic) == 2, what="both handled")
    [received] = smtp_inbox.messages()
    assert received.rcpt_tos == ["dana@example.com"]
    records = SentRecords(create_engine(sqlite_url))
    refused = records.get("order-bad")
    assert refused is not None and refused.status == "failed"
    assert refused.error is not None and "550" in refused.error
    good = records.get("order-good")
    assert good is not None and good.status == "sent"
