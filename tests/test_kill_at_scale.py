"""kill -9 at scale: payments and refunds at concurrency 16 while the server is killed (SIGKILL) again and again and
started again on the same store. Every request is retried under its own Idempotency-Key until it has a definitive
answer. Then every acknowledged payment and refund is there, no order is paid twice, no refund happens twice, and
each payment's refunded amount is the sum of its acknowledged refunds.

The suite runs 300 payments, 150 refunds and 5 kills per store; GYEOL_FUZZ_SCALE=full (`make fuzz-faults`) runs
2,000 payments, 1,000 refunds and 20 kills.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from faults import until_answered
from procs import Server, gyeol_env

FULL = os.environ.get("GYEOL_FUZZ_SCALE") == "full"
PAYMENTS, KILLS = (2000, 20) if FULL else (300, 5)
CONCURRENCY = 16
KEY = "test_sk_killed"
AUTH = {"Authorization": f"Bearer {KEY}"}


def amount(n: int) -> int:
    return 1000 + (n * 37) % 9000


def refunds_of(n: int) -> list[int]:
    """Half as many refunds as payments: two partial ones on every sixth payment, one on every sixth but three."""
    if n % 6 == 0:
        return [amount(n) // 3, amount(n) // 4]
    if n % 6 == 3:
        return [amount(n) // 2]
    return []


class Killer:
    """The server, killed KILLS times as the payments go by and each time started again on its port and store."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.server = Server(env)
        self.kills = 0
        self.outputs: list[str] = []
        self.paid = asyncio.Condition()  # notified as each payment is acknowledged

    async def run(self, paid: dict[int, Any]) -> None:
        rng = random.Random(28)
        for k in range(1, KILLS + 1):
            async with self.paid:
                await self.paid.wait_for(lambda k=k: len(paid) >= k * PAYMENTS // (KILLS + 1))
            await asyncio.sleep(rng.uniform(0, 0.2))  # anywhere in a request, not only as one is answered
            self.server.kill()
            self.kills += 1
            self.outputs.append(self.server.output())
            self.server = Server(self.env, port=self.server.port)
            await asyncio.to_thread(self.server.wait_ready)


async def test_kill_9_during_payments_and_refunds_loses_and_doubles_nothing(db_url: str, tmp_path: Path) -> None:
    env = gyeol_env(db_url, tmp_path / "var", GYEOL_TEST_SECRET_KEY=KEY, GYEOL_IDEMPOTENCY_LEASE_SECONDS="2")
    killer = Killer(env)
    await asyncio.to_thread(killer.server.wait_ready)
    paid: dict[int, dict[str, Any]] = {}
    refunded: dict[int, list[dict[str, Any]]] = {}
    retried: Counter[str] = Counter()
    jobs: asyncio.Queue[tuple[int, int | None]] = asyncio.Queue()
    for n in range(PAYMENTS):
        jobs.put_nowait((n, None))
    try:
        async with httpx.AsyncClient(base_url=killer.server.url, headers=AUTH, timeout=30,
                                     limits=httpx.Limits(max_connections=CONCURRENCY)) as c:

            async def pay(n: int) -> None:
                body = {"orderId": f"kill-{n}", "amount": amount(n), "currency": "KRW", "confirm": True,
                        "methodOptions": {"token": "tok_visa"}}
                r = await until_answered(c, "/api/v1/payments/intent", body, f"pay-{n}", retried=retried)
                assert r.status_code == 200, (n, r.text)
                paid[n] = r.json()
                async with killer.paid:
                    killer.paid.notify_all()
                for i in range(len(refunds_of(n))):
                    jobs.put_nowait((n, i))

            async def refund(n: int, i: int) -> None:
                body = {"paymentId": paid[n]["paymentId"], "amount": refunds_of(n)[i]}
                r = await until_answered(c, "/api/v1/refunds", body, f"refund-{n}-{i}", retried=retried)
                assert r.status_code == 200, (n, i, r.text)
                refunded.setdefault(n, []).append(r.json())

            async def worker() -> None:
                while True:
                    n, i = await jobs.get()
                    try:
                        await (pay(n) if i is None else refund(n, i))
                    finally:
                        jobs.task_done()

            done = asyncio.create_task(jobs.join())
            kills = asyncio.create_task(killer.run(paid))
            tasks = {done, kills, *(asyncio.create_task(worker()) for _ in range(CONCURRENCY))}
            try:
                while not done.done():
                    finished, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    for t in finished:
                        t.result()  # a worker ends only by failing: a request, or a kill, failed the test
                await kills
            finally:
                for t in tasks:
                    t.cancel()

            assert killer.kills == KILLS
            assert retried["cut"] > 0, "no request was cut by a kill: the test did not test"
            assert sorted(paid) == list(range(PAYMENTS))
            assert sum(len(v) for v in refunded.values()) == sum(len(refunds_of(n)) for n in range(PAYMENTS))
            await _nothing_lost_nothing_doubled(c, paid, refunded)
    finally:
        killer.server.stop()
    for out in killer.outputs:
        assert "Traceback" not in out, out[-3000:]


async def _nothing_lost_nothing_doubled(c: httpx.AsyncClient, paid: dict[int, dict[str, Any]],
                                        refunded: dict[int, list[dict[str, Any]]]) -> None:
    for n, p in paid.items():
        assert (p["status"], p["orderId"], p["amount"]) == ("succeeded", f"kill-{n}", amount(n)), (n, p)
    for n, rs in refunded.items():
        assert sorted((r["status"], r["amount"]) for r in rs) == sorted(("succeeded", a) for a in refunds_of(n))

    # One payment per order, and none besides: a retry resumed its first try, never started another.
    seen: list[str] = []
    page = 1
    while True:
        r = await c.get("/api/v1/payments", params={"page": page, "size": 100})
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        seen += [x["orderId"] for x in items]
        if len(items) < 100:
            break
        page += 1
    assert sorted(seen) == sorted(f"kill-{n}" for n in range(PAYMENTS)), Counter(seen).most_common(3)

    sem = asyncio.Semaphore(CONCURRENCY)

    async def check(n: int) -> None:
        pid = paid[n]["paymentId"]
        acked = sorted(r["refundId"] for r in refunded.get(n, []))
        total = sum(refunds_of(n))
        async with sem:
            got = (await c.get(f"/api/v1/payments/{pid}")).json()
            order = (await c.get(f"/api/v1/orders/kill-{n}")).json()
            listed = (await c.get("/api/v1/refunds", params={"paymentId": pid})).json()["items"]
            charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": pid})).json()["items"]
        assert got["refundedAmount"] == total, (n, got)
        assert (order["paymentId"], order["paidAmount"], order["refundedAmount"]) == (pid, amount(n), total), order
        assert sorted(x["refundId"] for x in listed) == acked and {x["status"] for x in listed} <= {"succeeded"}, \
            (n, listed)
        # At the PG: one charge, and one refund for each acknowledged one.
        assert sorted((x["kind"], x["status"], x["amount"]) for x in charges) == sorted(
            [("charge", "succeeded", amount(n))] + [("refund", "succeeded", a) for a in refunds_of(n)]), (n, charges)

    await asyncio.gather(*(check(n) for n in paid))
