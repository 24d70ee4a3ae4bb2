"""The double-entry ledger (docs/ledger.md): each money movement's transfers, written with it; the database's
guards; the balance and its transactions on the native API; `gyeol ledger verify` and `gyeol ledger export`."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from conftest import Env
from gyeol.core.clock import KST
from gyeol.core.settlements.service import add_business_days
from gyeol.models import ledger_transfers, payments, refunds, settlements
from procs import gyeol_env, run_cli
from users import enable_users, order_for, user

BEAN_CHECK = str(Path(sys.executable).with_name("bean-check"))


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True, timeout=120)


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


async def transfers_of(env: Env, source_id: str) -> list[tuple[str, str, int]]:
    """(code, phase, amount) of a payment's or a refund's transfers, in the order they were written."""
    async with env.svc.db.read() as conn:
        q = (sa.select(ledger_transfers.c.code, ledger_transfers.c.phase, ledger_transfers.c.amount)
             .where(ledger_transfers.c.source_id == source_id).order_by(ledger_transfers.c.seq))
        return [tuple(r) for r in (await conn.execute(q)).all()]  # type: ignore[misc]


async def balance(env: Env, c: Any = None) -> tuple[dict[str, int], dict[str, int]]:
    got = ok(await (c or env.client).get("/api/v1/balance"))
    assert got["object"] == "balance"
    return ({x["currency"]: x["amount"] for x in got["available"]},
            {x["currency"]: x["amount"] for x in got["pending"]})


async def movements(env: Env, **params: Any) -> Any:
    return ok(await env.client.get("/api/v1/balance/transactions", params=params))


async def verified(env: Env) -> None:
    report = await env.svc.ledger.verify()
    assert report.differences == [], report.differences


async def test_a_worked_payment_authorize_partial_capture_partial_refund_payout(env: Env) -> None:
    """docs/ledger.md's worked payment, at the default card fee of 2.5 %."""
    p = await env.intent(10_000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    pid = p["paymentId"]
    assert p["status"] == "authorized"
    assert await transfers_of(env, pid) == [("charge", "held", 10_000)]
    assert await balance(env) == ({}, {})  # a hold is nobody's balance yet
    assert (await movements(env))["items"] == []

    ok(await env.client.post(f"/api/v1/payments/{pid}/capture", json={"amount": 6_000}))
    # The capture posts 6,000 of the hold; the other 4,000 are released with it.
    assert await transfers_of(env, pid) == [("charge", "held", 10_000), ("charge", "post", 6_000),
                                            ("fee", "posted", 150)]
    payout_day = add_business_days(datetime.now(UTC).astimezone(KST).date(), 2).isoformat()
    assert await balance(env) == ({"KRW": 0}, {"KRW": 5_850})

    refund = ok(await env.client.post("/api/v1/refunds", json={"paymentId": pid, "amount": 1_000}))
    assert await transfers_of(env, refund["refundId"]) == [("refund", "held", 1_000), ("refund", "post", 1_000),
                                                           ("fee_refund", "posted", 25)]
    assert await balance(env) == ({"KRW": 0}, {"KRW": 4_875})
    listed = await movements(env)
    assert [(x["type"], x["amount"], x["fee"], x["net"], x["availableOn"], x["sourceId"]) for x in listed["items"]] \
        == [("refund", -1_000, -25, -975, payout_day, refund["refundId"]),
            ("charge", 6_000, 150, 5_850, payout_day, pid)]
    assert listed["hasMore"] is False
    nets = sum(s["netAmount"] for s in ok(await env.client.get("/api/v1/settlements"))["items"])
    assert nets == 4_875  # before any payout, available + pending is the settlements' net
    await verified(env)

    env.svc.clock.advance(timedelta(days=7))
    assert await balance(env) == ({"KRW": 4_875}, {"KRW": 0})  # its day has come, not yet paid out
    assert await env.svc.settlements.mark_paid() == 2
    assert await balance(env) == ({"KRW": 0}, {"KRW": 0})
    payout = (await movements(env, type="payout"))["items"]
    assert [(x["type"], x["amount"], x["net"]) for x in payout] == [("payout", -4_875, -4_875)]
    events = ok(await env.client.get("/api/v1/events", params={"type": "payout.paid"}))["items"]
    assert [(e["data"]["object"]["amount"], e["data"]["object"]["settlements"]) for e in events] == [(4_875, 2)]
    settled = ok(await env.client.get("/api/v1/settlements"))["items"]
    assert {s["payoutId"] for s in settled} == {payout[0]["sourceId"]}
    assert await env.svc.settlements.mark_paid() == 0  # nothing is paid out twice
    await verified(env)


async def test_a_refused_refund_voids_its_hold_and_an_unanswered_one_keeps_it(env: Env) -> None:
    pid = (await env.paid(8_000))["paymentId"]
    before = await balance(env)
    r = await env.client.post("/api/v1/refunds", json={"paymentId": pid, "amount": 3_000},
                              headers={"Gyeol-Sandbox-Fault": "error"})
    assert r.status_code == 402, r.text
    refused = r.json()["error"]["details"]["refundId"]
    assert await transfers_of(env, refused) == [("refund", "held", 3_000), ("refund", "void", 3_000)]
    r = await env.client.post("/api/v1/refunds", json={"paymentId": pid, "amount": 2_000},
                              headers={"Gyeol-Sandbox-Fault": "timeout"})
    assert r.status_code == 504, r.text
    waiting = r.json()["error"]["details"]["refundId"]
    assert await transfers_of(env, waiting) == [("refund", "held", 2_000)]
    assert await balance(env) == before  # held while the PG is asked: not yet out of the balance
    await verified(env)


async def test_a_void_releases_the_whole_hold(env: Env) -> None:
    pid = (await env.intent(5_000, capture=False, confirm=True, methodOptions={"token": "tok_visa"}))["paymentId"]
    assert ok(await env.client.post(f"/api/v1/payments/{pid}/cancel"))["status"] == "voided"
    assert await transfers_of(env, pid) == [("charge", "held", 5_000), ("charge", "void", 5_000)]
    assert await balance(env) == ({}, {})
    await verified(env)


async def test_a_virtual_account_holds_nothing_before_its_deposit(env: Env) -> None:
    await enable_users(env)
    order = await order_for(env, "kim", 9_000)
    data = ok(await user(env, "kim").post("/api/shopping/payments", json={
        "orderNumber": order, "paymentMethod": "VIRTUAL_ACCOUNT", "amount": 9_000}))["data"]
    pid = ok(await env.client.get("/api/v1/payments"))["items"][0]["paymentId"]
    assert await transfers_of(env, pid) == []
    ok(await env.client.post(f"/api/v1/sandbox/virtual-accounts/{data['paymentNumber']}/deposit"))
    assert await transfers_of(env, pid) == [("deposit", "posted", 9_000), ("fee", "posted", 300)]
    assert await balance(env) == ({"KRW": 0}, {"KRW": 8_700})
    await verified(env)


async def test_the_fixed_fee_stays_with_the_pg_so_a_full_refund_leaves_the_balance_negative(env: Env) -> None:
    await env.svc.merchants.update_settings(env.merchant_id, {"fees": {"card": {"bps": 250, "fixed": 100}}})
    pid = (await env.paid(10_000))["paymentId"]
    assert await balance(env) == ({"KRW": 0}, {"KRW": 9_650})
    refund = ok(await env.client.post("/api/v1/refunds", json={"paymentId": pid}))
    assert (await transfers_of(env, refund["refundId"]))[-1] == ("fee_refund", "posted", 250)
    assert await balance(env) == ({"KRW": 0}, {"KRW": -100})
    env.svc.clock.advance(timedelta(days=7))
    await env.svc.settlements.mark_paid()  # the PG takes the 100 back: a payout the other way
    assert [(x["type"], x["amount"]) for x in (await movements(env, type="payout"))["items"]] == [("payout", 100)]
    assert await balance(env) == ({"KRW": 0}, {"KRW": 0})
    await verified(env)


async def test_balances_are_per_currency_and_transactions_page_and_filter(env: Env) -> None:
    krw = [(await env.paid(1_000 * n))["paymentId"] for n in (1, 2, 3)]
    usd = (await env.paid(1_234, currency="USD"))["paymentId"]
    available, pending = await balance(env)
    assert pending == {"KRW": 6_000 - 150, "USD": 1_234 - 31} and available == {"KRW": 0, "USD": 0}
    first = await movements(env, limit=2)
    assert [x["paymentId"] for x in first["items"]] == [usd, krw[2]] and first["hasMore"] is True
    rest = await movements(env, limit=2, startingAfter=first["items"][-1]["balanceTransactionId"])
    assert [x["paymentId"] for x in rest["items"]] == [krw[1], krw[0]] and rest["hasMore"] is False
    assert (await movements(env, type="refund"))["items"] == []
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await movements(env, **{"created[gte]": later}))["items"] == []
    assert len((await movements(env, **{"created[lt]": later}))["items"]) == 4
    for bad in ({"limit": 0}, {"limit": 101}, {"type": "bogus"}, {"created[gt]": "yesterday"}):
        r = await env.client.get("/api/v1/balance/transactions", params=bad)
        assert r.status_code == 400 and r.json()["error"]["type"] == "validation", (bad, r.text)
    r = await env.client.get("/api/v1/balance/transactions", params={"startingAfter": "pay_nope.charge"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found", r.text
    other, _, _ = await env.new_merchant("other")
    assert await balance(env, other) == ({}, {})
    assert (await other.get("/api/v1/balance/transactions")).json() == {"items": [], "hasMore": False}


async def test_the_database_refuses_what_the_ledger_forbids(env: Env) -> None:
    pid = (await env.paid(4_000))["paymentId"]
    async with env.svc.db.read() as conn:
        row = dict((await conn.execute(sa.select(ledger_transfers).where(
            ledger_transfers.c.id == f"{pid}.charge"))).mappings().one())
    row.pop("seq")
    usd = row["debit_account_id"].replace(".KRW.", ".USD.")
    live = row["credit_account_id"].replace(".test.", ".live.")
    wrong = {"zero": {"amount": 0}, "negative": {"amount": -5}, "one account": {"credit_account_id":
                                                                               row["debit_account_id"]},
             "another currency": {"debit_account_id": usd}, "another mode": {"credit_account_id": live},
             "a post of no hold": {"phase": "post", "held_id": f"{pid}.nothing.held"}}
    for change in wrong.values():
        with pytest.raises(IntegrityError):
            async with env.svc.db.tx() as conn:
                await conn.execute(ledger_transfers.insert().values({**row, "id": f"{pid}.x", **change}))
    for stmt in (ledger_transfers.update().values(amount=1), ledger_transfers.delete()):
        with pytest.raises(IntegrityError, match="immutable"):
            async with env.svc.db.tx() as conn:
                await conn.execute(stmt.where(ledger_transfers.c.id == f"{pid}.charge"))
    assert await transfers_of(env, pid) == [("charge", "posted", 4_000), ("fee", "posted", 100)]


async def mixed_workload(env: Env) -> list[str]:
    """Cards in two currencies, a partial capture, refunds, a virtual account's deposit and a payout; and an
    authorization never captured. Returns the ids of what must not be in a Beancount export (the hold)."""
    await env.paid(10_000)
    usd = (await env.paid(1_234, currency="USD"))["paymentId"]
    ok(await env.client.post("/api/v1/refunds", json={"paymentId": usd, "amount": 1_000}))
    part = (await env.intent(20_000, capture=False, confirm=True, methodOptions={"token": "tok_visa"}))["paymentId"]
    ok(await env.client.post(f"/api/v1/payments/{part}/capture", json={"amount": 15_000}))
    ok(await env.client.post("/api/v1/refunds", json={"paymentId": part, "amount": 5_000}))
    await enable_users(env)
    order = await order_for(env, "lee", 9_000)
    va = ok(await user(env, "lee").post("/api/shopping/payments", json={
        "orderNumber": order, "paymentMethod": "VIRTUAL_ACCOUNT", "amount": 9_000}))["data"]
    ok(await env.client.post(f"/api/v1/sandbox/virtual-accounts/{va['paymentNumber']}/deposit"))
    env.svc.clock.advance(timedelta(days=7))
    assert await env.svc.settlements.mark_paid() > 0
    held = (await env.intent(7_000, capture=False, confirm=True, methodOptions={"token": "tok_visa"}))["paymentId"]
    return [held]


async def test_beancount_export_passes_bean_check(env: Env, db_url: str, tmp_path: Path) -> None:
    left_out = await mixed_workload(env)
    await verified(env)
    cli = gyeol_env(db_url, tmp_path / "var")
    out = tmp_path / "ledger.beancount"
    today = datetime.now(UTC).astimezone(KST).date()
    run_cli(["ledger", "export", "--format", "beancount", "--from", (today - timedelta(days=1)).isoformat(),
             "--to", (today + timedelta(days=7)).isoformat(), "--output", str(out)], cli)  # the payout's day too
    text = out.read_text()
    checked = bean_check(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr + text
    assert "  12.34 USD" in text and "  -10.00 USD" in text and "  10000 KRW" in text and " 15000 KRW" in text
    assert '"payout"' in text and '"deposit"' in text
    assert not any(pid in text for pid in left_out)  # an uncaptured hold moved no money
    earlier = run_cli(["ledger", "export", "--format", "beancount", "--to",
                       (today - timedelta(days=1)).isoformat()], cli).stdout
    assert ' * "' not in earlier  # nothing before the workload's day

    rows = list(csv.DictReader(io.StringIO(run_cli(["ledger", "export", "--format", "csv"], cli).stdout)))
    async with env.svc.db.read() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(ledger_transfers))).scalar()
    assert len(rows) == count and {r["phase"] for r in rows} == {"held", "post", "posted"}
    assert any(r["payment_id"] == left_out[0] and r["phase"] == "held" for r in rows)


async def test_verify_prints_each_difference_and_fails(env: Env, db_url: str, tmp_path: Path) -> None:
    await mixed_workload(env)
    cli = gyeol_env(db_url, tmp_path / "var")
    assert "no difference" in run_cli(["ledger", "verify"], cli).stdout
    pid = (await env.paid(3_000))["paymentId"]
    held = (await env.intent(5_000, capture=False, confirm=True, methodOptions={"token": "tok_visa"}))["paymentId"]
    refund = ok(await env.client.post("/api/v1/refunds", json={"paymentId": pid, "amount": 1_000}))["refundId"]
    async with env.svc.db.read() as conn:
        adjustment = (await conn.execute(sa.select(settlements.c.id).where(settlements.c.source_id == refund))
                      ).scalar_one()
    async with env.svc.db.tx() as conn:  # changes booked without their transfers, as a bug would
        await conn.execute(payments.update().where(payments.c.id == pid).values(captured_amount=2_000))
        await conn.execute(payments.update().where(payments.c.id == held).values(status="voided"))
        await conn.execute(refunds.update().where(refunds.c.id == refund).values(status="failed"))
        await conn.execute(settlements.update().where(settlements.c.source_id == refund)
                           .values(fee_amount=-26, net_amount=-974))
    done = run_cli(["ledger", "verify"], cli, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for expected in (f"payment {pid} (succeeded): captured 2000 in payments, 3000 in the ledger",
                     f"payment {held} (voided): held 0 in payments, 5000 in the ledger",
                     f"refund {refund} (failed): its hold is posted in the ledger",
                     f"settlement {adjustment}: gross -1000, fee -26, payout "):
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    assert any(line.startswith("account ") and ".KRW.fees: posted balance" in line for line in lines), lines
    assert f"{len(lines)} difference(s)" in done.stderr

