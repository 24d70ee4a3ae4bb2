"""The hot path's SQL layer (db/prepared.py) and Database's connection lending, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gyeol.core.errors import DomainError
from gyeol.db import prepared
from gyeol.db.engine import Database, FirstWrite
from gyeol.db.sqlite_inloop import Checkpointer
from gyeol.models import idempotency_keys as ik

NOW = datetime(2026, 12, 3, 8, 0, 0, 123456, tzinfo=UTC)
INSERT = prepared.insert_of(ik, ("merchant_id", "caller", "key", "method", "path", "request_hash", "status",
                                 "response_status", "response_body", "response_headers", "locked_until",
                                 "expires_at", "created_at"))
GET = prepared.Prepared(sa.select(ik).where(ik.c.key == sa.bindparam("key")))


def _row(key: str, **over: object) -> dict[str, object]:
    return {"merchant_id": "mch_p", "caller": "sk", "key": key, "method": "POST", "path": "/x", "request_hash": "h",
            "status": "completed", "response_status": 200, "response_body": b"{\"a\": 1}",
            "response_headers": {"content-type": "application/json"}, "locked_until": None,
            "expires_at": NOW + timedelta(hours=24), "created_at": NOW, **over}


async def _merchant(db: Database) -> None:
    from gyeol.models import merchants
    async with db.tx() as conn:
        await conn.execute(merchants.insert().values(id="mch_p", name="p", created_at=NOW, settings={}))


async def test_values_round_trip_as_sqlalchemy_writes_and_reads_them(db_url: str) -> None:
    db = Database(db_url)
    try:
        await _merchant(db)
        # A whole second in another zone: SQLite's text must still be SQLAlchemy's, microseconds and all.
        whole = datetime(2026, 12, 3, 17, 0, 0, tzinfo=timezone(timedelta(hours=9)))
        async with db.tx() as conn:
            await prepared.execute(conn, INSERT, _row("k1", locked_until=NOW + timedelta(seconds=30),
                                                      created_at=whole))
            await conn.execute(ik.insert().values(**_row("k2", created_at=whole)))  # the Core way, for comparison
        async with db.read() as conn:
            mine = await prepared.fetch_one(conn, GET, {"key": "k2"})
            theirs = dict((await conn.execute(sa.select(ik).where(ik.c.key == "k1"))).mappings().one())
            stored = (await conn.execute(sa.text("SELECT key, CAST(created_at AS TEXT) FROM idempotency_keys"
                                                 " ORDER BY key"))).all()
        assert stored[0][1] == stored[1][1], stored
        assert mine["created_at"] == theirs["created_at"] == whole and mine["created_at"].tzinfo is not None
        assert mine is not None
        assert theirs["locked_until"] == NOW + timedelta(seconds=30) and theirs["locked_until"].tzinfo is not None
        assert mine["expires_at"] == NOW + timedelta(hours=24) and mine["expires_at"].tzinfo is not None
        assert mine["response_headers"] == {"content-type": "application/json"}
        assert mine["response_body"] == b"{\"a\": 1}" and theirs["response_body"] == b"{\"a\": 1}"
        assert mine["locked_until"] is None
    finally:
        await db.dispose()


async def test_a_unique_key_is_sqlalchemys_integrity_error_and_the_connection_lives_on(db_url: str) -> None:
    db = Database(db_url, pool_size=2)
    try:
        await _merchant(db)
        async with db.autocommit() as conn:
            await prepared.execute(conn, INSERT, _row("dup"))
        for _ in range(8):  # 16 failures, more than the pool holds: none may cost a connection
            with pytest.raises(IntegrityError):
                async with db.autocommit() as conn:
                    await prepared.execute(conn, INSERT, _row("dup"))
            with pytest.raises(IntegrityError):
                async with db.tx() as conn:
                    await prepared.execute(conn, INSERT, _row("dup"))
        async with db.read() as conn:
            assert (await prepared.fetch_one(conn, GET, {"key": "dup"})) is not None
    finally:
        await db.dispose()


async def test_deferred_rows_are_written_at_commit_and_dropped_on_rollback(db_url: str) -> None:
    db = Database(db_url)
    try:
        await _merchant(db)
        async with db.tx() as conn:
            prepared.defer(conn, INSERT, _row("d1"))
            async with db.read() as other:  # not yet written: another connection cannot see it
                assert await prepared.fetch_one(other, GET, {"key": "d1"}) is None
        with pytest.raises(DomainError):
            async with db.tx() as conn:
                prepared.defer(conn, INSERT, _row("d2"))
                raise DomainError("conflict", "NO", "rolled back")
        async with db.tx() as conn:  # the same connection again: nothing of d2 is left over to flush
            pass
        async with db.read() as conn:
            assert await prepared.fetch_one(conn, GET, {"key": "d1"}) is not None
            assert await prepared.fetch_one(conn, GET, {"key": "d2"}) is None
    finally:
        await db.dispose()


async def test_more_borrowers_than_connections_all_get_one(db_url: str) -> None:
    db = Database(db_url, pool_size=3)
    try:
        await _merchant(db)
        done: list[int] = []

        async def borrow(i: int) -> None:
            async with db.read() as conn:
                await asyncio.sleep(0.01)  # hold it across a suspension
                assert await prepared.fetch_one(conn, GET, {"key": "none"}) is None
            done.append(i)

        async with asyncio.timeout(20):
            await asyncio.gather(*(borrow(i) for i in range(40)))
        assert sorted(done) == list(range(40))
    finally:
        await db.dispose()


class _Marker(FirstWrite):
    """Writes one idempotency row: the way core.idempotency claims a key with the request's first write."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.writes = 0

    async def write(self, conn: AsyncConnection) -> None:
        self.writes += 1
        await prepared.execute(conn, INSERT, _row(self.key))


