"""Sending over SMTP: a few persistent connections shared by worker threads; what failures mean.

Each result is handed to the caller's `on_result` in the worker thread that got it, as soon as
the server has answered: the caller can record one message while the others are still going.

Failures fall in two kinds. Transient ones (server unreachable, timeouts, 4xx replies, a From
address the server refuses) keep the message for a retry. Permanent ones concern the message
itself (a 5xx refusal of the recipient or of the content): retrying would never help.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message

log = logging.getLogger(__name__)

# A fixed EHLO name: smtplib would otherwise call socket.getfqdn(), which can stall on a
# machine without DNS.
EHLO_NAME = "mailer.kafka-restaurants.local"


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to reach the SMTP server."""

    host: str
    port: int
    use_tls: bool = False
    user: str | None = None
    password: str | None = None
    timeout: float = 10.0
    # How long a message in flight waits for the server's answer. Giving up on the answer to
    # the end of the data does not unsend it: a server that was only slow (or paused) stores it
    # and the retry mails it again. RFC 5321 allows the server 10 minutes there; we wait 2,
    # well inside the consumer's poll interval, while a new connection still gives up after
    # `timeout`.
    send_timeout: float = 120.0
    connections: int = 8


@dataclass(frozen=True)
class OutgoingMail:
    """A message and its envelope."""

    message: Message
    sender: str
    recipient: str


@dataclass(frozen=True)
class Sent:
    """The server accepted the message."""


@dataclass(frozen=True)
class SendFailed:
    """The server did not take the message; `permanent` means retrying cannot help."""

    reason: str
    permanent: bool = False


SendResult = Sent | SendFailed

# Told (position in the batch, result) by the worker thread that got the result, before send_all
# returns. A reason it answers stops the batch: messages not yet sent fail with it, transiently.
ResultHandler = Callable[[int, SendResult], str | None]


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def classify_send_error(exc: BaseException) -> SendFailed:
    """What an exception raised while sending one message means for that message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        permanent = bool(replies) and all(500 <= code < 600 for code, _ in replies)
        detail = "; ".join(
            f"{rcpt}: {_reply(code, msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
        return SendFailed(f"recipient refused: {detail}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # Our own From address refused is a configuration problem: keep the mail until fixed.
        return SendFailed(f"sender {exc.sender} refused: {_reply(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPDataError):
        reason = f"message refused: {_reply(exc.smtp_code, exc.smtp_error)}"
        return SendFailed(reason, permanent=500 <= exc.smtp_code < 600)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # Raised by send_message when an internationalised address needs SMTPUTF8 and the
        # server lacks it: this message can never go through that server.
        return SendFailed(f"server cannot carry this message: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendFailed(f"SMTP error: {_reply(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, TimeoutError):
        return SendFailed(f"SMTP timed out: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendFailed(f"SMTP server disconnected: {exc}")
    if isinstance(exc, OSError):
        return SendFailed(f"SMTP unreachable: {type(exc).__name__}: {exc}")
    return SendFailed(f"SMTP error: {type(exc).__name__}: {exc}")


def classify_connect_error(exc: BaseException) -> SendFailed:
    """Failing to connect, STARTTLS or log in is never about one message: always retried."""
    return SendFailed(f"cannot open an SMTP session: {classify_send_error(exc).reason}")


def _set_timeout(connection: smtplib.SMTP, seconds: float) -> None:
    # smtplib reads replies through a file made from the socket, which keeps the socket's timeout.
    if connection.sock is not None:
        connection.sock.settimeout(seconds)


def _drops_connection(exc: BaseException) -> bool:
    """Whether the connection is unusable after `exc` (anything but a per-message refusal)."""
    return not isinstance(
        exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError | smtplib.SMTPNotSupportedError
    )


class _Batch:
    """Per-batch state: once the server is unreachable or the caller says stop, the rest waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stopped: SendFailed | None = None

    def trip(self, failure: SendFailed) -> None:
        with self._lock:
            if self.stopped is None:
                self.stopped = failure


class SmtpSender:
    """Sends messages over up to `config.connections` persistent SMTP connections."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._idle: queue.LifoQueue[smtplib.SMTP | None] = queue.LifoQueue()
        for _ in range(config.connections):
            self._idle.put(None)  # a slot; it connects on first use
        self._executor = ThreadPoolExecutor(config.connections, thread_name_prefix="smtp")

    def send_all(
        self, outgoing: Sequence[OutgoingMail], on_result: ResultHandler | None = None
    ) -> list[SendResult]:
        """Send each message; one result per message, in order. Never raises for SMTP trouble."""
        batch = _Batch()
        futures = [
            self._executor.submit(self._send_one, position, item, batch, on_result)
            for position, item in enumerate(outgoing)
        ]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Say QUIT on every open connection and stop the worker threads."""
        self._executor.shutdown(wait=True)
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                break
            if connection is not None:
                _quit(connection)

    def _send_one(
        self, position: int, item: OutgoingMail, batch: _Batch, on_result: ResultHandler | None
    ) -> SendResult:
        result = self._attempt(item, batch)
        if on_result is not None:
            stop = on_result(position, result)
            if stop is not None:
                batch.trip(SendFailed(stop))
        return result

    def _attempt(self, item: OutgoingMail, batch: _Batch) -> SendResult:
        if batch.stopped is not None:
            return batch.stopped
        connection = self._idle.get()
        try:
            connection, result = self._deliver(connection, item, batch)
        finally:
            self._idle.put(connection)
        return result

    def _deliver(
        self, connection: smtplib.SMTP | None, item: OutgoingMail, batch: _Batch
    ) -> tuple[smtplib.SMTP | None, SendResult]:
        reused = connection is not None
        if connection is None:
            try:
                connection = self._connect()
            except Exception as exc:
                failure = classify_connect_error(exc)
                batch.trip(failure)
                return None, failure
        try:
            _set_timeout(connection, self.config.send_timeout)
            connection.send_message(item.message, from_addr=item.sender, to_addrs=[item.recipient])
            _set_timeout(connection, self.config.timeout)
            return connection, Sent()
        except Exception as exc:
            failure = classify_send_error(exc)
            if not _drops_connection(exc):
                return connection, failure
            connection.close()
            if reused and _is_stale_connection(exc):
                # Servers hang up on idle clients; that says nothing about the server's health.
                return self._deliver(None, item, batch)
            batch.trip(failure)
            return None, failure

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        implicit_tls = config.use_tls and config.port == 465
        connection: smtplib.SMTP
        if implicit_tls:
            connection = smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=EHLO_NAME,
                timeout=config.timeout,
                context=ssl.create_default_context(),
            )
        else:
            connection = smtplib.SMTP(
                config.host, config.port, local_hostname=EHLO_NAME, timeout=config.timeout
            )
        try:
            connection.ehlo()
            if config.use_tls and not implicit_tls:
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if config.user:
                connection.login(config.user, config.password or "")
        except BaseException:
            connection.close()
            raise
        log.debug("connected to SMTP %s:%d", config.host, config.port)
        return connection


def _is_stale_connection(exc: BaseException) -> bool:
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionResetError | BrokenPipeError)


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except Exception:  # already gone: closing is all that is left
        connection.close()
