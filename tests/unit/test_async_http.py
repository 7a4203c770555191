"""httpx's async client finds out which event loop it runs on cheaply."""

from __future__ import annotations

import asyncio
import sys

from httpcore._synchronization import current_async_library


def test_httpcore_finds_the_event_loop_through_an_imported_sniffio() -> None:
    # Without sniffio, httpcore retries a failing `import sniffio` for every lock it makes:
    # 68 us a call, several calls per request of the payment service and the website.
    async def detect() -> str:
        return current_async_library()

    assert asyncio.run(detect()) == "asyncio"
    assert "sniffio" in sys.modules
