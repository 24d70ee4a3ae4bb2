"""`make bench`'s reconciliation (issue 29): 100,000 payments of one Korean day reconciled against the sandbox PG's
report of the same size, on SQLite and on PostgreSQL (goal: under 30 s each), with the time of each phase: the
report (the sandbox's books read and turned into rows), Gyeol's books (the settlements, with their payments' PG
transaction ids), the match, and the run's write. Then the day of tests/test_reconciliation.py through the Toss
simulator at its full size, 1,000 payments and 50 refunds, which must reconcile fully matched.

The 100,000 payments are copies of one real payment (its order, payment, settlement and sandbox charge), each
with its own ids, amount and minute of the day, written with multi-row INSERTs: only the reconciliation is timed.

`python bench/reconcile.py [--payments N] [--store sqlite|postgres] [--no-day]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from servers import PY, ROOT, create_pg_database, drop_pg_database, write_results

DAY = date(2026, 3, 2)  # a Monday: its payout day is two business days later
GOAL_S = 30.0
DAY_PAYMENTS = 1000


def _settings(url: str, var: Path) -> Any:
    from gyeol.config import Settings

    return Settings(database_url=url, var_dir=var, env="test", log_level="WARNING",
                    rate_limit=1e9, worker="external")


async def _template(svc: Any, app: Any) -> tuple[str, str]:
    """One real card payment through the API: the merchant's id and the payment's."""
    import httpx

    merchant, key = await svc.merchants.create("bench")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                 headers={"Authorization": f"Bearer {key}"}) as c:
        r = await c.post("/api/v1/payments/intent", json={"orderId": "bench-template", "amount": 10_000,
                                                          "currency": "KRW", "confirm": True,
                                                          "methodOptions": {"token": "tok_visa"}})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        return merchant["id"], r.json()["paymentId"]


def _copies(url: str, payment_id: str, n: int) -> None:
    """`n` copies of the payment, sold through `DAY` in Korea, each with its settlement and the sandbox's charge."""
    import sqlalchemy as sa

    from gyeol.core.clock import KST
    from gyeol.core.money import apply_rate
    from gyeol.core.settlements.service import add_business_days
    from gyeol.db.engine import sync_url
    from gyeol.models import orders, payments, sandbox_charges, settlements

    engine = sa.create_engine(sync_url(url))
    start = datetime.combine(DAY, clock_time(0), KST)
    payout = add_business_days(DAY, 2)
    with engine.begin() as conn:
        p = dict(conn.execute(sa.select(payments).where(payments.c.id == payment_id)).mappings().one())
        o = dict(conn.execute(sa.select(orders).where(orders.c.id == p["order_pk"])).mappings().one())
        s = dict(conn.execute(sa.select(settlements).where(settlements.c.payment_id == payment_id))
                 .mappings().one())
        ch = dict(conn.execute(sa.select(sandbox_charges).where(sandbox_charges.c.id == p["pg_transaction_id"]))
                  .mappings().one())
        for first in range(0, n, 5000):
            rows: dict[str, list[dict[str, Any]]] = {"o": [], "p": [], "s": [], "c": []}
            for i in range(first, min(n, first + 5000)):
                at = start + timedelta(seconds=i * 86_000 / n)
                amount = 1000 + i % 50_000
                tag = f"{i:07d}{uuid.uuid4().hex[:8]}"
                pay, order, charge = f"pay_b{tag}", f"ord-b{tag}", f"ch_b{tag}"
                fee = apply_rate(amount, 250)
                rows["o"].append({**o, "id": f"ordpk_b{tag}", "order_id": order, "amount": amount,
                                  "paid_amount": amount, "payment_id": pay, "payment_key": None,
                                  "created_at": at, "paid_at": at})
                rows["p"].append({**p, "id": pay, "order_pk": f"ordpk_b{tag}", "order_id": order, "amount": amount,
                                  "authorized_amount": amount, "captured_amount": amount, "pg_transaction_id": charge,
                                  "receipt_id": None, "payment_number": None, "payment_key": None,
                                  "created_at": at, "updated_at": at, "authorized_at": at, "captured_at": at})
                rows["s"].append({**s, "id": f"stl_b{tag}", "payment_id": pay, "source_id": pay, "order_id": order,
                                  "gross_amount": amount, "fee_amount": fee, "net_amount": amount - fee,
                                  "payout_date": payout, "created_at": at})
                rows["c"].append({**ch, "id": charge, "reference": f"att_b{tag}", "payment_id": pay,
                                  "order_id": order, "amount": amount, "created_at": at, "updated_at": at})
            for table, key in ((orders, "o"), (payments, "p"), (settlements, "s"), (sandbox_charges, "c")):
                conn.execute(table.insert(), rows[key])
    engine.dispose()


