"""A lean HTTP/1.1 keep-alive client for load generation.

Measured on this 2-core box, httpx.AsyncClient spends ~0.75 ms of CPU per request (and more with
a large pool), so at a few hundred requests/s the generator, not the server, was the bottleneck
and shared the server's cores. This client writes a prepared request and reads the response by
its Content-Length (or chunks): an order of magnitude less CPU, so the numbers are the server's.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

# A reused connection the server closed meanwhile fails like this; the request is retried once.
_STALE = (ConnectionError, asyncio.IncompleteReadError, OSError)
# uvicorn closes a kept-alive connection after 5 s of quiet; older idle ones are not reused.
MAX_IDLE_SECONDS = 4.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def target(path: str, params: dict[str, str] | None = None) -> str:
    """Path plus encoded query string, prepared once per distinct request."""
    return f"{path}?{urlencode(params)}" if params else path


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()

    def reusable(self, now: float) -> bool:
        return (
            now - self.idle_since < MAX_IDLE_SECONDS
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    async def exchange(self, request: bytes) -> tuple[Reply, bool]:
        """Send one request; the reply, and whether the server will keep the connection."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length: int | None = None
        chunked, keep = False, True
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                keep = b"close" not in value.lower()
        if length is not None:
            body = await self.reader.readexactly(length)
        elif chunked:
            body = await self._chunks()
        else:
            body, keep = await self.reader.read(), False
        return Reply(status, body), keep

    async def _chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        self.writer.close()


class ConnectionPool:
    """Up to `size` kept-alive connections to one origin; callers wait for a free one."""

    def __init__(self, base_url: str, size: int, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"base URL: expected http://host:port, got {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(size)
        self._prefix = f"Host: {self.host}:{self.port}\r\nUser-Agent: kafka-restaurants-bench\r\n"

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        length = f"Content-Length: {len(body)}\r\n" if body or method != "GET" else ""
        return f"{method} {path} HTTP/1.1\r\n{self._prefix}{extra}{length}\r\n".encode() + body

    async def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request; a stale kept-alive connection is replaced and the request sent again
        (callers make that safe: GETs, or POSTs with an Idempotency-Key)."""
        headers = dict(headers or {})
        body = b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        request = self._request(method, path, body, headers)
        async with self._slots:
            connection = self._reuse()
            reused = connection is not None
            for _attempt in range(2):
                connection = connection or await self._open()
                try:
                    reply, keep = await asyncio.wait_for(connection.exchange(request), self.timeout)
                except _STALE:
                    connection.close()
                    if not reused:
                        raise
                    connection, reused = None, False  # once more, on a fresh connection
                    continue
                except BaseException:
                    connection.close()
                    raise
                if keep:
                    connection.idle_since = time.monotonic()
                    self._idle.append(connection)
                else:
                    connection.close()
                return reply
        raise AssertionError("unreachable")

    def _reuse(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable(now):
                return connection
            connection.close()
        return None

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout
        )
        return _Connection(reader, writer)

    async def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
