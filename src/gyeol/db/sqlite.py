"""SQLite specifics: the connection's settings, waiting for another process's write lock without blocking the
event loop, and the WAL checkpoint kept off it.

Statements on a local WAL database take microseconds, so they run on the event loop's thread, through
SQLAlchemy's synchronous pysqlite dialect. What must never block the loop is waiting for another process's write
lock: the busy timeout is therefore 0, and a `database is locked` answer is retried with an awaited sleep.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

T = TypeVar("T")
log = structlog.get_logger(__name__)
BUSY_GIVE_UP_S = 30.0


def configure(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are begun explicitly (Database), so that a writer's can be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=0"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Any) -> None:
        # SQLAlchemy's autobegin: a reader's deferred BEGIN, unless Database began the transaction itself.
        if not conn.connection.driver_connection.in_transaction:
            conn.exec_driver_sql("BEGIN")


def _busy(exc: BaseException) -> bool:
    orig = exc.orig if isinstance(exc, OperationalError) else exc
    return isinstance(orig, sqlite3.OperationalError) and \
        orig.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# What the file system refused: no room left (SQLITE_FULL), a read-only file or directory (READONLY, CANTOPEN of
# the journal), a write that failed (IOERR). The primary code is the extended one's low byte.
_STORAGE = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}


def cannot_write(exc: BaseException) -> bool:
    """Whether SQLite failed because its file cannot be written, not for what was asked."""
    orig = exc.orig if isinstance(exc, OperationalError) else exc
    return isinstance(orig, sqlite3.Error) and ((orig.sqlite_errorcode or 0) & 0xFF) in _STORAGE


def _backoff() -> Iterator[float]:
    """The waits between tries at a busy lock: 0.5 ms, doubling to 20 ms, for BUSY_GIVE_UP_S in all."""
    deadline, delay = time.monotonic() + BUSY_GIVE_UP_S, 0.0005
    while time.monotonic() <= deadline:
        yield delay
        delay = min(delay * 2, 0.02)


async def patiently(call: Callable[[], T]) -> T:
    """Run `call`, waiting with awaited sleeps while another process holds the lock it needs."""
    waits = _backoff()
    while True:
        try:
            return call()
        except (OperationalError, sqlite3.OperationalError) as exc:
            delay = next(waits, None) if _busy(exc) else None
            if delay is None:
                raise
        await asyncio.sleep(delay)


class Checkpointer:
    """Copies the WAL back into the database file from a thread of its own, so that no commit on the event loop
    does it: SQLite's own automatic checkpoint runs inside the commit that crosses its threshold, which then
    copies a thousand pages and fsyncs twice while the loop serves nobody. Here it is PASSIVE (it never waits
    for, nor blocks, readers and writers) and off the loop. The writer keeps a far higher automatic threshold,
    in case this thread falls behind."""

    EVERY_S = 0.1
    WRITER_PAGES = 20_000  # the writer's own checkpoint threshold: ~80 MB of WAL
    WAL_KEEP_BYTES = 64 << 20  # a WAL file that grew past this in a burst is cut back to it when it restarts

    def __init__(self, path: str) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gyeol-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def hand_over_checkpoints(self, writer: sqlite3.Connection) -> None:
        """Leave checkpoints to this thread, on the writer's connection."""
        writer.execute(f"PRAGMA wal_autocheckpoint={self.WRITER_PAGES}")
        writer.execute(f"PRAGMA journal_size_limit={self.WAL_KEEP_BYTES}")

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        failing = False
        try:
            while not self._stop.wait(self.EVERY_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    failing = False
                except sqlite3.OperationalError as exc:
                    # Busy: another process's checkpoint is running. A file that cannot be written (a full disk)
                    # may be writable again: this thread keeps trying, or nothing would copy the WAL back after.
                    if not (_busy(exc) or cannot_write(exc)):
                        raise
                    if cannot_write(exc) and not failing:
                        log.warning("sqlite_checkpoint_failed", error=str(exc))
                    failing = cannot_write(exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
