"""The SQL layer (db/engine.py, db/compiled.py, db/sql.py) on SQLite and PostgreSQL: a statement compiled once and
run on the driver gives what SQLAlchemy's execute gives, and a statement fails at its own line, in its own
transaction, without costing the connection."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.db.sqlite import Checkpointer
from gyeol.models import idempotency_keys as ik
from gyeol.models import merchants

NOW = datetime(2026, 12, 3, 8, 0, 0, 123456, tzinfo=UTC)
BY_KEY = sa.select(ik).where(ik.c.key == sa.bindparam("key"))


class Taken(Exception):
    pass


def _row(key: str, **over: object) -> dict[str, Any]:
    return {"merchant_id": "mch_db", "caller": "sk", "key": key, "method": "POST", "path": "/x", "request_hash": "h",
            "status": "completed", "response_status": 200, "response_body": b"{\"a\": 1}",
            "response_headers": {"content-type": "application/json"}, "locked_until": None, "holder": None,
            "resource_type": None, "resource_id": None, "expires_at": NOW + timedelta(hours=24), "created_at": NOW,
            **over}


async def _merchant(db: Database) -> None:
    async with db.tx() as conn:
        await conn.execute(merchants.insert().values(id="mch_db", name="db", created_at=NOW, settings={}))


async def test_a_compiled_statement_reads_and_writes_values_as_sqlalchemy_does(db_url: str) -> None:
    db = Database(db_url)
    try:
        await _merchant(db)
        # A whole second in another zone, JSON, bytes and NULL, written each way and read each way.
        other_zone = datetime(2026, 12, 3, 17, 0, 0, tzinfo=timezone(timedelta(hours=9)))
        for key in ("k1", "k2", "k3"):  # the first run of a statement goes through execute, later ones compiled
            async with db.tx() as conn:
                await sql.insert(conn, ik, _row(key, created_at=other_zone, locked_until=NOW + timedelta(seconds=3)))
        async with db.tx() as conn:
            await conn.execute(ik.insert().values(**_row("core", created_at=other_zone,
                                                         locked_until=NOW + timedelta(seconds=3))))
        async with db.read() as conn:
            compiled = [await sql.one(conn, BY_KEY, {"key": k}) for k in ("k1", "k2", "k3", "core")]
            core = [dict((await conn.execute(sa.select(ik).where(ik.c.key == k))).mappings().one())
                    for k in ("k1", "k2", "k3", "core")]
        for got in (*compiled, *core):
            assert got is not None
            assert got["created_at"] == other_zone and got["created_at"].utcoffset() == timedelta(0)
            assert got["locked_until"] == NOW + timedelta(seconds=3)
            assert got["response_headers"] == {"content-type": "application/json"}
            assert got["response_body"] == b"{\"a\": 1}" and got["holder"] is None
        assert [{**c, "key": ""} for c in compiled] == [{**c, "key": ""} for c in core]
    finally:
        await db.dispose()


async def test_a_taken_key_fails_at_its_line_and_no_failure_costs_a_connection(db_url: str) -> None:
    db = Database(db_url, pool_size=2)
    try:
        await _merchant(db)
        async with db.tx() as conn:
            await sql.insert(conn, ik, _row("dup"))
        for i in range(8):  # more failures than the pool holds connections
            reached = False
            with pytest.raises(Taken):
                async with db.tx() as conn:
                    await sql.insert(conn, ik, _row(f"fresh-{i}"))
                    await sql.insert(conn, ik, _row("dup"), taken=Taken)
                    reached = True
            assert not reached
            with pytest.raises(IntegrityError):
                async with db.autocommit() as conn:
                    await sql.insert(conn, ik, _row("dup"))
        async with db.read() as conn:
            keys = [r["key"] for r in await sql.rows(conn, sa.select(ik.c.key))]
        assert keys == ["dup"]  # each failed transaction was rolled back whole
    finally:
        await db.dispose()


async def test_a_conditional_update_that_lost_its_race_fails_at_its_line(db_url: str) -> None:
    db = Database(db_url)
    try:
        await _merchant(db)
        async with db.tx() as conn:
            await sql.insert(conn, ik, _row("c", status="in_progress"))
        for _ in range(3):
            with pytest.raises(Taken):
                async with db.tx() as conn:
                    await sql.update(conn, ik, {"response_status": 201}, key="c")
                    await sql.update(conn, ik, {"status": "completed"}, key="c", status="completed",
                                     conflict=Taken)
        async with db.read() as conn:
            row = await sql.one(conn, BY_KEY, {"key": "c"})
        assert row is not None and (row["status"], row["response_status"]) == ("in_progress", 200)
    finally:
        await db.dispose()


async def test_writes_made_together_fail_at_their_line_and_leave_nothing(db_url: str) -> None:
    """`sql.write_all`: one statement on PostgreSQL, in order on SQLite; either way it fails where it is called,
    with the failing write's own error, and its transaction leaves nothing behind."""
    db = Database(db_url)
    try:
        await _merchant(db)
        async with db.tx() as conn:
            await sql.insert(conn, ik, _row("a", status="in_progress"))
        for _ in range(3):  # the first run through execute, later ones compiled
            reached = False
            with pytest.raises(Taken):
                async with db.tx() as conn:
                    await sql.write_all(conn, [
                        sql.Insert(ik, [_row("b"), _row("c")]),
                        sql.Update(ik, {"response_status": 201}, {"key": "a"}),
                        sql.Update(ik, {"status": "completed"}, {"key": "a", "status": "completed"}, conflict=Taken),
                    ])
                    reached = True
            assert not reached
            with pytest.raises(IntegrityError):
                async with db.tx() as conn:
                    await sql.write_all(conn, [sql.Update(ik, {"response_status": 202}, {"key": "a"}),
                                               sql.Insert(ik, [_row("d"), _row("a")])])
                    reached = True
            assert not reached
        async with db.read() as conn:
            rows = await sql.rows(conn, sa.select(ik.c.key, ik.c.status, ik.c.response_status))
        assert rows == [{"key": "a", "status": "in_progress", "response_status": 200}]
        for i in range(2):
            async with db.tx() as conn:
                await sql.write_all(conn, [
                    sql.Update(ik, {"status": "completed"}, {"key": "a", "status": "in_progress"}, conflict=Taken),
                    sql.Insert(ik, [_row(f"e{i}")]),
                    sql.Update(ik, {"response_status": 204}, {"key": "nobody"}),  # no conflict: may match nothing
                ])
            async with db.tx() as conn:
                await sql.write_all(conn, [sql.Update(ik, {"status": "in_progress"}, {"key": "a"}),
                                           sql.Update(ik, {"key": f"r{i}"}, {"key": f"e{i}"})])
        async with db.read() as conn:
            keys = sorted(r["key"] for r in await sql.rows(conn, sa.select(ik.c.key)))
        assert keys == ["a", "r0", "r1"]
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
                assert await sql.one(conn, BY_KEY, {"key": "none"}) is None
            done.append(i)

        async with asyncio.timeout(30):
            await asyncio.gather(*(borrow(i) for i in range(40)))
        assert sorted(done) == list(range(40))
    finally:
        await db.dispose()


async def test_sqlite_wal_is_copied_back_off_the_event_loop(tmp_path: Path, sqlite_template: Path) -> None:
    """The writer's own automatic checkpoint is far away; the checkpointer thread copies the WAL into the database
    file as it grows."""
    path = tmp_path / "ck.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    try:
        await _merchant(db)
        for i in range(40):
            async with db.tx() as conn:
                await sql.insert(conn, ik, _row(f"w{i}"))
        await asyncio.sleep(Checkpointer.EVERY_S * 5)
        # The database file alone, without its WAL, already holds every committed row.
        alone = tmp_path / "alone.db"
        shutil.copy(path, alone)  # the file alone: its -wal is not copied
        with sqlite3.connect(alone) as check:
            assert check.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0] == 40
    finally:
        await db.dispose()
