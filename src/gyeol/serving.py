"""The HTTP/1.1 protocol `gyeol serve` hands uvicorn: uvicorn's httptools protocol with the limits it lacks.

uvicorn's options cover the time between requests (`timeout_keep_alive`) and, with h11 only, the size of the
header block (`h11_max_incomplete_event_size`); nothing bounds how long a client may take to send its headers, or
how many it sends with httptools. A client that trickles a header a minute would hold its connection, and its
slot, for ever. So, through uvicorn's public protocol class and httptools' parser callbacks:
- the request line and headers must arrive within GYEOL_HEADER_TIMEOUT_SECONDS of the connection or of the
  request's first byte, else 408 and the connection is closed (an idle connection is uvicorn's keep-alive's);
- at most MAX_HEADERS headers, and MAX_HEADER_BYTES for the target and headers together, else 431.
The body's own deadline (GYEOL_BODY_TIMEOUT_SECONDS) and size are the request guard's (`faces/guard.py`), which
answers in each face's format.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024


@functools.cache
def header_timeout() -> float:
    """Read once per process, from the settings `gyeol serve` checked and passed on in the environment."""
    from gyeol.config import Settings

    return Settings().header_timeout_seconds


def _response(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeadersRefused(Exception):
    pass


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_deadline: asyncio.TimerHandle | None = None
        self.header_bytes = 0
        self.header_count = 0
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if not self.refused:  # a refusal of ours is answered already
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_bytes = self.header_count = 0
        if self.header_deadline is None:
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _count(self, size: int, headers: int) -> None:
        self.header_bytes += size
        self.header_count += headers
        if self.header_bytes > MAX_HEADER_BYTES or self.header_count > MAX_HEADERS:
            self._refuse(b"431 Request Header Fields Too Large")
            raise HeadersRefused  # stops the parser: the rest of what was sent is not read

    def _arm(self) -> None:
        self._disarm()
        self.header_deadline = self.loop.call_later(header_timeout(), self._expire)

    def _disarm(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _expire(self) -> None:
        self.header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a pipelined request waits for the answer before it: its own time starts after
            return
        self._refuse(b"408 Request Timeout")

    def _refuse(self, status: bytes) -> None:
        self.refused = True
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_response(status))
            self.transport.close()
