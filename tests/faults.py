"""What the fault tests share: a client that retries a request under its Idempotency-Key until it has a definitive
answer, and a gate between a server and its PostgreSQL that the test opens and closes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

import httpx

T = TypeVar("T")
IN_PROGRESS = "IDEMPOTENCY_REQUEST_IN_PROGRESS"


def definitive(r: httpx.Response) -> bool:
    """An answer that says what became of the request: not a 5xx (cut off, unavailable, the PG's answer lost,
    all retryable under the key) and not 'another try of this key is still at work'."""
    return r.status_code < 500 and not (r.status_code == 409 and IN_PROGRESS in r.text)


async def until_answered(c: httpx.AsyncClient, url: str, body: dict[str, Any], key: str, *, tries: int = 600,
                         pause: float = 0.1, retried: Counter[str] | None = None) -> httpx.Response:
    """POST under `key` until the answer is definitive. A connection the server never answered on (it was
    killed, it is starting again) is retried too. `retried` counts the tries that were not: `cut` (no answer),
    and each status answered."""
    last = "no answer"
    for _ in range(tries):
        try:
            r = await c.post(url, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            last, seen = type(exc).__name__, "cut"
        else:
            if definitive(r):
                return r
            last, seen = f"{r.status_code} {r.text[:300]}", str(r.status_code)
        if retried is not None:
            retried[seen] += 1
        # A server that is not there takes seconds to start again: no need to knock as often meanwhile.
        await asyncio.sleep(pause * 3 if seen == "cut" else pause)
    raise AssertionError(f"{key}: no definitive answer after {tries} tries: {last}")


Mode = Literal["open", "refuse", "drop"]


class Gate:
    """A TCP gate between a server and its database, on a loop of its own thread (the test may block on its own
    loop while the server goes through the gate). Open, it forwards; `refuse`d, nothing listens on its port, so a
    connection is refused; `drop`, it accepts and closes at once. Closing it cuts every connection through it, as
    a database that went away does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.mode: Mode = "open"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-gate", daemon=True)
        self._thread.start()
        self._call(self._listen())

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def set(self, mode: Mode) -> None:
        self._call(self._set(mode))

    async def _set(self, mode: Mode) -> None:
        self.mode = mode
        if mode != "open":
            for w in list(self._links):
                w.transport.abort()
            self._links.clear()
        if mode == "refuse" and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif mode != "refuse" and self._server is None:
            await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port or 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode != "open":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        if self.mode != "open":  # closed while this one was connecting
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._links.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._links.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    def close(self) -> None:
        self._call(self._set("refuse"))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
