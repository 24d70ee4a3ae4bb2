"""The dashboard's pages on a store of 100,000 payments (issue 30's speed goals), for `bench/run.py --only dashboard`.

Each store's server starts fresh (`servers.Server`); the payments are then written straight into its database, with
their orders, their refunds and the daily totals they add up to (by the core's own rule, `core.payments.totals`),
as the app would have left them, spread over 90 days. A staff member signs in, and each page is asked for one at a
time, `reps` times: the server's time for each is read from its own request-duration metric
(`gyeol_http_request_duration_seconds`, the sum's growth across one request), so the client's time is not counted.
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import httpx
from servers import ROOT, Server

sys.path.insert(0, str(ROOT / "src"))  # the tables and rules of the checkout the servers run

PASSWORD = "bench dashboard password"  # noqa: S105 (a throwaway store's)
EMAIL = "bench@gyeol.local"
GOALS_MS = {"home": 300, "payments": 150, "filtered": 150}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SUM = re.compile(r'^gyeol_http_request_duration_seconds_sum\{route="([^"]+)"\} (\S+)$', re.M)
# channel, its share, and what a payment of it carries
CHANNELS = (("api", 0.55), ("toss_payment", 0.2), ("toss_confirm", 0.1), ("shopping", 0.15))
METHODS = (("card", 0.85), ("bank", 0.1), ("virtual_account", 0.05))
# status, its share, and whether money was taken
STATUSES = (("succeeded", 0.78), ("failed", 0.08), ("canceled", 0.05), ("authorized", 0.02), ("refunded", 0.04),
            ("created", 0.03))


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def fill(url: str, count: int, *, days: int = 90, seed: int = 30) -> dict[str, Any]:
    """`count` payments of the default merchant in test mode, over the last `days` days; what the pages are then
    asked for (a searched orderId)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql, sqlite

    from gyeol.core.payments import rows as payment_rows
    from gyeol.core.payments import totals
    from gyeol.core.refunds.records import Refund
    from gyeol.db.engine import sync_url
    from gyeol.ids import new_id
    from gyeol.models import daily_totals, merchants, orders, payments, refunds

    rng = random.Random(seed)
    engine = sa.create_engine(sync_url(url))
    now = datetime.now(UTC)
    with engine.connect() as conn:
        merchant_id = conn.execute(sa.select(merchants.c.id).where(merchants.c.is_default)).scalar_one()
    summed: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(totals.COUNTERS))

    def count_in(adds: list[Any]) -> None:
        for add in adds:
            for row in add.rows:
                key = tuple(row[c.name] for c in daily_totals.primary_key.columns)
                summed[key] = [a + row[c] for a, c in zip(summed[key], totals.COUNTERS, strict=True)]

    searched = ""
    batch: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = ([], [], [])
    started = time.monotonic()
    for i in range(count):
        at = now - timedelta(seconds=rng.uniform(0, days * 86400))
        channel, method, status = _pick(rng, CHANNELS), _pick(rng, METHODS), _pick(rng, STATUSES)
        amount = rng.randrange(1_000, 200_000, 100)
        order_id = f"bench-{i:07d}"
        searched = order_id if i == count // 2 else searched
        taken = status in ("succeeded", "refunded", "canceled") and rng.random() < 0.9
        held = taken or status == "authorized"
        user = f"user{rng.randrange(5000)}" if channel == "shopping" else None
        p = payment_rows.new_payment(
            merchant_id=merchant_id, livemode=False, channel=channel, order_id=order_id, amount=amount,
            currency="KRW", expires_at=at + timedelta(minutes=30), now=at, order_pk=new_id("ord"), status=status,
            method_type=None if status == "created" else method, user_id=user,
            customer_id=f"cus_{rng.randrange(20_000)}" if rng.random() < 0.3 else None,
            payment_key=f"pk_{order_id}" if channel in ("toss_payment", "toss_confirm") else None,
            payment_number=f"PAY-{at:%Y%m%d}-{i:07d}" if channel == "shopping" else None,
            authorized_amount=amount if held else 0, captured_amount=amount if taken else 0,
            refunded_amount=amount if taken and status in ("refunded", "canceled") else 0,
            card_brand="visa" if method == "card" and held else None,
            card_last4="4242" if method == "card" and held else None,
            authorized_at=at if held else None, captured_at=at if taken else None,
            failure_reason="card_declined" if status == "failed" else None)
        batch[0].append({"id": p.order_pk, "merchant_id": merchant_id, "livemode": False, "order_id": order_id,
                         "amount": amount, "currency": "KRW", "status": "paid" if taken else "created",
                         "paid_amount": amount if taken else 0, "refunded_amount": p.refunded_amount,
                         "customer_id": p.customer_id, "user_id": user, "order_name": None, "items": None,
                         "metadata": {}, "payment_id": p.id if taken else None, "payment_key": p.payment_key,
                         "paid_at": at if taken else None, "created_at": at, "updated_at": at})
        batch[1].append({c.name: getattr(p, c.name) for c in payments.c})
        count_in(totals.moved(None, p))
        if p.refunded_amount:
            r = Refund(id=new_id("re"), merchant_id=merchant_id, livemode=False, payment_id=p.id, amount=amount,
                       currency="KRW", status="succeeded", reason=None, is_cancel=status == "canceled", metadata={},
                       pg_transaction_id=None, failure_reason=None, connector="sandbox",
                       created_at=at + timedelta(hours=1), updated_at=at + timedelta(hours=1))
            batch[2].append({c.name: getattr(r, c.name) for c in refunds.c})
            count_in(totals.refunded(r, p))
        if len(batch[1]) == 5000 or i == count - 1:
            with engine.begin() as conn:
                for table, written in zip((orders, payments, refunds), batch, strict=True):
                    if written:
                        conn.execute(table.insert(), written)
            batch = ([], [], [])
    with engine.begin() as conn:
        keys = [c.name for c in daily_totals.primary_key.columns]
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(daily_totals)
        # Added to the rows of the payments the warm-up made.
        conn.execute(insert.on_conflict_do_update(index_elements=keys, set_={
            c: daily_totals.c[c] + insert.excluded[c] for c in totals.COUNTERS}), [
            {**dict(zip(keys, k, strict=True)), **dict(zip(totals.COUNTERS, v, strict=True))}
            for k, v in summed.items()])
        if conn.dialect.name == "postgresql":
            # As autovacuum would after such a load: the planner's figures for the new rows.
            for table in ("orders", "payments", "refunds", "daily_totals"):
                conn.execute(sa.text(f"ANALYZE {table}"))
    engine.dispose()
    return {"searched": searched, "fill_s": round(time.monotonic() - started, 1)}


