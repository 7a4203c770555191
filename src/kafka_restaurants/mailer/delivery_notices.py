"""One email when an order is out for delivery, at most once per order.

The customer's address is the one its confirmation went to (the mailer's own record):
`order_status` carries no personal data. A notice is claimed in the database before it is
sent and never sent again once claimed, so a crash mid-send loses that notice rather than
sending it twice; a transient SMTP failure gives the claim back and retries. Other steps
("accepted", "ready") are not mailed: the customer watches those on the order page.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.message import EmailMessage

from prometheus_client import Counter
from sqlalchemy import Engine, delete, update

from kafka_restaurants.db.engine import conflict_insert
from kafka_restaurants.events import (
    InvalidEvent,
    OrderStatusChanged,
    OrderStep,
    decode,
)
from kafka_restaurants.mailer.confirmations import Transport
from kafka_restaurants.mailer.records import FAILED, SENT, SentRecords
from kafka_restaurants.mailer.rendering import (
    envelope_sender,
    message_id_for,
    order_url,
    short_order_number,
)
from kafka_restaurants.mailer.smtp import OutgoingMail, SendFailed, Sent
from kafka_restaurants.mailer.tables import ORDER_ID_MAX, SentNotice
from kafka_restaurants.messaging.outcomes import (
    Cause,
    DeadLetter,
    Done,
    Incoming,
    Outcome,
    Retry,
    invalid,
)

log = logging.getLogger(__name__)

OUT_FOR_DELIVERY = OrderStep.OUT_FOR_DELIVERY.value
SENDING = "sending"
NOTICES = Counter(
    "mailer_delivery_notices_total",
    "Out-for-delivery emails by result: sent, duplicate, refused, retry, skipped",
    ["result"],
)


class NoticeClaims:
    """The mailer_sent_notices rows: claim, settle, or give a claim back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # RETURNING says whether a row went in (psycopg reports no rowcount for this insert).
        self._claim = (
            conflict_insert(engine, SentNotice)
            .on_conflict_do_nothing(index_elements=["order_id", "kind"])
            .returning(SentNotice.order_id)
        )

    def claim(self, order_id: str, kind: str) -> bool:
        """True when this call claimed the notice; False when it was claimed before."""
        row = {"order_id": order_id, "kind": kind, "status": SENDING, "updated_at": _now()}
        with self.engine.begin() as conn:
            return conn.execute(self._claim, row).first() is not None

    def settle(self, order_id: str, kind: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(SentNotice)
                .where(SentNotice.order_id == order_id, SentNotice.kind == kind)
                .values(status=status, updated_at=_now())
            )

    def give_back(self, order_id: str, kind: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(SentNotice).where(SentNotice.order_id == order_id, SentNotice.kind == kind)
            )


def _now() -> datetime:
    return datetime.now(UTC)


def out_for_delivery_message(
    order_id: str, recipient: str, mail_from: str, site: str
) -> EmailMessage:
    """The plain-text email that says the order is on its way."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = recipient
    message["Subject"] = f"Your order is on its way (#{short_order_number(order_id)})"
    message["In-Reply-To"] = message_id_for(order_id)  # threads under the confirmation
    message.set_content(
        "Good news: your order has left the restaurant and is on its way to you.\n\n"
        f"Follow it here: {order_url(site, order_id)}\n"
    )
    return message


class DeliveryNotices:
    """Handles `order_status` messages for the mailer (blocking; the caller runs it on a thread)."""

    def __init__(
        self,
        confirmations: SentRecords,
        claims: NoticeClaims,
        sender: Transport,
        mail_from: str,
        site: str,
    ) -> None:
        self.confirmations = confirmations
        self.claims = claims
        self.sender = sender
        self.mail_from = mail_from
        self.site = site

    async def __call__(self, batch: list[Incoming]) -> list[Outcome]:
        """The consumer's handler for `order_status`: SMTP and the database block, so the batch
        runs on a thread."""
        return await asyncio.to_thread(self.handle_batch, batch)

    def handle_batch(self, batch: list[Incoming]) -> list[Outcome]:
        """One outcome per message, in order."""
        return [self._handle(message) for message in batch]

    def _handle(self, message: Incoming) -> Outcome:
        try:
            event = decode(message.value, message.headers, OrderStatusChanged)
        except InvalidEvent as exc:
            return invalid(exc)
        if event.step is not OrderStep.OUT_FOR_DELIVERY:
            return Done()
        if not 0 < len(event.order_id) <= ORDER_ID_MAX:
            return DeadLetter(
                f"order_id must be 1..{ORDER_ID_MAX} characters", cause=Cause.INVALID_EVENT
            )
        try:
            return self._notify(event.order_id)
        except Exception as exc:  # the database is down: decide later
            log.warning("cannot handle the delivery notice of %s: %s", event.order_id, exc)
            return Retry(f"database: {exc}", Cause.DATABASE)

    def _notify(self, order_id: str) -> Outcome:
        confirmation = self.confirmations.get(order_id)
        if confirmation is None:  # its confirmation (another topic) is not mailed yet
            NOTICES.labels("retry").inc()
            return Retry(
                f"order {order_id}: waiting for its confirmation to be mailed", Cause.WAITING
            )
        if confirmation.status != SENT:  # the address was refused for good
            NOTICES.labels("skipped").inc()
            return Done()
        if not self.claims.claim(order_id, OUT_FOR_DELIVERY):
            NOTICES.labels("duplicate").inc()
            return Done()
        message = out_for_delivery_message(
            order_id, confirmation.recipient, self.mail_from, self.site
        )
        outgoing = OutgoingMail(message, envelope_sender(self.mail_from), confirmation.recipient)
        [result] = self.sender.send_all([outgoing])
        if isinstance(result, SendFailed) and not result.permanent:
            self.claims.give_back(order_id, OUT_FOR_DELIVERY)
            NOTICES.labels("retry").inc()
            return Retry(result.reason, Cause.SMTP)
        status = SENT if isinstance(result, Sent) else FAILED
        self.claims.settle(order_id, OUT_FOR_DELIVERY, status)
        NOTICES.labels(status if status == SENT else "refused").inc()
        return Done()
