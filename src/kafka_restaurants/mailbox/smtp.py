"""The SMTP side: an aiosmtpd server that accepts every message into the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from kafka_restaurants.mailbox.messages import parse_message
from kafka_restaurants.mailbox.store import MessageStore

log = logging.getLogger(__name__)

# A fixed greeting name: aiosmtpd would otherwise call socket.getfqdn() per connection,
# which can stall for seconds on a machine without DNS.
SERVER_NAME = "mailbox.kafka-restaurants.local"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# `<local@domain> PARAMS` with a dot-atom local part: what every ordinary client sends.
_PLAIN_PATH = re.compile(
    rf"[ \t]*<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*([^ \t(].*)?",
    re.DOTALL,
)


class InboxSMTP(SMTP):
    """aiosmtpd's SMTP with a cheap path for reading plain MAIL FROM / RCPT TO addresses."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd runs email's full header parser (and defines a class) for every address:
        # a tenth of the mailbox's CPU per message. Plain paths give the same answer this way
        # (tests/unit/mailbox/test_smtp.py compares both); anything else goes to aiosmtpd.
        match = _PLAIN_PATH.fullmatch(arg)
        if match is None or self.local_part_limit:
            return super()._getaddr(arg)
        return match.group(1), match.group(2) or ""


class InboxHandler:
    """aiosmtpd handler: every message is parsed and stored; every recipient is accepted."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        username = ""
        if isinstance(session.auth_data, LoginPassword):
            username = session.auth_data.login.decode("utf-8", "replace")
        try:
            message = parse_message(
                raw,
                envelope_from=envelope.mail_from or "",
                envelope_to=list(envelope.rcpt_tos),
                username=username,
            )
        except Exception:  # a bug in parsing must not take the server down
            log.exception("could not parse a %d-byte message from %s", len(raw), session.peer)
            return "451 Requested action aborted: could not store the message"
        self.store.add(message)
        log.info(
            "received message %s from %s to %d recipient(s), %d bytes",
            message.id,
            envelope.mail_from,
            len(envelope.rcpt_tos),
            message.size,
        )
        return "250 Message accepted for delivery"


def accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """Accept every AUTH, as Mailpit's --smtp-auth-accept-any: a dev inbox checks nothing."""
    return AuthResult(success=True, handled=False, auth_data=auth_data)


def smtp_protocol_factory(store: MessageStore) -> InboxSMTP:
    """One SMTP protocol instance for a new connection (called inside the running loop)."""
    return InboxSMTP(
        InboxHandler(store),
        hostname=SERVER_NAME,
        data_size_limit=MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
        auth_require_tls=False,  # plain AUTH over loopback: this is a development inbox
        authenticator=accept_any_login,
        timeout=60,
        loop=asyncio.get_running_loop(),
    )


class SmtpServer:
    """The SMTP listener plus its open sessions, so that stopping also hangs up on clients."""

    def __init__(self, store: MessageStore, host: str, port: int) -> None:
        self.store = store
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _new_session(self) -> InboxSMTP:
        session = smtp_protocol_factory(self.store)
        self._sessions.add(session)
        return session

    async def start(self) -> None:
        """Listen for SMTP on host:port in the running event loop."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_session, host=self.host, port=self.port)
        log.info("mailbox SMTP listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and close every open session (an idle client must not delay exit)."""
        if self._server is None:
            return
        self._server.close()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await self._server.wait_closed()
        self._server = None
        log.info("mailbox SMTP server stopped")


async def smtp_is_accepting(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether an SMTP server on host:port answers a connection with its 220 greeting."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        greeting = await asyncio.wait_for(reader.readline(), timeout)
        writer.write(b"QUIT\r\n")
        await writer.drain()
        return greeting.startswith(b"220")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
