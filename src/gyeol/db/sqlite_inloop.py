"""SQLite driven on the event loop's own thread, for SQLAlchemy's asyncio API (`sqlite+gyeol://`).

aiosqlite hands every call to a thread and back: on this stack that costs ~0.5 ms of CPU per statement,
while the statement itself takes ~6 µs. A statement on a local WAL database is shorter than any thread hop,
so it runs inline. What must never block the loop is waiting for another process's write lock: the busy
timeout is therefore 0, and a `database is locked` answer is retried with an awaited sleep instead. Within
one process, `Database.tx` queues writers on an asyncio lock, so they never spin against each other.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_

BUSY_GIVE_UP_S = 30.0


def busy(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def backoff() -> Iterator[float]:
    """The waits between tries at a busy SQLite lock: 0.5 ms, doubling to 20 ms, for BUSY_GIVE_UP_S in all."""
    deadline, delay = time.monotonic() + BUSY_GIVE_UP_S, 0.0005
    while time.monotonic() <= deadline:
        yield delay
        delay = min(delay * 2, 0.02)


async def _done(value: Any) -> Any:
    return value


def _retry(call: Any, *args: Any) -> Any:
    waits = backoff()
    while True:
        try:
            # SQLAlchemy's asyncio layer insists that a statement awaits once; a finished coroutine is the cheapest.
            return await_(_done(call(*args)))
        except sqlite3.OperationalError as exc:
            delay = next(waits, None) if busy(exc) else None
            if delay is None:
                raise
        await_(asyncio.sleep(delay))


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        _retry(super().execute, sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any) -> _Cursor:
        _retry(super().executemany, sql, seq_of_parameters)
        return self

    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio results call this; rows stay readable on a plain sqlite3 cursor."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def commit(self) -> None:
        _retry(super().commit)


class _DBAPI:
    """The sqlite3 module, but its connections are ours."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlite3, name)

    @staticmethod
    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs["factory"] = _Connection
        kwargs["timeout"] = 0
        kwargs["check_same_thread"] = False
        return sqlite3.connect(*args, **kwargs)


class SQLiteDialect_inloop(SQLiteDialect_pysqlite):
    driver = "gyeol"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        return _DBAPI()

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool


dialect = SQLiteDialect_inloop


class Checkpointer:
    """Copies the WAL back into the database file from a thread of its own, so that no commit on the event loop
    does it. SQLite's own automatic checkpoint runs inside the commit that crosses its threshold: that commit
    then copies a thousand pages and fsyncs twice, a few milliseconds in which the loop serves nobody. Here it is
    PASSIVE (it never waits for, nor blocks, readers and writers) and off the loop (sqlite3 releases the GIL
    while it works). The writer keeps a far higher automatic threshold, in case this thread falls behind."""

    EVERY_S = 0.1
    WRITER_PAGES = 20_000  # the writer's own checkpoint threshold: ~80 MB of WAL
    WAL_KEEP_BYTES = 64 << 20  # a WAL file that grew past this in a burst is cut back to it when it restarts

    def __init__(self, path: str) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gyeol-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def relieve(self, writer: sqlite3.Cursor) -> None:
        """Leave checkpoints to this thread, on the writer's connection."""
        writer.execute(f"PRAGMA wal_autocheckpoint={self.WRITER_PAGES}")
        writer.execute(f"PRAGMA journal_size_limit={self.WAL_KEEP_BYTES}")

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        try:
            while not self._stop.wait(self.EVERY_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.OperationalError as exc:
                    if not busy(exc):  # another process's checkpoint is running: next time
                        raise
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
