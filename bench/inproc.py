"""In-process probe of the hot path: drives the ASGI app directly (no sockets, no client), counts SQL statements
and transactions per payment, and optionally profiles. `python bench/inproc.py [--db URL] [-n N] [--profile]`."""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson


async def call(app, method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 9090), "client": ("127.0.0.1", 5555), "headers": headers or []}
    sent = False
    out: dict = {"body": b""}

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")

    await app(scope, receive, send)
    return out


def count_statements(stmts: dict[str, int], on: list[bool]) -> None:
    """Count what reaches the database, from when `on[0]` is set: on SQLite every connection's trace callback sees
    each statement; on PostgreSQL each asyncpg call (a statement, a prepare, BEGIN, COMMIT) is a round trip."""
    import sqlite3

    import asyncpg
    from asyncpg.prepared_stmt import PreparedStatement
    from asyncpg.transaction import Transaction
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    def tally(sql: str) -> None:
        if not on[0]:
            return
        head = sql.lstrip()[:8].upper()
        if os.environ.get("SHOW_SQL"):
            print("SQL", sql[:150].replace("\n", " "))
        if head.startswith("BEGIN"):
            stmts["begin"] += 1
        elif head.startswith(("COMMIT", "ROLLBACK")):
            stmts["end"] += 1
        elif not head.startswith("PRAGMA"):
            stmts["n"] += 1

    @event.listens_for(Pool, "connect")
    def traced(dbapi_conn, _record):
        if on[0]:
            stmts["connects"] += 1
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.set_trace_callback(tally)

    def counting(cls, name, label=None):
        original = getattr(cls, name)

        async def counted(self, *args, _o=original, **kw):
            tally(label or (args[0] if args and isinstance(args[0], str) else "stmt"))
            return await _o(self, *args, **kw)

        setattr(cls, name, counted)

    for name in ("execute", "fetch", "fetchrow", "fetchval", "prepare"):
        counting(asyncpg.Connection, name)
    for name in ("fetch", "fetchrow", "fetchval", "executemany"):
        counting(PreparedStatement, name, "stmt")
    counting(Transaction, "start", "BEGIN")
    counting(Transaction, "commit", "COMMIT")
    counting(Transaction, "rollback", "ROLLBACK")


def bench_app(db: str) -> tuple[Any, Any]:
    """Settings and the app as the benchmark runs it (no worker, no rate limit), on `db` migrated, or on a new
    SQLite file."""
    tmp = tempfile.mkdtemp()
    os.environ.update({"GYEOL_DATABASE_URL": db or f"sqlite:///{tmp}/p.db", "GYEOL_VAR_DIR": tmp,
                       "GYEOL_TEST_SECRET_KEY": "test_sk_bench", "GYEOL_WORKER": "external",
                       "GYEOL_LOG_LEVEL": "WARNING", "GYEOL_RATE_LIMIT": "100000000"})
    from gyeol.app import create_app
    from gyeol.config import Settings
    from gyeol.db.migrate import upgrade
    from gyeol.observability import configure_logging

    s = Settings()
    configure_logging(s.log_level, s.log_json)
    upgrade(s.database_url)
    return s, create_app(s, bootstrap=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--count-sql", action="store_true")
    ap.add_argument("-c", type=int, default=1, help="payments in flight at once")
    a = ap.parse_args()
    s, app = bench_app(a.db)
    auth = b"Basic " + base64.b64encode(b"test_sk_bench:")
    stmts = {"n": 0, "begin": 0, "end": 0, "connects": 0}
    counting = [False]
    if a.count_sql:
        count_statements(stmts, counting)
    async with app.router.lifespan_context(app):

        async def one() -> None:
            oid = uuid.uuid4().hex
            body = orjson.dumps({"orderId": oid, "amount": 10000, "currency": "KRW", "confirm": True,
                                 "methodOptions": {"token": "tok_visa"}})
            h = [(b"authorization", auth), (b"content-type", b"application/json"),
                 (b"idempotency-key", oid.encode()), (b"content-length", str(len(body)).encode())]
            r = await call(app, "POST", "/api/v1/payments/intent", body, h)
            assert r["status"] == 200, r
            pid = orjson.loads(r["body"])["paymentId"]
            r = await call(app, "GET", f"/api/v1/payments/{pid}", b"", [(b"authorization", auth)])
            assert r["status"] == 200 and orjson.loads(r["body"])["status"] == "succeeded", r

        for _ in range(20):
            await one()
        counting[0] = True
        prof = cProfile.Profile() if a.profile else None
        t0, c0 = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        left = a.n

        async def flow() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await one()

        await asyncio.gather(*(flow() for _ in range(a.c)))
        if prof:
            prof.disable()
        t1, c1 = time.perf_counter(), time.process_time()
        print(f"{a.n} payments: {a.n / (t1 - t0):.0f}/s, {(c1 - c0) / a.n * 1000:.2f} ms CPU each;"
              f" {stmts['n'] / a.n:.1f} statements, {stmts['begin'] / a.n:.1f} transactions per payment"
              f" ({(stmts['n'] + stmts['begin'] + stmts['end']) / a.n:.1f} with BEGIN and COMMIT);"
              f" {stmts['connects']} connections opened")
        if prof:
            out = Path(tempfile.gettempdir()) / "gyeol-inproc.prof"
            prof.dump_stats(out)
            print(f"profile: {out} (snakeviz or pstats)")
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    asyncio.run(main())