async def _measure(url: str, var: Path, n: int) -> dict[str, Any]:
    from gyeol.app import create_app
    from gyeol.core.context import Caller
    from gyeol.core.reconciliation import books, matching
    from gyeol.core.reconciliation import repository as repo
    from gyeol.db.migrate import upgrade
    from gyeol.observability import configure_logging
    from gyeol.services import build_services

    upgrade(url)
    settings = _settings(url, var)
    configure_logging(settings.log_level, settings.log_json)
    svc = build_services(settings)
    try:
        merchant_id, payment_id = await _template(svc, create_app(settings, svc))
        t = time.perf_counter()
        await asyncio.to_thread(_copies, url, payment_id, n)
        seeded = time.perf_counter() - t
        caller, recon = Caller(merchant_id, "test"), svc.reconciliation
        t = time.perf_counter()
        run = await recon.run(caller, DAY, DAY, pg="sandbox")
        total = time.perf_counter() - t
        assert run.counts["matched"] == n and run.report_rows == n, run
        # The same run again, phase by phase (it replaces the first: still one run).
        key = repo.RunKey(merchant_id, False, "sandbox", "api", DAY, DAY)
        phases: dict[str, float] = {}
        t = time.perf_counter()
        report = await recon._report(key)
        phases["report"] = time.perf_counter() - t
        t = time.perf_counter()
        async with svc.db.read() as conn:
            entries = await books.entries(conn, merchant_id, False, "sandbox", DAY - timedelta(days=1),
                                          DAY + timedelta(days=1))
        phases["books"] = time.perf_counter() - t
        t = time.perf_counter()
        outcome = matching.match(entries, report, DAY, DAY, recon.today())
        phases["match"] = time.perf_counter() - t
        t = time.perf_counter()
        again = await recon._write(key, outcome)
        phases["write"] = time.perf_counter() - t
        assert again.id == run.id and again.counts == run.counts
        return {"payments": n, "seconds": round(total, 2), "phases": {k: round(v, 2) for k, v in phases.items()},
                "seed_seconds": round(seeded, 1), "met": total < GOAL_S}
    finally:
        await svc.close()


def reconcile_store(store: str, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gyeol-recon-") as tmp:
        name = f"gyeol_recon_{uuid.uuid4().hex[:8]}"
        url = f"sqlite:///{tmp}/gyeol.db" if store == "sqlite" else create_pg_database(name)
        try:
            return {"store": store, **asyncio.run(_measure(url, Path(tmp) / "var", n))}
        finally:
            if store == "postgres":
                drop_pg_database(name)


def day_through_toss(payments: int) -> dict[str, Any]:
    """tests/test_reconciliation.py's day through the Toss simulator, at `payments` (and a twentieth as many
    refunds), on both stores."""
    env = {**os.environ, "GYEOL_RECONCILE_DAY_PAYMENTS": str(payments), "PYTHONPATH": str(ROOT / "src")}
    t = time.perf_counter()
    done = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:randomly", "tests/test_reconciliation.py", "-k",
                           "day_through_toss"], cwd=ROOT, env=env, capture_output=True, text=True)
    return {"payments": payments, "refunds": payments // 20, "passed": done.returncode == 0,
            "seconds": round(time.perf_counter() - t, 1), "output": done.stdout[-2000:]}


def bench(payments: int, day: int | None = DAY_PAYMENTS, stores: tuple[str, ...] = ("sqlite", "postgres")
          ) -> dict[str, Any]:
    results = [reconcile_store(s, payments) for s in stores]
    print(f"\nreconciliation: {payments:,} payments against a report of the same size (goal < {GOAL_S:.0f} s)")
    print("  store      seconds  report  books  match  write  goal")
    for r in results:
        p = r["phases"]
        print(f"  {r['store']:<9} {r['seconds']:>8} {p['report']:>7} {p['books']:>6} {p['match']:>6} {p['write']:>6}"
              f"  {'met' if r['met'] else 'MISSED'}")
    out: dict[str, Any] = {"reconcile": results}
    if day:
        out["day"] = day_through_toss(day)
        d = out["day"]
        print(f"  a day through the Toss simulator: {d['payments']:,} payments and {d['refunds']} refunds, "
              f"{'fully matched' if d['passed'] else 'FAILED'} on both stores ({d['seconds']} s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--payments", type=int, default=100_000)
    ap.add_argument("--store", choices=("sqlite", "postgres"), action="append")
    ap.add_argument("--no-day", action="store_true", help="skip the day through the Toss simulator")
    a = ap.parse_args()
    out = bench(a.payments, None if a.no_day else DAY_PAYMENTS, tuple(a.store or ("sqlite", "postgres")))
    print(f"raw figures: bench/results/{write_results('reconcile-', out).name}")


if __name__ == "__main__":
    main()
