"""Composition root of the mailbox: HTTP app (Mailpit API subset + inbox pages) and `serve`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import uvicorn
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from kafka_restaurants.mailbox import pages, routes_api
from kafka_restaurants.mailbox.context import MailboxContext
from kafka_restaurants.mailbox.smtp import SmtpServer, smtp_is_accepting
from kafka_restaurants.mailbox.store import MessageStore
from kafka_restaurants.observability import configure_logging
from kafka_restaurants.service_app import Probe, service_app
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

# Our pages run no script at all. Message HTML is shown only inside a sandboxed srcdoc iframe,
# which inherits this policy; inline styles stay allowed because mail HTML depends on them and
# everything we render ourselves is escaped. Remote images are not loaded (no tracking pixels).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(store: MessageStore, smtp_address: tuple[str, int] | None = None) -> FastAPI:
    """The HTTP app over `store`; with `smtp_address` it also runs the SMTP server (lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if smtp_address is None:
            yield
            return
        smtp = SmtpServer(store, *smtp_address)
        await smtp.start()
        try:
            yield
        finally:
            await smtp.stop()

    async def smtp_ready(_request: Request) -> Probe:
        """Ready when the SMTP socket accepts connections (when this app runs it)."""
        if smtp_address is None:
            return True, {"status": "ready", "smtp": "not run by this app"}
        if await smtp_is_accepting(*smtp_address):
            return True, {"status": "ready", "smtp": "accepting"}
        return False, {"status": "not ready", "smtp": "not accepting"}

    app = service_app(
        "mailbox",
        title="Kafka Restaurants mailbox",
        routers=[routes_api.router, pages.router],
        lifespan=lifespan,
        ready_check=smtp_ready,
        security_headers=SECURITY_HEADERS,
    )
    app.state.mailbox = MailboxContext(store, pages.templates(), smtp_address)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    return app


def _configure_logging(level: str) -> None:
    """Log to stderr unless the caller already set logging up."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    # aiosmtpd logs every connection and command at INFO; its warnings are enough.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def serve(settings: Settings) -> None:
    """Run the mailbox in the foreground: SMTP and HTTP on one loop, until SIGTERM or SIGINT."""
    configure_logging(settings.log_level, settings.log_format, "mailbox")
    _configure_logging(settings.log_level)
    store = MessageStore(settings.mailbox_max_messages, settings.mailbox_max_bytes)
    app = create_app(store, smtp_address=(settings.host, settings.mailbox_smtp_port))
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.mailbox_http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,  # uvicorn's lines go through our handler (JSON in files)
        # Stop promptly on SIGTERM even if a browser keeps a connection open.
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # uvicorn handles SIGINT/SIGTERM: it stops serving HTTP, then the lifespan closes SMTP;
    # afterwards it re-raises the signal, so SIGTERM ends the process as usual.
    with suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(
            f"mailbox could not start on {settings.host} (SMTP {settings.mailbox_smtp_port}, "
            f"HTTP {settings.mailbox_http_port}): see the log above"
        )