def _sums(c: httpx.Client) -> dict[str, float]:
    return {route: float(v) for route, v in _SUM.findall(c.get("/metrics").text)}


def pages(base: str, searched: str, reps: int) -> dict[str, dict[str, Any]]:
    """Each page `reps` times, one request at a time; its server time (ms) each time."""
    today = datetime.now(UTC).date()
    asked = {
        "home": ("/dashboard", {}),
        "payments": ("/dashboard/payments", {}),
        "filtered": ("/dashboard/payments", {"from": str(today - timedelta(days=30)), "to": str(today),
                                             "status": "succeeded", "method": "card", "min": "10000",
                                             "max": "50000"}),
        "rare filter": ("/dashboard/payments", {"status": "authorized", "api": "shop", "method": "bank"}),
        "search": ("/dashboard/payments", {"q": searched}),
    }
    found: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=base, timeout=60) as c:
        page = c.get("/dashboard/login")
        signed = c.post("/dashboard/login", data={"csrf": _CSRF.findall(page.text)[0], "email": EMAIL,
                                                  "password": PASSWORD})
        assert signed.status_code == 303 and signed.headers["location"] == "/dashboard", signed.text
        for name, (path, params) in asked.items():
            route = path
            ms = []
            for n in range(reps + 1):
                before = _sums(c).get(route, 0.0)
                r = c.get(path, params=params)
                assert r.status_code == 200, (name, r.status_code, r.text[:300])
                if n:  # the first builds the statements' caches
                    ms.append(round((_sums(c)[route] - before) * 1000, 2))
            found[name] = {"ms": ms, "p50": round(median(ms), 2), "max": max(ms), "goal_ms": GOALS_MS.get(name)}
    return found


def run(count: int, reps: int) -> list[dict[str, Any]]:
    results = []
    for name, kind in (("gyeol-sqlite", "sqlite"), ("gyeol-postgres", "postgres")):
        with Server(name + " dashboard", kind) as s:
            _, made = s.cli("staff", "create", "--merchant", "default", "--email", EMAIL, "--role", "viewer",
                            "--password-stdin", stdin=PASSWORD)
            if made.returncode != 0:
                raise SystemExit(f"gyeol staff create failed on {name}:\n{made.stdout}{made.stderr}")
            filled = fill(s.database_url, count)
            timed = pages(f"http://127.0.0.1:{s.port}", filled["searched"], reps)
            results.append({"target": name, "payments": count, "fill_s": filled["fill_s"], "pages": timed})
        print(f"  {name}: " + ", ".join(f"{k} {v['p50']} ms" for k, v in timed.items()), flush=True)
    return results


def report(results: list[dict[str, Any]], table: Any) -> None:
    print("\ndashboard pages, server time (gyeol_http_request_duration_seconds), one request at a time")
    rows = []
    for r in results:
        for page, t in r["pages"].items():
            goal = t["goal_ms"]
            verdict = "" if goal is None else ("met" if t["max"] < goal else "MISSED")
            rows.append([r["target"], r["payments"], page, t["p50"], t["max"], goal or "-", verdict])
    table(["target", "payments", "page", "p50 ms", "max ms", "goal ms", ""], rows)
