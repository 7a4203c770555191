"""Composition root of the mailbox: HTTP app (Mailpit API subset + inbox pages) and `serve`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC
from pathlib import Path
from typing import Any

import jinja2
import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kafka_restaurants.mailbox.messages import (
    StoredMessage,
    detail_json,
    rfc3339,
    summary_json,
)
from kafka_restaurants.mailbox.search import SearchQueryError, parse_query
from kafka_restaurants.mailbox.smtp import SmtpServer, smtp_is_accepting
from kafka_restaurants.mailbox.store import MessageStore, Page
from kafka_restaurants.observability import configure_logging, instrument_app
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PAGE_SIZE = 50
MAX_LIMIT = 10_000

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


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP response that lacks them."""

    # Plain ASGI rather than @app.middleware("http"): that one runs every request in an extra
    # task with streams in between, a large share of a cheap request's CPU.
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value from a message is untrusted
        undefined=jinja2.StrictUndefined,
    )
    env.filters["rfc3339"] = rfc3339
    env.filters["display_time"] = lambda moment: moment.astimezone(UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    env.filters["addresses"] = lambda people: ", ".join(
        f"{p.name} <{p.address}>" if p.name else p.address for p in people
    )
    return Jinja2Templates(env=env)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _messages_json(page: Page) -> dict[str, Any]:
    """Mailpit's MessagesSummary."""
    return {
        "total": page.total,
        "unread": page.unread,
        "count": len(page.messages),
        "messages_count": page.matched,
        "messages_unread": page.matched_unread,
        "start": page.start,
        "tags": [],
        "messages": [summary_json(m) for m in page.messages],
    }


def _not_found(message_id: str) -> JSONResponse:
    return _error(404, f"ID: no message with ID {message_id!r}")


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

    app = FastAPI(title="Kafka Restaurants mailbox", lifespan=lifespan)
    templates = _templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.add_middleware(SecurityHeaders)

    # --- Mailpit API subset -------------------------------------------------------------------

    # Listing routes return a JSONResponse: FastAPI would otherwise validate and re-encode the
    # plain JSON dict it gets, which costs more than building it. Listing without a query is
    # O(limit) and never blocks, so it runs on the event loop rather than in a thread.
    @app.get("/api/v1/messages", response_model=None)
    async def list_messages(
        start: int = Query(0, ge=0), limit: int = Query(PAGE_SIZE, ge=1, le=MAX_LIMIT)
    ) -> JSONResponse:
        """Messages newest first, as Mailpit's MessagesSummary."""
        return JSONResponse(_messages_json(store.page(start, limit)))

    @app.delete("/api/v1/messages")
    async def delete_messages(request: Request) -> Response:
        """Delete the messages named in `{"IDs": [...]}`, or all of them without a body."""
        body = await request.body()
        ids: list[str] = []
        if body.strip():
            try:
                ids = json.loads(body).get("IDs") or []
            except (ValueError, AttributeError):
                return _error(400, 'body: expected JSON like {"IDs": ["..."]}')
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                return _error(400, "IDs: must be a list of message IDs")
        store.delete(ids or None)
        return PlainTextResponse("ok")

    @app.get("/api/v1/search", response_model=None)
    def search_messages(
        query: str = Query(""),
        start: int = Query(0, ge=0),
        limit: int = Query(PAGE_SIZE, ge=1, le=MAX_LIMIT),
    ) -> JSONResponse:
        """Messages matching a Mailpit search query, newest first."""
        try:
            terms = parse_query(query)
        except SearchQueryError as exc:
            return _error(400, str(exc))
        return JSONResponse(_messages_json(store.page(start, limit, terms)))

    @app.delete("/api/v1/search")
    def delete_search(query: str = Query("")) -> Response:
        """Delete every message matching a search query."""
        try:
            terms = parse_query(query)
        except SearchQueryError as exc:
            return _error(400, str(exc))
        store.delete_matching(terms)
        return PlainTextResponse("ok")

    @app.get("/api/v1/message/{message_id}", response_model=None)
    def get_message(message_id: str) -> dict[str, Any] | JSONResponse:
        """One message with Text and HTML (`latest` for the newest); marks it read."""
        message = store.get(message_id, mark_read=True)
        if message is None:
            return _not_found(message_id)
        return detail_json(message)

    @app.get("/api/v1/message/{message_id}/headers", response_model=None)
    def get_headers(message_id: str) -> dict[str, list[str]] | JSONResponse:
        """All headers of a message as name -> list of values."""
        message = store.get(message_id)
        if message is None:
            return _not_found(message_id)
        return message.headers

    @app.get("/api/v1/message/{message_id}/raw")
    def get_raw(message_id: str) -> Response:
        """The message source exactly as received."""
        message = store.get(message_id)
        if message is None:
            return _not_found(message_id)
        return Response(message.raw, media_type="text/plain; charset=utf-8")

    # --- Pages ----------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def inbox_page(request: Request, q: str = Query(""), start: int = Query(0, ge=0)) -> Response:
        """The inbox: newest messages first, optionally filtered by a search query."""
        error = ""
        terms = None
        if q.strip():
            try:
                terms = parse_query(q)
            except SearchQueryError as exc:
                error = str(exc)
        page = store.page(start, PAGE_SIZE, terms)
        return templates.TemplateResponse(
            request,
            "inbox.html",
            {
                "page": page,
                "query": q,
                "error": error,
                "page_size": PAGE_SIZE,
                "smtp_address": smtp_address,
            },
            status_code=400 if error else 200,
        )

    @app.get("/view/{message_id}", response_class=HTMLResponse)
    def view_page(request: Request, message_id: str) -> Response:
        """One message: headers, the HTML part in a sandboxed iframe, the text part."""
        message: StoredMessage | None = store.get(message_id, mark_read=True)
        if message is None:
            return templates.TemplateResponse(
                request, "not_found.html", {"message_id": message_id, "query": ""}, 404
            )
        return templates.TemplateResponse(request, "view.html", {"message": message, "query": ""})

    # --- Probes -----------------------------------------------------------------------------

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    async def readyz() -> dict[str, str] | JSONResponse:
        """Readiness: the SMTP socket accepts connections (when this app runs it)."""
        if smtp_address is None:
            return {"status": "ready", "smtp": "not run by this app"}
        if await smtp_is_accepting(*smtp_address):
            return {"status": "ready", "smtp": "accepting"}
        return JSONResponse({"status": "not ready", "smtp": "not accepting"}, status_code=503)

    return instrument_app(app, "mailbox")


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
