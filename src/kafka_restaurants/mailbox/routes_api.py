"""The mailbox's Mailpit-compatible JSON API (a subset): list, search, read, delete messages."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from kafka_restaurants.mailbox.context import Mailbox
from kafka_restaurants.mailbox.messages import detail_json, summary_json
from kafka_restaurants.mailbox.search import SearchQueryError, parse_query
from kafka_restaurants.mailbox.store import Page

PAGE_SIZE = 50
MAX_LIMIT = 10_000

router = APIRouter()


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


# --- Mailpit API subset -------------------------------------------------------------------


# Listing routes return a JSONResponse: FastAPI would otherwise validate and re-encode the
# plain JSON dict it gets, which costs more than building it. Listing without a query is
# O(limit) and never blocks, so it runs on the event loop rather than in a thread.
@router.get("/api/v1/messages", response_model=None)
async def list_messages(
    mailbox: Mailbox, start: int = Query(0, ge=0), limit: int = Query(PAGE_SIZE, ge=1, le=MAX_LIMIT)
) -> JSONResponse:
    """Messages newest first, as Mailpit's MessagesSummary."""
    return JSONResponse(_messages_json(mailbox.store.page(start, limit)))


@router.delete("/api/v1/messages")
async def delete_messages(mailbox: Mailbox, request: Request) -> Response:
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
    mailbox.store.delete(ids or None)
    return PlainTextResponse("ok")


@router.get("/api/v1/search", response_model=None)
def search_messages(
    mailbox: Mailbox,
    query: str = Query(""),
    start: int = Query(0, ge=0),
    limit: int = Query(PAGE_SIZE, ge=1, le=MAX_LIMIT),
) -> JSONResponse:
    """Messages matching a Mailpit search query, newest first."""
    try:
        terms = parse_query(query)
    except SearchQueryError as exc:
        return _error(400, str(exc))
    return JSONResponse(_messages_json(mailbox.store.page(start, limit, terms)))


@router.delete("/api/v1/search")
def delete_search(mailbox: Mailbox, query: str = Query("")) -> Response:
    """Delete every message matching a search query."""
    try:
        terms = parse_query(query)
    except SearchQueryError as exc:
        return _error(400, str(exc))
    mailbox.store.delete_matching(terms)
    return PlainTextResponse("ok")


@router.get("/api/v1/message/{message_id}", response_model=None)
def get_message(mailbox: Mailbox, message_id: str) -> dict[str, Any] | JSONResponse:
    """One message with Text and HTML (`latest` for the newest); marks it read."""
    message = mailbox.store.get(message_id, mark_read=True)
    if message is None:
        return _not_found(message_id)
    return detail_json(message)


@router.get("/api/v1/message/{message_id}/headers", response_model=None)
def get_headers(mailbox: Mailbox, message_id: str) -> dict[str, list[str]] | JSONResponse:
    """All headers of a message as name -> list of values."""
    message = mailbox.store.get(message_id)
    if message is None:
        return _not_found(message_id)
    return message.headers


@router.get("/api/v1/message/{message_id}/raw")
def get_raw(mailbox: Mailbox, message_id: str) -> Response:
    """The message source exactly as received."""
    message = mailbox.store.get(message_id)
    if message is None:
        return _not_found(message_id)
    return Response(message.raw, media_type="text/plain; charset=utf-8")
