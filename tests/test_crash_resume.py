"""A retried Idempotency-Key resumes its work, never repeats it: a payment and a refund are each cut (the server
process killed, as by kill -9) right after every commit they make, through the test-only stop
`GYEOL_TEST_KILL_AFTER_COMMIT`. A retry of the same key against a restarted server ends with one effect and the
answer that a run without the stop gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from faults import until_answered
from procs import Server, gyeol_env, run_cli

KEY = "test_sk_crash"
AUTH = {"Authorization": f"Bearer {KEY}"}
# A payment commits its claim with the payment and attempt, the PG's charge, the PG's answer, and the kept
# response; a refund likewise, with its reservation. A stop after each, and a run that is not stopped.
POINTS = (1, 2, 3, 4)


def _env(db_url: str, var: Path, **extra: str) -> dict[str, str]:
    return gyeol_env(db_url, var, GYEOL_TEST_SECRET_KEY=KEY, GYEOL_IDEMPOTENCY_LEASE_SECONDS="3", **extra)


async def _cut(servers: list[Server], path: str, bodies: list[dict[str, object]], keys: list[str]) -> None:
    """Each server gets one request, and dies in it."""
    for s in servers:
        s.wait_ready()

    async def one(s: Server, body: dict[str, object], key: str) -> None:
        async with httpx.AsyncClient(headers=AUTH, timeout=30) as c:
            try:
                r = await c.post(s.url + path, json=body, headers={"Idempotency-Key": key})
                raise AssertionError(f"{key}: the server answered {r.status_code} instead of stopping")
            except httpx.TransportError:
                pass
        assert s.proc.wait(timeout=30) == -9

    await asyncio.gather(*(one(s, b, k) for s, b, k in zip(servers, bodies, keys, strict=True)))


async def test_a_payment_and_a_refund_cut_after_each_commit_resume_under_their_key(db_url: str,
                                                                                   tmp_path: Path) -> None:
    var = tmp_path / "var"
    with Server(_env(db_url, var)) as plain:
        plain.wait_ready()
        async with httpx.AsyncClient(base_url=plain.url, headers=AUTH, timeout=30) as c:
            # The payments to refund, made without a stop; and what a payment run without a stop answers.
            paid = []
            for n in (*POINTS, 0):
                r = await c.post("/api/v1/payments/intent", json={
                    "orderId": f"to-refund-{n}", "amount": 5000, "currency": "KRW", "confirm": True,
                    "methodOptions": {"token": "tok_visa"}})
                assert r.status_code == 200, r.text
                paid.append(r.json()["paymentId"])
            usual_refund = await until_answered(c, "/api/v1/refunds", {"paymentId": paid[-1], "amount": 2000},
                                                 "usual-refund")
            usual_payment = await until_answered(c, "/api/v1/payments/intent", {
                "orderId": "usual", "amount": 3000, "currency": "KRW", "confirm": True,
                "methodOptions": {"token": "tok_visa"}},
                "usual-payment")

    pay_bodies: list[dict[str, object]] = [
        {"orderId": f"cut-{n}", "amount": 3000, "currency": "KRW", "confirm": True,
         "methodOptions": {"token": "tok_visa"}}
        for n in POINTS]
    refund_bodies: list[dict[str, object]] = [{"paymentId": pid, "amount": 2000} for pid in paid[:-1]]
    cut_servers = [Server(_env(db_url, var, GYEOL_TEST_KILL_AFTER_COMMIT=str(n))) for n in (*POINTS, *POINTS)]
    try:
        await asyncio.gather(
            _cut(cut_servers[:len(POINTS)], "/api/v1/payments/intent", pay_bodies, [f"pay-{n}" for n in POINTS]),
            _cut(cut_servers[len(POINTS):], "/api/v1/refunds", refund_bodies, [f"refund-{n}" for n in POINTS]))
    finally:
        for s in cut_servers:
            s.stop()

    with Server(_env(db_url, var)) as again:
        again.wait_ready()
        async with httpx.AsyncClient(base_url=again.url, headers=AUTH, timeout=30) as c:
            payments = await asyncio.gather(*(until_answered(c, "/api/v1/payments/intent", b, f"pay-{n}")
                                              for n, b in zip(POINTS, pay_bodies, strict=True)))
            refunds = await asyncio.gather(*(until_answered(c, "/api/v1/refunds", b, f"refund-{n}")
                                             for n, b in zip(POINTS, refund_bodies, strict=True)))
            for n, r in zip(POINTS, payments, strict=True):
                assert r.status_code == usual_payment.status_code, (n, r.text)
                got = r.json()
                assert (got["status"], got["amount"], got["orderId"]) == ("succeeded", 3000, f"cut-{n}"), (n, got)
                charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": got["paymentId"]})).json()
                assert [(x["kind"], x["status"]) for x in charges["items"]] == [("charge", "succeeded")], (n, charges)
                order = (await c.get(f"/api/v1/orders/cut-{n}")).json()
                assert order["status"] == "paid", (n, order)
            for n, pid, r in zip(POINTS, paid[:-1], refunds, strict=True):
                assert r.status_code == usual_refund.status_code, (n, r.text)
                assert (r.json()["status"], r.json()["amount"]) == ("succeeded", 2000), (n, r.text)
                listed = (await c.get("/api/v1/refunds", params={"paymentId": pid})).json()["items"]
                refund_id = r.json()["refundId"]
                assert [(x["refundId"], x["status"]) for x in listed] == [(refund_id, "succeeded")], (n, listed)
                p = (await c.get(f"/api/v1/payments/{pid}")).json()
                assert p["refundedAmount"] == 2000, (n, p)
                charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": pid})).json()["items"]
                assert sorted(x["kind"] for x in charges) == ["charge", "refund"], (n, charges)
    # Every cut left the ledger as the payments, refunds and settlements are: written with them, or not at all.
    assert "no difference" in run_cli(["ledger", "verify"], _env(db_url, var)).stdout


async def test_work_a_crash_left_open_is_carried_on_by_the_restarted_server_without_a_retry(
        db_url: str, tmp_path: Path) -> None:
    """A refund and a payment whose PG call went through just before the crash are settled by the next server
    within seconds of the dead process's last heartbeat, not after the reconciler's delay, and with no retry."""
    var = tmp_path / "var"
    with Server(_env(db_url, var)) as plain:
        plain.wait_ready()
        async with httpx.AsyncClient(base_url=plain.url, headers=AUTH, timeout=30) as c:
            r = await c.post("/api/v1/payments/intent", json={
                "orderId": "orphan-refund", "amount": 5000, "currency": "KRW", "confirm": True,
                "methodOptions": {"token": "tok_visa"}})
            paid = r.json()["paymentId"]
    # Commit 2 of each is the sandbox PG's own record: the PG has refunded and charged, Gyeol has not heard.
    cut = [Server(_env(db_url, var, GYEOL_TEST_KILL_AFTER_COMMIT="2")) for _ in range(2)]
    try:
        await asyncio.gather(
            _cut(cut[:1], "/api/v1/refunds", [{"paymentId": paid, "amount": 1500}], ["orphan-refund"]),
            _cut(cut[1:], "/api/v1/payments/intent", [{"orderId": "orphan-pay", "amount": 700, "currency": "KRW",
                                                       "confirm": True, "methodOptions": {"token": "tok_visa"}}],
                 ["orphan-pay"]))
    finally:
        for s in cut:
            s.stop()
    with Server(_env(db_url, var)) as again:
        again.wait_ready()
        async with httpx.AsyncClient(base_url=again.url, headers=AUTH, timeout=30) as c:
            started = asyncio.get_running_loop().time()
            while True:
                refunds = (await c.get("/api/v1/refunds", params={"paymentId": paid})).json()["items"]
                order = (await c.get("/api/v1/orders/orphan-pay")).json()
                if [x["status"] for x in refunds] == ["succeeded"] and order.get("status") == "paid":
                    break
                assert asyncio.get_running_loop().time() - started < 20, (refunds, order)
                await asyncio.sleep(0.25)
            p = (await c.get(f"/api/v1/payments/{paid}")).json()
            assert p["refundedAmount"] == 1500
            # The client's retry now answers from what was settled.
            r = await c.post("/api/v1/refunds", json={"paymentId": paid, "amount": 1500},
                             headers={"Idempotency-Key": "orphan-refund"})
            assert r.status_code == 200 and r.json()["refundId"] == refunds[0]["refundId"], r.text
    assert "no difference" in run_cli(["ledger", "verify"], _env(db_url, var)).stdout
