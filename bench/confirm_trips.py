"""Database round trips of one kiosk confirm (`POST /v1/payments/confirm`), counted as `inproc.py --count-sql` counts
them (on PostgreSQL each asyncpg call, BEGIN and COMMIT included, is one). The sandbox PG keeps its books in the same
database, so its own statements (the charge it books) are in the count.

`python bench/confirm_trips.py --db postgresql://postgres@localhost:5432/DB [-n N]`: seed 001's create → confirm,
and, where the window authenticates (`PaymentService.authenticate`), create → authenticate → confirm."""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from inproc import bench_app, call, count_statements  # noqa: E402


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="")
    ap.add_argument("-n", type=int, default=50)
    a = ap.parse_args()
    s, app = bench_app(a.db)
    from gyeol.core.context import Caller
    from gyeol.core.payments.commands import MethodSpec

    auth = [(b"authorization", b"Basic " + base64.b64encode(b"test_sk_bench:")),
            (b"content-type", b"application/json")]
    stmts = {"n": 0, "begin": 0, "end": 0, "connects": 0}
    counting = [False]
    count_statements(stmts, counting)

    def trips() -> int:
        # asyncpg's Transaction.start and commit each run "BEGIN;" / "COMMIT;" on the connection: both are counted.
        halved = 2 if s.database_url.startswith("postgres") else 1
        return stmts["n"] + (stmts["begin"] + stmts["end"]) // halved

    window = hasattr(app.state.services.payments, "authenticate")
    async with app.router.lifespan_context(app):

        async def confirm(authenticate: bool) -> int:
            key = uuid.uuid4().hex
            body = orjson.dumps({"paymentKey": key, "orderId": "o" + key, "amount": 10000})
            r = await call(app, "POST", "/v1/payments", body, auth)
            assert r["status"] == 200, r
            p = orjson.loads(r["body"])
            if authenticate:
                svc = app.state.services
                merchant = (await svc.merchants.default())["id"]
                await svc.payments.authenticate(Caller(merchant_id=merchant, mode="test"), p["paymentId"],
                                                MethodSpec(token="tok_visa"))  # noqa: S106 (a test token)
            counting[0] = True
            before = trips()
            r = await call(app, "POST", "/v1/payments/confirm", body, auth)
            counting[0] = False
            assert r["status"] == 200 and orjson.loads(r["body"])["status"] == "APPROVED", r
            return trips() - before

        for flow, authenticate in (("create -> confirm", False), ("create -> authenticate -> confirm", True)):
            if authenticate and not window:
                continue
            for _ in range(5):
                await confirm(authenticate)
            counts = [await confirm(authenticate) for _ in range(a.n)]
            print(f"{flow}: {sum(counts) / len(counts):.1f} round trips per confirm (min {min(counts)}, "
                  f"max {max(counts)})")


if __name__ == "__main__":
    asyncio.run(main())
