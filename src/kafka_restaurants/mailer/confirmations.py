"""Handling a batch of OrderConfirmed events: skip what was sent, send the rest, record, decide.

Per order: already recorded -> Done (a duplicate); sent -> recorded, then Done; refused for
good (5xx) -> recorded as failed, then Done; SMTP trouble -> Retry, nothing recorded, so the
offset stays uncommitted; sent but not recorded -> Retry, and the rest of the batch waits; not
a valid event -> DeadLetter. Each message is recorded as soon as the server has answered for it,
not after the batch, so a crash resends at most the messages whose answer was still being
recorded (one per SMTP connection). The offset commits only after the consumer loop has our
outcomes, so a mail is recorded before its message is moved past.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import Counter

from kafka_restaurants.events import InvalidEvent, OrderConfirmed, decode
from kafka_restaurants.mailer.records import FAILED, SENT, ConfirmationRecord
from kafka_restaurants.mailer.rendering import (
    build_confirmation,
    envelope_sender,
    message_id_for,
)
from kafka_restaurants.mailer.smtp import OutgoingMail, ResultHandler, SendFailed, SendResult, Sent
from kafka_restaurants.mailer.tables import ORDER_ID_MAX
from kafka_restaurants.messaging.outcomes import (
    Cause,
    DeadLetter,
    Done,
    Incoming,
    Outcome,
    Retry,
    invalid,
)
from kafka_restaurants.messaging.telemetry import handling_message

log = logging.getLogger(__name__)

CONFIRMATIONS = Counter(
    "mailer_confirmations_total",
    "Confirmation emails by result: sent, duplicate, refused, retry, invalid",
    ["result"],
)


class Records(Protocol):
    """Where handled confirmations are remembered."""

    def handled_among(self, order_ids: Iterable[str]) -> set[str]: ...

    def record(self, records: Sequence[ConfirmationRecord]) -> None: ...


class Transport(Protocol):
    """What sends the messages."""

    def send_all(
        self, outgoing: Sequence[OutgoingMail], on_result: ResultHandler | None = None
    ) -> list[SendResult]: ...


@dataclass(frozen=True)
class MailSettings:
    """The sender address and the website the email links to."""

    mail_from: str
    public_base_url: str


def parse_confirmation(message: Incoming) -> OrderConfirmed:
    """The OrderConfirmed in `message`, or InvalidEvent saying why it is not one we can mail."""
    event = decode(message.value, message.headers, OrderConfirmed)
    if len(event.order_id) > ORDER_ID_MAX or not event.order_id.strip():
        raise InvalidEvent(f"order_id must be 1..{ORDER_ID_MAX} characters")
    return event


class ConfirmationMailer:
    """Turns OrderConfirmed messages into one confirmation email per order."""

    def __init__(
        self,
        records: Records,
        transport: Transport,
        mail: MailSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.records = records
        self.transport = transport
        self.mail = mail
        self.clock = clock
        # Sent (the SMTP server took them) while the database could not record them: stored
        # before anything else is sent, so a retry of their messages does not send them again.
        self.unrecorded: dict[str, ConfirmationRecord] = {}

    async def __call__(self, batch: list[Incoming]) -> list[Outcome]:
        """The consumer's handler: SMTP and the database block, so the batch runs on a thread."""
        return await asyncio.to_thread(self.handle_batch, batch)

    def handle_batch(self, batch: list[Incoming]) -> list[Outcome]:
        """One outcome per message of `batch`, in order."""
        outcomes: list[Outcome | None] = [None] * len(batch)
        events: dict[int, OrderConfirmed] = {}
        for index, message in enumerate(batch):
            try:
                events[index] = parse_confirmation(message)
            except InvalidEvent as exc:
                CONFIRMATIONS.labels("invalid").inc()
                outcomes[index] = invalid(exc)
        if not events:
            return [o for o in outcomes if o is not None]

        try:
            self._record_earlier_sends()
            handled = self.records.handled_among(e.order_id for e in events.values())
        except Exception as exc:  # the database is down: nothing can be decided yet
            log.warning("cannot read sent confirmations, will retry: %s", exc)
            return [o or Retry(f"sent-record unavailable: {exc}", Cause.DATABASE) for o in outcomes]

        first_of, to_send = self._to_send(events, handled, outcomes)
        self._send_and_record(batch, to_send, outcomes)

        for index, event in events.items():
            if outcomes[index] is None:  # a later copy of an order sent in this batch
                outcomes[index] = outcomes[first_of[event.order_id]]
        return [o if o is not None else Retry("not handled") for o in outcomes]

    def _to_send(
        self,
        events: dict[int, OrderConfirmed],
        handled: set[str],
        outcomes: list[Outcome | None],
    ) -> tuple[dict[str, int], list[tuple[int, OrderConfirmed, OutgoingMail]]]:
        """The messages to send: the first of each order not handled before. Duplicates and
        messages that cannot be rendered get their outcome in `outcomes`; later copies of an
        order in the batch get none yet (they share the first one's, by `first_of`)."""
        first_of: dict[str, int] = {}
        to_send: list[tuple[int, OrderConfirmed, OutgoingMail]] = []
        for index, event in events.items():
            if event.order_id in handled:
                CONFIRMATIONS.labels("duplicate").inc()
                log.info("confirmation for order %s already handled; skipping", event.order_id)
                outcomes[index] = Done()
            elif event.order_id not in first_of:
                first_of[event.order_id] = index
                try:
                    to_send.append((index, event, self._outgoing(event)))
                except Exception as exc:  # a template bug must not stop the other orders
                    log.exception("cannot render the confirmation of order %s", event.order_id)
                    CONFIRMATIONS.labels("invalid").inc()
                    outcomes[index] = DeadLetter(
                        f"cannot render the confirmation: {exc}", cause=Cause.RENDER_FAILED
                    )
        return first_of, to_send

    def _record_earlier_sends(self) -> None:
        """Store the sends the database missed; raises while it still cannot."""
        if self.unrecorded:
            self.records.record(list(self.unrecorded.values()))
            log.info("recorded %d confirmations sent earlier", len(self.unrecorded))
            self.unrecorded.clear()

    def _send_and_record(
        self,
        batch: list[Incoming],
        to_send: list[tuple[int, OrderConfirmed, OutgoingMail]],
        outcomes: list[Outcome | None],
    ) -> None:
        """Send `to_send`, recording each message the moment the server accepts or refuses it."""
        recorded: dict[int, ConfirmationRecord] = {}
        unrecorded: dict[int, Exception] = {}

        def settle(position: int, result: SendResult) -> str | None:
            # Runs in the sender's worker thread right after the server answered, so a crash
            # from here on resends this message at most, not the rest of the batch.
            index, event, outgoing = to_send[position]
            if isinstance(result, SendFailed) and not result.permanent:
                outcomes[index] = Retry(result.reason, Cause.SMTP)
                return None
            if isinstance(result, Sent):
                record = self._record(event, outgoing, SENT)
            else:
                record = self._record(event, outgoing, FAILED, result)
            try:
                self.records.record([record])
            except Exception as exc:  # sent but not recorded: kept, and stored before any send
                unrecorded[index] = exc
                self.unrecorded[event.order_id] = record
                outcomes[index] = Retry(
                    f"could not record the sent confirmation: {exc}", Cause.DATABASE
                )
                # Each further send would be one more a retry resends.
                return f"not sent: could not record the confirmations sent before it: {exc}"
            recorded[index] = record
            outcomes[index] = Done()
            return None

        self.transport.send_all([outgoing for _, _, outgoing in to_send], settle)

        # Logs and counts here, on the handler's thread, which carries the consumer's spans.
        if unrecorded:
            log.error(
                "could not record %d sent confirmations: %s",
                len(unrecorded),
                next(iter(unrecorded.values())),
            )
        for index, event, _ in to_send:
            record = recorded.get(index)
            if record is None:
                if isinstance(outcomes[index], Retry):
                    CONFIRMATIONS.labels("retry").inc()
            elif record.status == SENT:
                CONFIRMATIONS.labels(SENT).inc()
                with handling_message(batch[index]):
                    log.info("confirmation sent for order %s", event.order_id)
            else:
                CONFIRMATIONS.labels("refused").inc()
                log.warning(
                    "confirmation for order %s refused for good: %s", event.order_id, record.error
                )

    def _outgoing(self, event: OrderConfirmed) -> OutgoingMail:
        message = build_confirmation(event, self.mail.mail_from, self.mail.public_base_url)
        return OutgoingMail(
            message=message,
            sender=envelope_sender(self.mail.mail_from),
            recipient=event.order.customer.email,
        )

    def _record(
        self,
        event: OrderConfirmed,
        outgoing: OutgoingMail,
        status: str,
        failure: SendFailed | None = None,
    ) -> ConfirmationRecord:
        return ConfirmationRecord(
            order_id=event.order_id,
            message_id=message_id_for(event.order_id),
            recipient=outgoing.recipient,
            status=status,
            sent_at=self.clock(),
            error=failure.reason[:2000] if failure else None,
        )
