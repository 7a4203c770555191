"""Server-Sent Events for pages that follow something live (an order, a kitchen).

Each stream asks the owning service (api or kitchen) for the current state a few times a
second and sends the rendered fragment whenever its version changes. No replica keeps state:
a browser whose replica dies reconnects (EventSource does that by itself) through the load
balancer to another replica, which sends the current fragment at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import StreamingResponse

# How often a stream asks the owning service: well inside the one-second promise.
CHECK_SECONDS = 0.25
# A comment line this often keeps proxies (nginx's 30 s read timeout) from closing the stream.
HEARTBEAT_SECONDS = 10.0
# EventSource waits this long before reconnecting (to another replica, if this one died).
RETRY_MS = 500


@dataclass(frozen=True)
class Snapshot:
    """What a stream shows now: a version to compare, the fragment, and whether it is final."""

    version: str
    html: str
    final: bool = False


def sse_event(name: str, data: str, event_id: str = "") -> str:
    """One SSE event; each line of `data` gets its own `data:` field. The browser sends the
    last `id` back as Last-Event-ID when it reconnects."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {name}\n" + (f"id: {event_id}\n" if event_id else "") + f"{lines}\n"


def last_seen(request: Request, since: str) -> str:
    """The version the browser shows: Last-Event-ID on a reconnect, else the page's own."""
    return request.headers.get("Last-Event-ID") or since


async def snapshots(
    request: Request, current: Callable[[], Awaitable[Snapshot | None]], since: str = ""
) -> AsyncIterator[str]:
    """The SSE text of a stream: each changed snapshot, then `done` once one is final."""
    yield f"retry: {RETRY_MS}\n\n"
    last, beat = since, time.monotonic()
    while not await request.is_disconnected():
        snapshot = await current()  # None: the service is away for a moment; keep trying
        if snapshot is not None and snapshot.version != last:
            last = snapshot.version
            yield sse_event("update", snapshot.html, snapshot.version)
            beat = time.monotonic()
        if snapshot is not None and snapshot.final:
            yield sse_event("done", "")
            return
        if time.monotonic() - beat > HEARTBEAT_SECONDS:
            yield ": still here\n\n"
            beat = time.monotonic()
        await asyncio.sleep(CHECK_SECONDS)


def event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    """The HTTP response of an SSE stream; nginx must pass it on unbuffered."""
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )
