"""Reconciliation against PG settlement reports: a day of payments and refunds through the Toss simulator
reconciles fully matched, each disagreement the simulator can inject is found in its state and nothing else is
flagged, the sandbox PG reports from its own books, a CSV report from any other PG is imported over HTTP and by
`gyeol settlements`, and the worker reconciles yesterday by itself. SQLite and PostgreSQL, over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import Env, make_env
from gyeol import worker
from gyeol.app import set_toss_key
from gyeol.connectors.toss.connector import TossConnector
from gyeol.core.clock import KST
from gyeol.models import outbox_events, reconciliation_items, reconciliation_report_rows, reconciliation_runs
from gyeol.simulators.toss.simulator import TossSimulator
from procs import gyeol_env, run_cli
from users import enable_users, order_for, user

SIM_KEY = "test_sk_merchant_at_toss"
EXCEPTIONS = ("amount_mismatch", "fee_mismatch", "date_mismatch", "missing_at_pg", "unknown_to_gyeol")
# `make bench` runs the day at its full size, 1,000 payments and 50 refunds (bench/reconcile.py).
PAYMENTS = int(os.environ.get("GYEOL_RECONCILE_DAY_PAYMENTS", "200"))
REFUNDS = PAYMENTS // 20


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@dataclass
class Toss:
    env: Env
    sim: TossSimulator
    sim_client: httpx.AsyncClient

    def today(self) -> date:
        return self.env.svc.clock.now().astimezone(KST).date()

    async def pay(self, order_id: str, amount: int) -> dict[str, Any]:
        """The buyer pays in Toss's window, and the merchant confirms through Gyeol's kiosk face."""
        r = await self.sim_client.post("/payments", json={"orderId": order_id, "amount": amount})
        assert r.status_code == 200, r.text
        body = {"paymentKey": r.json()["paymentKey"], "orderId": order_id, "amount": amount}
        assert (await self.env.client.post("/v1/payments", json=body)).status_code == 200
        r = await self.env.client.post("/v1/payments/confirm", json=body)
        assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
        return {**body, "paymentId": r.json()["paymentId"]}

    async def run(self, start: date | None = None, end: date | None = None, **extra: Any) -> dict[str, Any]:
        """A run over yesterday and today (a day's payments may straddle Korean midnight)."""
        end = end or self.today()
        r = await self.env.client.post("/api/v1/reconciliation/runs", json={
            "from": (start or end - timedelta(days=1)).isoformat(), "to": end.isoformat(), **extra})
        assert r.status_code == 200, r.text
        run: dict[str, Any] = r.json()
        return run

    async def switch(self, **fault: Any) -> dict[str, Any]:
        r = await self.sim_client.post("/admin/settlements/faults", json=fault)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    async def exceptions(self, **params: Any) -> list[dict[str, Any]]:
        r = await self.env.client.get("/api/v1/reconciliation/exceptions", params={"size": 100, **params})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


@pytest.fixture
async def toss(db_url: str, tmp_path: Path) -> AsyncIterator[Toss]:
    env = await make_env(db_url, tmp_path, toss_base_url="http://toss.sim")
    # The simulated Toss keeps Gyeol's time, so that both name the same Korean day for a sale.
    sim = TossSimulator(now=env.svc.clock.now)
    connector = env.svc.connectors.by_name("toss")
    assert isinstance(connector, TossConnector)
    await connector.client.aclose()
    connector.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))
    await set_toss_key(env.svc, env.merchant_id, SIM_KEY)
    sim_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://toss.sim",
                                   headers=basic(SIM_KEY))
    try:
        yield Toss(env, sim, sim_client)
    finally:
        await sim.aclose()
        await sim_client.aclose()
        await env.close()


def only(run: dict[str, Any], **expected: int) -> None:
    """The run's counts are these, every other state none."""
    wanted = {"matched": 0, "expected": 0, **{s: 0 for s in EXCEPTIONS}, **expected}
    assert run["counts"] == wanted, run


