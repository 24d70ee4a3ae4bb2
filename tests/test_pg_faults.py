"""The PG misbehaves, through real server processes: the Toss simulator's fault switches (docs/toss.md) met by
Gyeol's own Toss connector on confirm, cancel and refund, and the sandbox PG's own switches. Each payment ends
succeeded, failed, or unknown and then reconciled by `gyeol reconcile`, and the PG's books agree with Gyeol's:
nothing charged or refunded twice, nothing Gyeol calls failed that the PG charged.

The simulator runs as its own process (`gyeol toss-sim`), so that it outlives a Gyeol server killed in the middle
of a call. Gyeol's PG timeout is 2 s here and the slow answer takes 12 s (20 s by default): the first reconcile
meets it still running."""

from __future__ import annotations

import asyncio
import base64
import secrets
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from faults import until_answered
from procs import GYEOL, Server, free_port, gyeol_env, run_cli

KEY = "test_sk_pgfaults"
AUTH = {"Authorization": f"Bearer {KEY}"}
SIM_KEY = "test_sk_merchant_at_toss"
SIM_AUTH = {"Authorization": "Basic " + base64.b64encode(f"{SIM_KEY}:".encode()).decode()}
SLOW_SECONDS = 12
AMOUNT = 8000


class TossSim:
    """`gyeol toss-sim` on a free port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen([GYEOL, "toss-sim", "--port", self.url.rsplit(":", 1)[1]], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(200):
            try:
                if httpx.get(self.url + "/admin/faults", headers=SIM_AUTH, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError("the Toss simulator did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def toss_sim(db_url: str, tmp_path: Path) -> Any:
    sim = TossSim(gyeol_env(db_url, tmp_path / "sim-var"))
    try:
        yield sim
    finally:
        sim.stop()


def server_env(db_url: str, tmp_path: Path, sim: TossSim) -> dict[str, str]:
    return gyeol_env(db_url, tmp_path / "var", GYEOL_TEST_SECRET_KEY=KEY, GYEOL_TOSS_SECRET_KEY=SIM_KEY,
                     GYEOL_TOSS_BASE_URL=sim.url, GYEOL_PG_TIMEOUT_SECONDS="2", GYEOL_IDEMPOTENCY_LEASE_SECONDS="3")


async def reconcile(env: dict[str, str]) -> None:
    await asyncio.to_thread(run_cli, ["reconcile"], env)


@dataclass(frozen=True)
class Case:
    op: str  # confirm (kiosk), cancel (kiosk, in full) or refund (native, in part)
    fault: str
    before: bool = False
    field: str | None = None
    again: str | None = None  # a fault the first reconcile's look-up meets as well

    @property
    def name(self) -> str:
        return "-".join(x for x in (self.op, self.fault, "before" if self.before else "", self.field or "",
                                    f"then-{self.again}" if self.again else "") if x)


CASES = [
    *(Case("confirm", f) for f in ("timeout", "error", "slow", "reset", "malformed_json", "already_processed")),
    *(Case("confirm", f, before=True) for f in ("timeout", "error", "reset")),
    Case("confirm", "missing_field", field="status"), Case("confirm", "missing_field", field="totalAmount"),
    Case("confirm", "timeout", again="malformed_json"), Case("confirm", "error", again="missing_field"),
    *(Case("cancel", f) for f in ("timeout", "error", "slow", "reset", "malformed_json", "missing_field",
                                  "already_processed")),
    *(Case("cancel", f, before=True) for f in ("timeout", "error")),
    Case("cancel", "timeout", again="reset"),
    *(Case("refund", f) for f in ("timeout", "slow", "reset", "malformed_json", "already_processed")),
    Case("refund", "error", before=True),
]


class Shop:
    """One merchant at Gyeol (its kiosk and native faces) and at the simulator."""

    def __init__(self, gyeol: httpx.AsyncClient, toss: httpx.AsyncClient) -> None:
        self.gyeol = gyeol
        self.toss = toss

    async def window(self, order_id: str) -> dict[str, Any]:
        r = await self.toss.post("/payments", json={"orderId": order_id, "amount": AMOUNT, "orderName": "faults"})
        assert r.status_code == 200, r.text
        body = {"paymentKey": r.json()["paymentKey"], "orderId": order_id, "amount": AMOUNT}
        r = await self.gyeol.post("/v1/payments", json=body)
        assert r.status_code == 200 and r.json()["status"] == "INITIATED", r.text
        return body

    async def arm(self, fault: str, operation: str, order_id: str, *, before: bool = False,
                  field: str | None = None) -> None:
        spec: dict[str, Any] = {"fault": fault, "before": before, "seconds": SLOW_SECONDS,
                                "match": {"operation": operation, "orderId": order_id}}
        if field:
            spec["field"] = field
        r = await self.toss.post("/admin/faults", json=spec)
        assert r.status_code == 200, r.text

    async def at_toss(self, order_id: str) -> list[dict[str, Any]]:
        r = await self.toss.get("/admin/payments", params={"orderId": order_id})
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["payments"]
        return found

    async def native(self, payment_key: str) -> dict[str, Any]:
        kiosk = (await self.gyeol.get(f"/v1/payments/{payment_key}")).json()
        p: dict[str, Any] = (await self.gyeol.get(f"/api/v1/payments/{kiosk['paymentId']}")).json()
        return p


async def _run_case(shop: Shop, case: Case) -> dict[str, Any]:
    """The case's faulted call; what Gyeol answered it."""
    order_id = f"{case.name}-{secrets.token_hex(3)}"
    body = await shop.window(order_id)
    if case.op == "confirm":
        await shop.arm(case.fault, "confirm", order_id, before=case.before, field=case.field)
        r = await shop.gyeol.post("/v1/payments/confirm", json=body)
    else:
        r = await shop.gyeol.post("/v1/payments/confirm", json=body)
        assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
        await shop.arm(case.fault, "cancel", order_id, before=case.before, field=case.field)
        if case.op == "cancel":
            r = await shop.gyeol.post(f"/v1/payments/{body['paymentKey']}/cancel", json={"cancelReason": "faults"})
        else:
            payment_id = r.json()["paymentId"]
            r = await shop.gyeol.post("/api/v1/refunds", json={"paymentId": payment_id, "amount": AMOUNT // 4})
    # A fault is never a refusal: the answer is the outcome, or that it is not known yet.
    assert r.status_code in (200, 502, 504), (case.name, r.status_code, r.text)
    if case.again:
        await shop.arm(case.again, "lookup" if case.op == "confirm" else "cancel", order_id)
    return {"case": case, "body": body, "first": r.status_code}


async def _check(shop: Shop, run: dict[str, Any]) -> None:
    """Gyeol's books against Toss's: the one outcome each can have after its fault."""
    case, body = run["case"], run["body"]
    toss = await shop.at_toss(body["orderId"])
    assert len(toss) == 1, (case.name, toss)  # one payment at Toss for the order: charged at most once
    at_toss = toss[0]
    p = await shop.native(body["paymentKey"])
    assert p["lastAttempt"]["status"] not in ("started", "unknown"), (case.name, p)
    refunds = (await shop.gyeol.get("/api/v1/refunds", params={"paymentId": p["paymentId"]})).json()["items"]
    assert all(r["status"] != "pending" for r in refunds), (case.name, refunds)
    cancels = at_toss["cancels"] or []
    refunded_at_toss = sum(c["cancelAmount"] for c in cancels)
    assert (p["refundedAmount"], len([r for r in refunds if r["status"] == "succeeded"])) == \
        (refunded_at_toss, len(cancels)), (case.name, p, refunds, at_toss)
    # Every fault here leaves Toss able to finish the request: the reconciled outcome is the asked one, at both.
    gyeol_status = {"confirm": "succeeded", "cancel": "canceled", "refund": "succeeded"}[case.op]
    assert (p["status"], at_toss["status"]) == (gyeol_status, SETTLED[case.op]), (case.name, p, at_toss)
    assert at_toss["balanceAmount"] == AMOUNT - p["refundedAmount"], (case.name, p, at_toss)


async def test_pg_faults_on_confirm_cancel_and_refund_end_reconciled_as_the_pg_books_them(
        db_url: str, tmp_path: Path, toss_sim: TossSim) -> None:
    """Every Toss case (CASES) and every sandbox case (SANDBOX_CASES) at once against one server: the faulted
    call, `gyeol reconcile` while Toss still works on the slow ones, then again once it is done."""
    env = server_env(db_url, tmp_path, toss_sim)
    server = Server(env)
    try:
        server.wait_ready()
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=60) as gyeol, \
                httpx.AsyncClient(base_url=toss_sim.url, headers=SIM_AUTH, timeout=60) as toss:
            shop = Shop(gyeol, toss)
            runs, sandbox_runs = await asyncio.gather(
                asyncio.gather(*(_run_case(shop, case) for case in CASES)),
                asyncio.gather(*(_sandbox_case(gyeol, op, fault) for op, fault in SANDBOX_CASES)))
            await reconcile(env)  # the slow answers still run at Toss: their look-ups meet a 409
            await _until_toss_has_done(shop, {r["body"]["orderId"]: SETTLED[r["case"].op]
                                              for r in runs if r["case"].fault == "slow"})
            await reconcile(env)
            for run in runs:
                await _check(shop, run)
            for sandbox_run in sandbox_runs:
                await _check_sandbox(gyeol, sandbox_run)
            faults = (await toss.get("/admin/faults")).json()["faults"]
            assert len(faults) == len(CASES) + sum(1 for c in CASES if c.again)
            assert all(f["hits"] == 1 for f in faults), [f for f in faults if f["hits"] != 1]
            journal = (await toss.get("/admin/journal")).json()["entries"]
            codes = Counter(e["code"] for e in journal)
            assert codes["IDEMPOTENT_REQUEST_PROCESSING"] >= 1, codes  # a look-up met a request still running
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


SETTLED = {"confirm": "DONE", "cancel": "CANCELED", "refund": "PARTIAL_CANCELED"}


async def _until_toss_has_done(shop: Shop, expected: dict[str, str]) -> None:
    """Until Toss has finished the requests it was still working on (each order in its status)."""
    for _ in range(SLOW_SECONDS * 20):
        if [(await shop.at_toss(o))[0]["status"] for o in expected] == list(expected.values()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"Toss never finished: {expected}")


async def test_a_server_killed_while_toss_holds_its_answer_resumes_and_meets_already_processed(
        db_url: str, tmp_path: Path, toss_sim: TossSim) -> None:
    """The confirm (and a full cancel) reached Toss and was carried out; Toss's answer never came back, and Toss
    no longer holds its key. Gyeol dies waiting. The restarted server sends it again under the same key, meets
    ALREADY_PROCESSED_PAYMENT (ALREADY_CANCELED_PAYMENT), and settles it from the payment."""
    env = server_env(db_url, tmp_path, toss_sim)
    async with httpx.AsyncClient(headers=AUTH, timeout=60) as gyeol, \
            httpx.AsyncClient(base_url=toss_sim.url, headers=SIM_AUTH, timeout=60) as toss:
        first = Server(env)
        try:
            first.wait_ready()
            gyeol.base_url = httpx.URL(first.url)
            shop = Shop(gyeol, toss)
            to_confirm, to_cancel = await shop.window(f"crash-confirm-{secrets.token_hex(3)}"), \
                await shop.window(f"crash-cancel-{secrets.token_hex(3)}")
            r = await gyeol.post("/v1/payments/confirm", json=to_cancel)
            assert r.status_code == 200, r.text
            await shop.arm("already_processed", "confirm", to_confirm["orderId"])
            await shop.arm("already_processed", "cancel", to_cancel["orderId"])
            held = [asyncio.create_task(gyeol.post("/v1/payments/confirm", json=to_confirm,
                                                   headers={"Idempotency-Key": "crash-confirm"})),
                    asyncio.create_task(gyeol.post(f"/v1/payments/{to_cancel['paymentKey']}/cancel",
                                                   json={"cancelReason": "crash"},
                                                   headers={"Idempotency-Key": "crash-cancel"}))]
            # Toss has done both, and holds both answers.
            await _until_toss_has_done(shop, {to_confirm["orderId"]: "DONE", to_cancel["orderId"]: "CANCELED"})
        finally:
            first.proc.kill()
            first.stop()
        for task in held:
            with pytest.raises(httpx.TransportError):
                await task
        with Server(env) as again:
            again.wait_ready()
            gyeol.base_url = httpx.URL(again.url)
            answers = [await until_answered(gyeol, "/v1/payments/confirm", to_confirm, "crash-confirm"),
                       await until_answered(gyeol, f"/v1/payments/{to_cancel['paymentKey']}/cancel",
                                             {"cancelReason": "crash"}, "crash-cancel")]
            assert answers[0].status_code == 200 and answers[0].json()["status"] == "APPROVED", answers[0].text
            # The cancel is answered as settled, or (carried on by the server's recovery first) as done already.
            assert answers[1].status_code in (200, 422), answers[1].text
            paid, canceled = await shop.native(to_confirm["paymentKey"]), await shop.native(to_cancel["paymentKey"])
            assert (paid["status"], paid["lastAttempt"]["status"]) == ("succeeded", "succeeded"), paid
            assert (canceled["status"], canceled["refundedAmount"]) == ("canceled", AMOUNT), canceled
            at_toss = [await shop.at_toss(b["orderId"]) for b in (to_confirm, to_cancel)]
            assert [[(x["status"], len(x["cancels"] or ())) for x in found] for found in at_toss] == \
                [[("DONE", 0)], [("CANCELED", 1)]], at_toss
            journal = (await toss.get("/admin/journal")).json()["entries"]
            codes = {(e["operation"], e["code"]) for e in journal}
            assert {("confirm", "ALREADY_PROCESSED_PAYMENT"), ("cancel", "ALREADY_CANCELED_PAYMENT")} <= codes, codes


# --- the sandbox PG's own switches (Gyeol-Sandbox-Fault), met in the same server as Toss's ------------------------

SANDBOX_CASES = [(op, fault) for op in ("confirm", "refund") for fault in ("timeout", "error", "slow")]


async def _sandbox_case(c: httpx.AsyncClient, op: str, fault: str) -> dict[str, Any]:
    order = {"orderId": f"sb-{op}-{fault}-{secrets.token_hex(3)}", "amount": AMOUNT, "currency": "KRW",
             "confirm": True, "methodOptions": {"token": "tok_visa"}}
    headers = {"Gyeol-Sandbox-Fault": fault}
    if op == "confirm":
        r = await c.post("/api/v1/payments/intent", json=order, headers=headers)
        # A refusal or a timeout names its payment in the error's details.
        payment_id = r.json()["paymentId"] if r.status_code == 200 else r.json()["error"]["details"]["paymentId"]
    else:
        paid = await c.post("/api/v1/payments/intent", json=order)
        assert paid.status_code == 200, paid.text
        payment_id = paid.json()["paymentId"]
        r = await c.post("/api/v1/refunds", json={"paymentId": payment_id, "amount": AMOUNT // 4}, headers=headers)
    assert r.status_code in (200, 402, 504), (op, fault, r.status_code, r.text)
    return {"op": op, "fault": fault, "paymentId": payment_id}


async def _check_sandbox(c: httpx.AsyncClient, run: dict[str, Any]) -> None:
    p = (await c.get(f"/api/v1/payments/{run['paymentId']}")).json()
    charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": run["paymentId"]})).json()
    taken = [x for x in charges["items"] if x["kind"] == "charge" and x["status"] == "succeeded"]
    refunded = sum(x["amount"] for x in charges["items"] if x["kind"] == "refund" and x["status"] == "succeeded")
    refunds = (await c.get("/api/v1/refunds", params={"paymentId": run["paymentId"]})).json()["items"]
    assert p["lastAttempt"]["status"] not in ("started", "unknown"), (run, p)
    assert all(r["status"] != "pending" for r in refunds), (run, refunds)
    # Gyeol's outcome is the sandbox's: charged once when succeeded, not at all when failed.
    assert len(taken) == (1 if p["status"] == "succeeded" else 0), (run, p, charges)
    assert p["refundedAmount"] == refunded, (run, p, charges)
    # `error` is the sandbox's refusal before any work; `timeout` and `slow` did the work.
    done = run["fault"] != "error"
    if run["op"] == "confirm":
        assert p["status"] == ("succeeded" if done else "failed"), (run, p)
    else:
        assert (p["status"], refunded) == ("succeeded", AMOUNT // 4 if done else 0), (run, p)
