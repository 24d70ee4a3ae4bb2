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

from conftest import Env
from gyeol.core.errors import DomainError
from gyeol.db import prepared
from gyeol.db.engine import Database, FirstWrite
from gyeol.db.sqlite_inloop import Checkpointer
from gyeol.models import api_keys, merchants
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


async def test_held_writes_are_written_at_commit_and_dropped_on_rollback(db_url: str) -> None:
    db = Database(db_url)
    try:
        await _merchant(db)
        async with db.tx() as conn:
            await prepared.write(conn, INSERT, _row("d1"))
            async with db.read() as other:  # not yet written: another connection cannot see it
                assert await prepared.fetch_one(other, GET, {"key": "d1"}) is None
        with pytest.raises(DomainError):
            async with db.tx() as conn:
                await prepared.write(conn, INSERT, _row("d2"))
                raise DomainError("conflict", "NO", "rolled back")
        async with db.tx() as conn:  # the same connection again: nothing of d2 is left over to send
            pass
        async with db.read() as conn:
            assert await prepared.fetch_one(conn, GET, {"key": "d1"}) is not None
            assert await prepared.fetch_one(conn, GET, {"key": "d2"}) is None
    finally:
        await db.dispose()


SET_STATUS = prepared.update_of(ik, ("status",), ("key", "status"))


class _Lost(Exception):
    pass


class _Taken(Exception):
    pass


async def test_held_writes_keep_their_order_and_answer_as_statements_would(db_url: str) -> None:
    """What a statement sent at once would have done, held writes do: a later write sees an earlier one on its
    table, SQLAlchemy's own statements see them, a conditional update that touches nothing fails the transaction,
    and so does a unique key, with the error each write names."""
    db = Database(db_url)
    try:
        await _merchant(db)
        async with db.tx() as conn:
            await prepared.write(conn, INSERT, _row("o1", status="in_progress"))
            await prepared.write(conn, INSERT, _row("o2", status="in_progress"))
            # On its table after two INSERTs: sent after them, or it would not see the rows (one snapshot).
            await prepared.write(conn, SET_STATUS, {"status": "completed", "w_key": "o1", "w_status": "in_progress"},
                                 conflict=_Lost)
            seen = (await conn.execute(sa.select(ik.c.key, ik.c.status).order_by(ik.c.key))).all()
        assert [tuple(r) for r in seen] == [("o1", "completed"), ("o2", "in_progress")]

        for mixed in (False, True):  # alone, and with other writes in one statement
            with pytest.raises(_Lost):
                async with db.tx() as conn:
                    await prepared.write(conn, INSERT, _row(f"lost{mixed}"))
                    if mixed:
                        await prepared.write(conn, INSERT, _row(f"lost{mixed}b"))
                    await prepared.write(conn, SET_STATUS, {"status": "completed", "w_key": "o2",
                                                            "w_status": "expired"}, conflict=_Lost)
            with pytest.raises(_Taken):
                async with db.tx() as conn:
                    await prepared.write(conn, INSERT, _row(f"taken{mixed}"))
                    if mixed:
                        await prepared.write(conn, SET_STATUS, {"status": "expired", "w_key": "o2",
                                                                "w_status": "in_progress"})
                    await prepared.write(conn, INSERT, _row("o1"), taken=_Taken)
            # Taken along by a statement that needs its count, and found taken there.
            with pytest.raises(_Taken):
                async with db.tx() as conn:
                    await prepared.write(conn, INSERT, _row("o1"), taken=_Taken)
                    await prepared.execute(conn, prepared.insert_of(merchants, MERCHANT),
                                           {**MERCHANT, "id": f"mch_{mixed}"})
        assert sorted(await _keys(db)) == ["o1", "o2"]  # every failed transaction left nothing
        async with db.read() as conn:
            assert (await prepared.fetch_one(conn, GET, {"key": "o2"}) or {})["status"] == "in_progress"
    finally:
        await db.dispose()


MERCHANT = {"id": "mch_q", "name": "q", "created_at": NOW, "settings": {}}


def _api_key(key_id: str, merchant_id: str) -> dict[str, object]:
    return {"id": key_id, "merchant_id": merchant_id, "mode": "test", "key_hash": key_id, "prefix": "sk_test_",
            "revoked_at": None, "created_at": NOW}


async def test_a_row_and_one_that_references_it_may_be_held_together(db_url: str) -> None:
    """Foreign keys are checked at the end of a statement: a merchant and a key naming it go in one."""
    db = Database(db_url)
    insert_key = prepared.insert_of(api_keys, _api_key("k", "m"))
    try:
        async with db.tx() as conn:
            await prepared.write(conn, prepared.insert_of(merchants, MERCHANT), MERCHANT)
            await prepared.write(conn, insert_key, _api_key("key_q", "mch_q"))
        async with db.read() as conn:
            found = (await conn.execute(sa.select(api_keys.c.merchant_id))).scalars().all()
        assert found == ["mch_q"]
        with pytest.raises(IntegrityError):  # and a missing one is still refused
            async with db.tx() as conn:
                await prepared.write(conn, insert_key, _api_key("key_x", "mch_none"))
                await prepared.write(conn, insert_key, _api_key("key_y", "mch_q"))
    finally:
        await db.dispose()