async def events(env: Env, type_: str) -> list[dict[str, Any]]:
    async with env.svc.db.read() as conn:
        rows = (await conn.execute(sa.select(outbox_events.c.payload).where(outbox_events.c.type == type_)
                                   .order_by(outbox_events.c.seq))).all()
    return [r[0] for r in rows]


async def count(env: Env, table: sa.Table) -> int:
    async with env.svc.db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


# --- Toss: a day fully matched, then each disagreement --------------------------------------------------

async def test_a_day_through_toss_matches_and_each_disagreement_is_found_alone(toss: Toss) -> None:
    env = toss.env
    paid: list[dict[str, Any]] = []
    for start in range(0, PAYMENTS, 20):  # twenty at a time: the kiosk's confirms run side by side
        paid += await asyncio.gather(*(toss.pay(f"recon-{i:04d}", 1000 + 37 * i)
                                       for i in range(start, start + 20)))
    # Ten refunds: five partial (a cancel row of its own, known by its transactionKey), five in full.
    partial_keys = []
    for n, p in enumerate(paid[:REFUNDS]):
        amount = 300 + n if n < 5 else p["amount"]
        r = await env.client.post("/api/v1/refunds", json={"paymentId": p["paymentId"], "amount": amount})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        if n < 5:
            at_toss = (await toss.sim_client.get(f"/v1/payments/{p['paymentKey']}")).json()
            partial_keys.append(at_toss["lastTransactionKey"])

    run = await toss.run()
    only(run, matched=PAYMENTS + REFUNDS)
    assert (run["pg"], run["source"], run["status"], run["gyeolRows"], run["reportRows"]) == (
        "toss", "api", "completed", PAYMENTS + REFUNDS, PAYMENTS + REFUNDS)
    assert await toss.exceptions() == []
    completed = await events(env, "reconciliation.completed")
    assert [e["data"]["object"]["runId"] for e in completed] == [run["runId"]]

    # Running the range again replaces its result: the same run, counted once.
    again = await toss.run()
    assert (again["runId"], again["times"], again["counts"]) == (run["runId"], 2, run["counts"])
    assert (await env.client.get("/api/v1/reconciliation/runs")).json()["total"] == 1

    # A fee off by ₩1.
    off = paid[50]
    await toss.switch(kind="fee_off_by_one", paymentKey=off["paymentKey"])
    only(await toss.run(), matched=PAYMENTS + REFUNDS - 1, fee_mismatch=1)
    [item] = await toss.exceptions()
    assert (item["state"], item["status"], item["type"], item["transactionId"], item["paymentId"]) == (
        "fee_mismatch", "open", "payment", off["paymentKey"], off["paymentId"])
    assert item["pg"]["fee"] == item["gyeol"]["fee"] + 1 and item["pg"]["amount"] == item["gyeol"]["amount"]
    await toss.sim_client.delete("/admin/settlements/faults")
    only(await toss.run(), matched=PAYMENTS + REFUNDS)
    assert await toss.exceptions() == []  # the range's result was replaced: the fixed fee is no exception now

    # A partial cancel reported for another amount: the cancel's own row, by its transactionKey.
    await toss.switch(kind="wrong_cancel_amount", transactionKey=partial_keys[2], by=100)
    only(await toss.run(), matched=PAYMENTS + REFUNDS - 1, amount_mismatch=1)
    [item] = await toss.exceptions()
    assert (item["state"], item["type"], item["transactionId"], item["paymentId"]) == (
        "amount_mismatch", "cancel", partial_keys[2], paid[2]["paymentId"])
    assert (item["gyeol"]["amount"], item["pg"]["amount"]) == (-302, -402)
    await toss.sim_client.delete("/admin/settlements/faults")

    # A payment missing from the report: expected until its payout day, missing after it.
    gone = paid[120]
    await toss.switch(kind="missing_payment", paymentKey=gone["paymentKey"])
    run = await toss.run()
    only(run, matched=PAYMENTS + REFUNDS - 1, expected=1)
    assert await toss.exceptions() == []  # not reported yet is no exception
    [item] = await toss.exceptions(state="expected")
    assert (item["transactionId"], item["status"], item["pg"]) == (gone["paymentKey"], None, None)
    assert run["expectedUntil"] == item["gyeol"]["payoutDate"]
    env.svc.clock.advance(timedelta(days=7))  # past its payout day: the worker runs the range again by itself
    daily = await env.svc.reconciliation.daily.run_once()
    assert run["runId"] in daily["runs"] and daily["failed"] == 0, daily
    later = (await env.client.get(f"/api/v1/reconciliation/runs/{run['runId']}")).json()
    assert (later["times"], later["expectedUntil"]) == (run["times"] + 1, None)
    only(later, matched=PAYMENTS + REFUNDS - 1, missing_at_pg=1)
    [item] = await toss.exceptions()
    assert (item["state"], item["transactionId"], item["pg"]) == ("missing_at_pg", gone["paymentKey"], None)
    await toss.sim_client.delete("/admin/settlements/faults")
    env.svc.clock.advance(timedelta(days=-7))

    # A payment Gyeol never saw: the most serious, with an event of its own, once.
    unseen = await toss.switch(kind="unknown_payment", amount=45_000)
    only(await toss.run(), matched=PAYMENTS + REFUNDS, unknown_to_gyeol=1)
    [item] = await toss.exceptions()
    assert (item["state"], item["transactionId"], item["gyeol"], item["paymentId"]) == (
        "unknown_to_gyeol", unseen["paymentKey"], None, None)
    assert item["pg"]["amount"] == 45_000
    raised = await events(env, "reconciliation.exception")
    assert [e["data"]["object"]["itemId"] for e in raised] == [item["itemId"]]

    # Resolved with a note: who, when, why. A later run finds it again, resolved, and raises nothing new.
    r = await env.client.post(f"/api/v1/reconciliation/exceptions/{item['itemId']}/resolve",
                              json={"note": "a test payment made in Toss's console", "resolvedBy": "kim@finance"})
    assert r.status_code == 200, r.text
    resolved = r.json()
    assert (resolved["status"], resolved["resolution"]["note"], resolved["resolution"]["resolvedBy"]) == (
        "resolved", "a test payment made in Toss's console", "kim@finance")
    assert resolved["resolution"]["resolvedAt"]
    assert await toss.exceptions() == []
    again = await toss.run()
    only(again, matched=PAYMENTS + REFUNDS, unknown_to_gyeol=1)
    [kept] = await toss.exceptions(status="resolved")
    assert (kept["itemId"], kept["resolution"]) == (item["itemId"], resolved["resolution"])
    assert len(await events(env, "reconciliation.exception")) == 1
    r = await env.client.post(f"/api/v1/reconciliation/exceptions/{item['itemId']}/resolve", json={"note": "x"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "INVALID_STATE_TRANSITION", r.text
    assert len(await events(env, "reconciliation.completed")) == 10  # one per run (the worker's yesterday too)


async def test_the_simulators_report_follows_tosss_sheet(toss: Toss) -> None:
    p = await toss.pay("sheet-0001", 99_800)
    r = await toss.env.client.post("/api/v1/refunds", json={"paymentId": p["paymentId"], "amount": 99_800})
    assert r.status_code == 200, r.text
    day = toss.today().isoformat()
    r = await toss.sim_client.get("/v1/settlements", params={"startDate": day, "endDate": day})
    assert r.status_code == 200, r.text
    approval, cancel = r.json()
    assert (approval["amount"], approval["fee"], approval["vat"], approval["supplyAmount"],
            approval["payOutAmount"], approval["cancel"]) == (99_800, 2495, 227, 2268, 97_305, None)
    # Reference §15.1's full cancel of 99,800: -99800, fee -2250 at Toss's rate there; here the simulator's 2.5 %.
    assert (cancel["amount"], cancel["fee"], cancel["vat"], cancel["supplyAmount"], cancel["payOutAmount"]) == (
        -99_800, -2495, -227, -2268, -97_305)
    assert cancel["transactionKey"] == cancel["cancel"]["transactionKey"] and cancel["cancel"]["cancelAmount"] == 99_800
    assert approval["method"] == "카드" and approval["approvedAt"].endswith("+09:00")
    assert approval["soldDate"] == day and approval["paidOutDate"] > day
    assert approval["fees"] == [{"type": "BASE", "fee": 2495}]
    by_payout = await toss.sim_client.get("/v1/settlements", params={
        "startDate": approval["paidOutDate"], "endDate": approval["paidOutDate"], "dateType": "paidOutDate"})
    assert [x["transactionKey"] for x in by_payout.json()] == [approval["transactionKey"], cancel["transactionKey"]]
    page2 = await toss.sim_client.get("/v1/settlements", params={"startDate": day, "endDate": day, "page": 2,
                                                                 "size": 1})
    assert [x["transactionKey"] for x in page2.json()] == [cancel["transactionKey"]]
    for params, code in (({"startDate": day}, "INVALID_DATE"), ({"startDate": "2026-02-30", "endDate": day},
                                                                  "INVALID_DATE"),
                         ({"startDate": day, "endDate": day, "dateType": "createdDate"}, "INVALID_REQUEST"),
                         ({"startDate": day, "endDate": day, "size": 5001}, "EXCEED_MAX_QUERY_LIMIT")):
        r = await toss.sim_client.get("/v1/settlements", params=params)
        assert (r.status_code, r.json()["code"]) == (400, code), params
    other = await toss.sim_client.get("/v1/settlements", params={"startDate": day, "endDate": day},
                                      headers=basic("test_sk_someone_else"))
    assert other.json() == []


async def test_a_report_toss_cannot_give_fails_the_run_and_says_so(toss: Toss) -> None:
    await toss.pay("gone-0001", 5000)
    connector = toss.env.svc.connectors.by_name("toss")
    assert isinstance(connector, TossConnector)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"code": "COMMON_ERROR", "message": "down"})

    connector.client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    today = toss.today().isoformat()
    r = await toss.env.client.post("/api/v1/reconciliation/runs", json={"from": today, "to": today})
    assert r.status_code == 502 and r.json()["error"]["code"] == "PG_REPORT_UNAVAILABLE", r.text
    run = (await toss.env.client.get(f"/api/v1/reconciliation/runs/{r.json()['error']['details']['runId']}")).json()
    assert (run["status"], run["failure"], run["counts"]) == ("failed", "toss: HTTP 503", {})
    assert await events(toss.env, "reconciliation.completed") == []


# --- the sandbox PG, its own books ----------------------------------------------------------------------

async def test_the_sandbox_reports_from_its_books_and_the_worker_runs_yesterday(env: Env) -> None:
    c = env.client
    paid = [await env.paid(10_000 + i) for i in range(5)]
    held = await env.intent(8000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    r = await c.post(f"/api/v1/payments/{held['paymentId']}/capture", json={"amount": 6000})
    assert r.status_code == 200, r.text
    for pid, amount in ((paid[0]["paymentId"], 2500), (held["paymentId"], 6000)):
        r = await c.post("/api/v1/refunds", json={"paymentId": pid, "amount": amount})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    await enable_users(env)  # a virtual account, paid by its deposit: the sandbox's flat fee
    r = await user(env, "alice", "USER").post("/api/shopping/payments", json={
        "orderNumber": await order_for(env, "alice", 9000), "paymentMethod": "VIRTUAL_ACCOUNT", "amount": 9000})
    number = r.json()["data"]["paymentNumber"]
    assert (await c.post(f"/api/v1/sandbox/virtual-accounts/{number}/deposit")).status_code == 200
    today = env.svc.clock.now().astimezone(KST).date()
    r = await c.post("/api/v1/reconciliation/runs", json={"from": (today - timedelta(days=1)).isoformat(),
                                                          "to": today.isoformat()})
    assert r.status_code == 200, r.text
    run = r.json()
    assert (run["pg"], run["source"]) == ("sandbox", "api")
    only(run, matched=9)
    fees = {s["feeAmount"] for s in (await c.get("/api/v1/settlements", params={"size": 100})).json()["items"]}
    assert 300 in fees  # the virtual account's, matched too

    # Other merchants and the other mode see none of it.
    other, _, _ = await env.new_merchant("other")
    assert (await other.get(f"/api/v1/reconciliation/runs/{run['runId']}")).status_code == 404
    assert (await other.get("/api/v1/reconciliation/runs")).json()["total"] == 0

    # A merchant told other fees than its PG's contract: every row's fee disagrees, and nothing else.
    await env.svc.merchants.update_settings(env.merchant_id, {"fees": {"card": {"bps": 230, "fixed": 0}}})
    await env.paid(20_000)
    r = await c.post("/api/v1/reconciliation/runs", json={"from": (today - timedelta(days=1)).isoformat(),
                                                          "to": today.isoformat()})
    assert (r.json()["runId"], r.json()["times"]) == (run["runId"], 2)
    only(r.json(), matched=9, fee_mismatch=1)

    # The worker reconciles yesterday by itself, once.
    env.svc.clock.advance(timedelta(days=1))
    made = (await worker.run_once(env.svc))["reconcile_settlements"]
    assert len(made["runs"]) == 1 and made["failed"] == 0, made
    daily = (await c.get(f"/api/v1/reconciliation/runs/{made['runs'][0]}")).json()
    assert (daily["from"], daily["to"], daily["pg"]) == (today.isoformat(), today.isoformat(), "sandbox")
    only(daily, matched=9, fee_mismatch=1)
    assert (await worker.run_once(env.svc))["reconcile_settlements"] == {"runs": []}
    assert (await c.get("/api/v1/reconciliation/runs")).json()["total"] == 2


# --- any other PG: its report as CSV ---------------------------------------------------------------------

def kst_day(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(KST).date().isoformat()


def csv_of(rows: list[dict[str, Any]]) -> str:
    head = "transaction_id,order_id,type,amount,fee,vat,net,currency,sold_date,payout_date"
    lines = [",".join(str(r[k]) for k in head.split(",")) for r in rows]
    return "\n".join([head, *lines]) + "\n"


async def test_a_csv_report_imported_over_http_and_by_the_cli(env: Env, db_url: str, tmp_path: Path) -> None:
    c = env.client
    paid = [await env.paid(30_000 + i) for i in range(3)]
    refund = (await c.post("/api/v1/refunds", json={"paymentId": paid[0]["paymentId"], "amount": 1000})).json()
    settled = {s["paymentId"] + s["kind"]: s for s in (await c.get("/api/v1/settlements")).json()["items"]}
    charges = await env.charges(paid[0]["paymentId"])
    [refund_charge] = [ch["chargeId"] for ch in charges if ch["kind"] == "refund"]
    assert refund["status"] == "succeeded"
    rows = []
    for p in paid:
        s = settled[p["paymentId"] + "payment"]
        pg_id = (await c.get(f"/api/v1/payments/{p['paymentId']}")).json()["pgTransactionId"]
        rows.append({"transaction_id": pg_id, "order_id": p["orderId"], "type": "payment",
                     "amount": s["grossAmount"], "fee": s["feeAmount"], "vat": 0, "net": s["netAmount"],
                     "currency": "KRW", "sold_date": kst_day(s["createdAt"]), "payout_date": s["payoutDate"]})
    s = settled[paid[0]["paymentId"] + "adjustment"]
    rows.append({"transaction_id": refund_charge, "order_id": paid[0]["orderId"], "type": "cancel",
                 "amount": s["grossAmount"], "fee": s["feeAmount"], "vat": 0, "net": s["netAmount"],
                 "currency": "KRW", "sold_date": kst_day(s["createdAt"]), "payout_date": s["payoutDate"]})
    day = date.fromisoformat(rows[0]["sold_date"])
    rows[1] = {**rows[1], "fee": rows[1]["fee"] + 5, "net": rows[1]["net"] - 5}
    rows.append({**rows[2], "transaction_id": "ch_unheard_of", "order_id": "elsewhere"})

    bad = csv_of([rows[0], {**rows[1], "net": 1}, {**rows[2], "type": "refund"}])
    r = await c.post("/api/v1/reconciliation/imports", json={"pg": "sandbox", "csv": bad})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_REPORT", r.text
    assert [(e["line"], e["column"]) for e in r.json()["error"]["details"]["errors"]] == [(3, "net"), (4, "type")]
    assert await count(env, reconciliation_report_rows) == 0

    for _ in range(2):  # imported twice: each transaction's row replaced, never doubled
        r = await c.post("/api/v1/reconciliation/imports", json={"pg": "sandbox", "csv": csv_of(rows)})
        assert r.status_code == 200, r.text
        assert (r.json()["rows"], r.json()["from"], r.json()["to"]) == (5, day.isoformat(), day.isoformat())
    assert await count(env, reconciliation_report_rows) == 5
    r = await c.post("/api/v1/reconciliation/runs", json={"from": day.isoformat(), "to": day.isoformat(),
                                                          "source": "import"})
    assert r.status_code == 200, r.text
    run = r.json()
    assert (run["pg"], run["source"]) == ("sandbox", "import")
    only(run, matched=3, fee_mismatch=1, unknown_to_gyeol=1)
    found = {i["state"]: i for i in (await c.get("/api/v1/reconciliation/exceptions")).json()["items"]}
    assert found["fee_mismatch"]["paymentId"] == paid[1]["paymentId"]
    assert found["unknown_to_gyeol"]["transactionId"] == "ch_unheard_of"

    # The range run four times at once: one run, replaced four times, its exceptions once, their event once.
    same = {"from": day.isoformat(), "to": day.isoformat(), "source": "import"}
    answers = await asyncio.gather(*(c.post("/api/v1/reconciliation/runs", json=same) for _ in range(4)))
    assert {(a.status_code, a.json()["runId"]) for a in answers} == {(200, run["runId"])}
    assert sorted(a.json()["times"] for a in answers) == [2, 3, 4, 5]
    assert await count(env, reconciliation_items) == 2
    assert len(await events(env, "reconciliation.exception")) == 1

    # The same through the command line, for a PG Gyeol has no connector to: its report is all it knows.
    file = tmp_path / "report.csv"
    file.write_text(csv_of([{**rows[0], "transaction_id": "van-0001"}]))
    cli = gyeol_env(db_url, tmp_path / "var")
    done = json.loads(run_cli(["settlements", "import", str(file), "--pg", "van-pg", "--merchant", "acme"], cli).stdout)
    assert (done["pg"], done["rows"]) == ("van-pg", 1)
    out = run_cli(["settlements", "reconcile", "--from", day.isoformat(), "--to", day.isoformat(), "--pg", "van-pg",
                   "--merchant", "acme"], cli, check=False)
    assert out.returncode == 1, out.stderr  # an exception was found
    by_cli = json.loads(out.stdout)
    assert (by_cli["source"], by_cli["counts"]["unknown_to_gyeol"], by_cli["counts"]["matched"]) == ("import", 1, 0)
    r = await c.post("/api/v1/reconciliation/runs", json={"from": day.isoformat(), "to": day.isoformat(),
                                                          "pg": "van-pg", "source": "api"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NO_REPORT_API", r.text
    assert await count(env, reconciliation_runs) == 2 and await count(env, reconciliation_items) == 3