async def _keys(db: Database) -> list[str]:
    async with db.read() as conn:
        return [r["key"] for r in await prepared.fetch_all(conn, prepared.Prepared(sa.select(ik)))]


async def test_a_first_write_commits_with_the_first_transaction_that_commits_and_only_once(db_url: str) -> None:
    db = Database(db_url)
    try:
        await _merchant(db)
        marker = _Marker("fw")
        with marker.bound():
            with pytest.raises(DomainError):
                async with db.tx():
                    raise DomainError("conflict", "NO", "rolled back, and the marker with it")
            assert not marker.committed and await _keys(db) == []

            async def elsewhere() -> None:  # a task started meanwhile inherits the context, not the duty
                async with db.tx() as conn:
                    await conn.execute(sa.text("SELECT 1"))

            await asyncio.create_task(elsewhere())
            assert marker.writes == 1 and await _keys(db) == []
            async with db.autocommit() as conn:  # a single write becomes a transaction that carries the marker
                await prepared.execute(conn, INSERT, _row("other"))
            assert marker.committed and sorted(await _keys(db)) == ["fw", "other"]
            async with db.tx() as conn:
                await conn.execute(sa.text("SELECT 1"))
        assert marker.writes == 2
    finally:
        await db.dispose()


async def test_sqlite_wal_is_copied_back_off_the_event_loop(tmp_path: Path) -> None:
    """The writer's own automatic checkpoint is far away; the checkpointer thread copies the WAL into the database
    file as it grows, and stops with the Database."""
    path = tmp_path / "ck.db"
    db = Database(f"sqlite:///{path}")
    try:
        async with db.tx() as conn:
            await conn.run_sync(lambda sync: ik.metadata.create_all(sync, tables=[ik.metadata.tables["merchants"],
                                                                                ik]))
        await _merchant(db)
        for i in range(40):
            async with db.tx() as conn:
                await prepared.execute(conn, INSERT, _row(f"w{i}"))
        async with db.read() as conn:
            raw = _driver_of(conn)
            assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # readers keep SQLite's
        writer = _driver_of(db._writer)
        assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == Checkpointer.WRITER_PAGES
        await asyncio.sleep(Checkpointer.EVERY_S * 5)
        # The database file alone, without its WAL, already holds every committed row.
        alone = tmp_path / "alone.db"
        alone.write_bytes(path.read_bytes())
        with sqlite3.connect(alone) as check:
            assert check.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0] == 40
        thread = db._checkpointer._thread
        assert thread.is_alive()
    finally:
        await db.dispose()
    assert not thread.is_alive()


def _driver_of(conn: AsyncConnection | None) -> sqlite3.Connection:
    assert conn is not None and conn.sync_connection is not None
    driver: sqlite3.Connection = conn.sync_connection.connection.driver_connection
    return driver