def _sent_to_postgresql(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements asyncpg sends from here on, each a round trip, from the calling task only (background jobs
    run in their own)."""
    import asyncpg

    mine = asyncio.current_task()
    sent: list[str] = []
    for name in ("execute", "fetch", "fetchrow", "fetchval", "prepare"):
        original = getattr(asyncpg.Connection, name)

        async def counted(self: asyncpg.Connection, query: str, *args: object, _o: object = original,
                          **kw: object) -> object:
            if asyncio.current_task() is mine:
                sent.append(query)
            return await _o(self, query, *args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(asyncpg.Connection, name, counted)
    return sent


async def test_held_writes_cost_one_round_trip_on_postgresql(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no round trips to save")
    sent = _sent_to_postgresql(monkeypatch)
    db = Database(db_url)
    try:
        await _merchant(db)
        sent.clear()
        async with db.tx() as conn:
            await prepared.write(conn, INSERT, _row("c1"))
            await prepared.write(conn, INSERT, _row("c2"))
            await prepared.execute(conn, prepared.insert_of(merchants, MERCHANT), MERCHANT)  # takes them along
            await prepared.write(conn, SET_STATUS, {"status": "expired", "w_key": "c1", "w_status": "completed"},
                                 conflict=_Lost)
            await prepared.write(conn, prepared.insert_of(api_keys, _api_key("k", "m")), _api_key("key_c", "mch_q"))
        statements = [q for q in sent if q not in ("BEGIN;", "COMMIT;")]
        assert len(statements) == 2, sent
        async with db.read() as conn:
            assert (await prepared.fetch_one(conn, GET, {"key": "c1"}) or {})["status"] == "expired"
            assert (await conn.execute(sa.select(api_keys.c.merchant_id))).scalars().all() == ["mch_q"]
        assert sorted(await _keys(db)) == ["c1", "c2"]
        sent.clear()
        insert_key = prepared.insert_of(api_keys, _api_key("k", "m"))
        async with db.tx() as conn:  # nothing but held writes: one statement, atomic by itself, no BEGIN or COMMIT
            await prepared.write(conn, insert_key, _api_key("key_d", "mch_q"))
            await prepared.write(conn, SET_STATUS, {"status": "expired", "w_key": "c2", "w_status": "completed"})
        assert len(sent) == 1 and sent[0].startswith("WITH "), sent
        sent.clear()
        # A count to check needs the transaction: the statement must not have committed when the count says no.
        with pytest.raises(_Lost):
            async with db.tx() as conn:
                await prepared.write(conn, insert_key, _api_key("key_e", "mch_q"))
                await prepared.write(conn, SET_STATUS, {"status": "expired", "w_key": "c2", "w_status": "completed"},
                                     conflict=_Lost)
        assert sent[0] == "BEGIN;" and sent[-1] == "ROLLBACK;" and len(sent) == 3, sent
        async with db.read() as conn:
            assert (await prepared.fetch_one(conn, GET, {"key": "c2"}) or {})["status"] == "expired"
            assert sorted((await conn.execute(sa.select(api_keys.c.id))).scalars()) == ["key_c", "key_d"]
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


async def test_a_card_payment_costs_eight_round_trips_on_postgresql(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through HTTP: the first transaction is one statement; the PG's answer is applied in BEGIN, one locked read,
    one statement of every write, COMMIT. A statement more on this path is a regression, and this test says where."""
    if not env.svc.db.url.startswith("postgresql"):
        pytest.skip("SQLite has no round trips to save")

    sent = _sent_to_postgresql(monkeypatch)  # the app runs in the test's task
    for n in range(2):  # the first payment compiles and prepares; the second is counted
        sent.clear()
        r = await env.client.post("/api/v1/payments/intent", headers={"Idempotency-Key": f"rt-{n}"}, json={
            "orderId": f"rt-{n}", "amount": 1000, "confirm": True, "methodOptions": {"token": "tok_visa"}})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        got = await env.client.get(f"/api/v1/payments/{r.json()['paymentId']}")
        assert got.json()["status"] == "succeeded"
    expected = [
        "WITH w0 AS (INSERT INTO idempotency_keys",  # with the order, payment, attempt, event; no BEGIN, COMMIT
        "INSERT INTO sandbox_charges",  # the sandbox PG's own books
        "BEGIN;",
        "SELECT payments.id",  # the attempt, its payment and order, locked
        "WITH w0 AS (UPDATE payment_attempts",  # and the payment, order, settlement, events
        "COMMIT;",
        "UPDATE idempotency_keys",  # the response kept
        "SELECT payments.id",  # the GET
    ]
    assert len(sent) == len(expected) and all(q.startswith(e) for q, e in zip(sent, expected, strict=True)), sent
    assert "FOR UPDATE OF payments, orders" in sent[3]
    for table in ("UPDATE payments", "UPDATE orders", "INSERT INTO settlements", "INSERT INTO outbox_events"):
        assert table in sent[4]
