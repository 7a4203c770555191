"""The mailbox's pages: the inbox (newest first, searchable) and one message."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from kafka_restaurants.mailbox.context import Mailbox
from kafka_restaurants.mailbox.messages import StoredMessage, rfc3339
from kafka_restaurants.mailbox.routes_api import PAGE_SIZE
from kafka_restaurants.mailbox.search import SearchQueryError, parse_query

HERE = Path(__file__).parent

router = APIRouter()


def templates() -> Jinja2Templates:
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


@router.get("/", response_class=HTMLResponse)
def inbox_page(
    mailbox: Mailbox, request: Request, q: str = Query(""), start: int = Query(0, ge=0)
) -> Response:
    """The inbox: newest messages first, optionally filtered by a search query."""
    error = ""
    terms = None
    if q.strip():
        try:
            terms = parse_query(q)
        except SearchQueryError as exc:
            error = str(exc)
    page = mailbox.store.page(start, PAGE_SIZE, terms)
    return mailbox.templates.TemplateResponse(
        request,
        "inbox.html",
        {
            "page": page,
            "query": q,
            "error": error,
            "page_size": PAGE_SIZE,
            "smtp_address": mailbox.smtp_address,
        },
        status_code=400 if error else 200,
    )


@router.get("/view/{message_id}", response_class=HTMLResponse)
def view_page(mailbox: Mailbox, request: Request, message_id: str) -> Response:
    """One message: headers, the HTML part in a sandboxed iframe, the text part."""
    message: StoredMessage | None = mailbox.store.get(message_id, mark_read=True)
    if message is None:
        return mailbox.templates.TemplateResponse(
            request, "not_found.html", {"message_id": message_id, "query": ""}, 404
        )
    return mailbox.templates.TemplateResponse(
        request, "view.html", {"message": message, "query": ""}
    )
