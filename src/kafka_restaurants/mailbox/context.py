"""The state the mailbox's routes share, as a FastAPI dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from kafka_restaurants.mailbox.store import MessageStore


@dataclass(frozen=True)
class MailboxContext:
    """What the mailbox's routes work with (app.state.mailbox)."""

    store: MessageStore
    templates: Jinja2Templates
    # The SMTP server this app runs, if it runs one (shown on the inbox page, probed by /readyz).
    smtp_address: tuple[str, int] | None


async def mailbox_context(request: Request) -> MailboxContext:
    """The mailbox's state; async because FastAPI runs a plain `def` dependency on its
    threadpool, a thread handoff per request (every poll of the API) for one attribute read."""
    context: MailboxContext = request.app.state.mailbox
    return context


Mailbox = Annotated[MailboxContext, Depends(mailbox_context)]
