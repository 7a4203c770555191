"""The mailer's decisions for a batch, with an in-memory record and a scripted transport."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pytest

from kafka_restaurants.mailer.confirmations import ConfirmationMailer, MailSettings
from kafka_restaurants.mailer.records import ConfirmationRecord
from kafka_restaurants.mailer.smtp import OutgoingMail, ResultHandler, SendFailed, SendResult, Sent
from kafka_restaurants.messaging.outcomes import Cause, DeadLetter, Done, Incoming, Retry
from tests.unit.mailer.samples import confirmed

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryRecords:
    def __init__(self, fail: bool = False) -> None:
        self.rows: dict[str, ConfirmationRecord] = {}
        self.fail = fail

    def handled_among(self, order_ids: Iterable[str]) -> set[str]:
        return {order_id for order_id in order_ids if order_id in self.rows}

    def record(self, records: Sequence[ConfirmationRecord]) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        for record in records:
            self.rows.setdefault(record.order_id, record)


class ProcessDied(BaseException):
    """What a kill -9 is to the code that was running: nothing after it happens."""


class ScriptedTransport:
    """Answers per recipient: Sent unless `answers` says otherwise; each result is handed over
    as it comes, like SmtpSender does; the process dies once `dies_at` messages were sent."""

    def __init__(
        self, answers: dict[str, SendResult] | None = None, dies_at: int | None = None
    ) -> None:
        self.answers = answers or {}
        self.dies_at = dies_at
        self.sent: list[OutgoingMail] = []

    def send_all(
        self, outgoing: Sequence[OutgoingMail], on_result: ResultHandler | None = None
    ) -> list[SendResult]:
        results: list[SendResult] = []
        stopped: SendFailed | None = None
        for position, item in enumerate(outgoing):
            result = stopped or self.answers.get(item.recipient, Sent())
            if isinstance(result, Sent):
                self.sent.append(item)
                if len(self.sent) == self.dies_at:
                    raise ProcessDied  # the server took it; the mailer never heard back
            if on_result is not None:
                stop = on_result(position, result)
                if stop is not None and stopped is None:
                    stopped = SendFailed(stop)
            results.append(result)
        return results


def message(order_id: str, email: str = "dana@example.com", offset: int = 0) -> Incoming:
    event = confirmed(order_id, email=email)
    return Incoming(
        topic="order_confirm",
        partition=0,
        offset=offset,
        key=order_id.encode(),
        value=event.model_dump_json().encode(),
        headers=[("event_type", b"OrderConfirmed")],
    )


def mailer(records: MemoryRecords, transport: ScriptedTransport) -> ConfirmationMailer:
    settings = MailSettings(mail_from="Shop <shop@example.com>", public_base_url="http://web")
    return ConfirmationMailer(records, transport, settings, clock=lambda: NOW)


def test_sends_records_and_completes_each_new_order() -> None:
    records, transport = MemoryRecords(), ScriptedTransport()
    outcomes = mailer(records, transport).handle_batch([message("o1"), message("o2", offset=1)])
    assert outcomes == [Done(), Done()]
    assert [item.message["Message-ID"] for item in transport.sent] == [
        "<order-o1@kafka-restaurants>",
        "<order-o2@kafka-restaurants>",
    ]
    assert transport.sent[0].sender == "shop@example.com"
    assert transport.sent[0].recipient == "dana@example.com"
    assert records.rows["o1"] == ConfirmationRecord(
        order_id="o1",
        message_id="<order-o1@kafka-restaurants>",
        recipient="dana@example.com",
        status="sent",
        sent_at=NOW,
    )


def test_an_order_already_recorded_is_skipped() -> None:
    records, transport = MemoryRecords(), ScriptedTransport()
    handler = mailer(records, transport)
    handler.handle_batch([message("o1")])
    assert handler.handle_batch([message("o1", offset=1)]) == [Done()]
    assert len(transport.sent) == 1


def test_the_same_order_twice_in_one_batch_is_sent_once() -> None:
    records, transport = MemoryRecords(), ScriptedTransport()
    outcomes = mailer(records, transport).handle_batch([message("o1"), message("o1", offset=1)])
    assert outcomes == [Done(), Done()]
    assert len(transport.sent) == 1


def test_transient_failure_retries_and_records_nothing() -> None:
    records = MemoryRecords()
    transport = ScriptedTransport({"dana@example.com": SendFailed("SMTP unreachable")})
    outcomes = mailer(records, transport).handle_batch([message("o1"), message("o1", offset=1)])
    assert outcomes == [Retry("SMTP unreachable", Cause.SMTP)] * 2
    assert records.rows == {}


def test_permanent_refusal_is_recorded_as_failed_and_completed() -> None:
    records = MemoryRecords()
    refused = SendFailed("recipient refused: 550 no such user", permanent=True)
    transport = ScriptedTransport({"nobody@example.com": refused})
    outcomes = mailer(records, transport).handle_batch(
        [message("o1", email="nobody@example.com"), message("o2", offset=1)]
    )
    assert outcomes == [Done(), Done()]
    assert records.rows["o1"].status == "failed"
    assert records.rows["o1"].error == "recipient refused: 550 no such user"
    assert records.rows["o2"].status == "sent"


def test_invalid_messages_are_dead_lettered_and_the_rest_sent() -> None:
    records, transport = MemoryRecords(), ScriptedTransport()
    garbage = Incoming("order_confirm", 0, 0, b"x", b"{not json", [])
    wrong_type = Incoming(
        "order_confirm", 0, 1, b"y", message("y").value, [("event_type", b"OrderDeclined")]
    )
    batch = [garbage, wrong_type, message("o1", offset=2)]
    outcomes = mailer(records, transport).handle_batch(batch)
    assert isinstance(outcomes[0], DeadLetter)
    assert "not a valid OrderConfirmed" in outcomes[0].reason
    assert isinstance(outcomes[1], DeadLetter) and "event_type" in outcomes[1].reason
    assert outcomes[2] == Done()
    assert list(records.rows) == ["o1"]


def test_an_unrecordable_send_is_retried() -> None:
    records, transport = MemoryRecords(fail=True), ScriptedTransport()
    [outcome] = mailer(records, transport).handle_batch([message("o1")])
    assert isinstance(outcome, Retry) and "could not record" in outcome.reason


def test_a_crash_after_a_send_resends_only_the_message_not_yet_recorded() -> None:
    records = MemoryRecords()
    batch = [message(f"o{i}", offset=i) for i in range(6)]
    dying = ScriptedTransport(dies_at=4)  # o3 accepted, then the process is killed
    with pytest.raises(ProcessDied):
        mailer(records, dying).handle_batch(batch)

    restarted = ScriptedTransport()
    assert mailer(records, restarted).handle_batch(batch) == [Done()] * 6
    assert [item.message["Message-ID"] for item in restarted.sent] == [
        "<order-o3@kafka-restaurants>",  # the one accepted but not yet recorded: sent twice
        "<order-o4@kafka-restaurants>",
        "<order-o5@kafka-restaurants>",
    ]


def test_a_send_that_cannot_be_recorded_holds_back_the_rest_of_the_batch() -> None:
    records, transport = MemoryRecords(fail=True), ScriptedTransport()
    batch = [message("o1"), message("o2", offset=1), message("o1", offset=2)]
    first, second, copy = mailer(records, transport).handle_batch(batch)
    assert len(transport.sent) == 1  # each further send would be one more to resend
    assert isinstance(first, Retry) and "could not record" in first.reason
    assert isinstance(second, Retry) and second.reason.startswith("not sent: could not record")
    assert copy == first


def test_a_send_the_database_missed_is_recorded_on_retry_not_sent_again() -> None:
    # The chaos run's database outage caught the SMTP server taking a message: the retry
    # of that message must store the send, not repeat it.
    records, transport = MemoryRecords(fail=True), ScriptedTransport()
    handler = mailer(records, transport)
    batch = [message("o1"), message("o2", offset=1)]
    assert all(isinstance(o, Retry) for o in handler.handle_batch(batch))
    assert len(transport.sent) == 1
    # Still down: nothing is sent while the earlier send cannot be stored.
    assert all(isinstance(o, Retry) for o in handler.handle_batch(batch))
    assert len(transport.sent) == 1
    records.fail = False
    assert handler.handle_batch(batch) == [Done(), Done()]
    assert [item.recipient for item in transport.sent] == ["dana@example.com"] * 2
    assert [item.message["Message-ID"] for item in transport.sent] == [
        "<order-o1@kafka-restaurants>",
        "<order-o2@kafka-restaurants>",
    ]
    assert sorted(records.rows) == ["o1", "o2"] and records.rows["o1"].status == "sent"
