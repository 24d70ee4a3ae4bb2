"""The Toss connector against the built-in simulator, the simulator's fidelity, and the kiosk and shop faces
routed to Toss for a merchant with Toss credentials."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from conftest import Env, make_env
from gyeol.app import set_toss_key
from gyeol.connectors.base import AuthorizeRequest, ConnectorUnavailable, Credentials
from gyeol.connectors.toss.connector import TossConnector
from gyeol.core.reconcile import Reconciler
from gyeol.simulators.toss.simulator import TossSimulator

SIM_KEY = "test_sk_merchant_at_toss"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


class Clock:
    def __init__(self) -> None:
        self.t = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.t


class LoseAnswers(httpx.AsyncBaseTransport):
    """Delivers requests to the PG but, when armed, loses its answer: a timeout after the PG did the work. With
    `status` set, every payment the PG answers with is in that status instead: one Toss may add one day."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.armed = False
        self.status: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.armed:
            self.armed = False
            raise httpx.ReadTimeout("lost", request=request)
        if self.status is not None and response.status_code == 200:
            body = orjson.loads(await response.aread())
            return httpx.Response(200, json={**body, "status": self.status})
        return response


@dataclass
class TossEnv:
    env: Env
    sim: TossSimulator
    sim_client: httpx.AsyncClient
    wire: LoseAnswers
    clock: Clock

    async def window(self, order_id: str, amount: int, method: str = "CARD", **extra: Any) -> str:
        r = await self.sim_client.post("/payments", json={"orderId": order_id, "orderName": "커피 2잔",
                                                          "amount": amount, "method": method, **extra})
        assert r.status_code == 200, r.text
        key: str = r.json()["paymentKey"]
        return key


@pytest.fixture
async def toss(db_url: str, tmp_path: Path) -> AsyncIterator[TossEnv]:
    env = await make_env(db_url, tmp_path, toss_base_url="http://toss.sim")
    clock = Clock()
    sim = TossSimulator(webhook_url=f"http://testserver/api/payments/callback/{env.merchant_id}",
                        retry_unit_seconds=0.001, now=clock,
                        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app)))
    wire = LoseAnswers(httpx.ASGITransport(app=sim))
    connector = env.svc.connectors.by_name("toss")
    assert isinstance(connector, TossConnector)
    await connector.client.aclose()
    connector.client = httpx.AsyncClient(transport=wire)
    await set_toss_key(env.svc, env.merchant_id, SIM_KEY)
    sim_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://toss.sim",
                                   headers=basic(SIM_KEY))
    try:
        yield TossEnv(env, sim, sim_client, wire, clock)
    finally:
        await sim.drain()
        await sim.aclose()
        await sim_client.aclose()
        await env.close()


# --- the simulator, as a Toss client sees it ---------------------------------------------------------

async def test_simulator_payment_object_and_lifecycle(toss: TossEnv) -> None:
    t = toss.sim_client
    key = await toss.window("order-sim-1", 15_000)
    r = await t.post("/v1/payments/confirm", json={"paymentKey": key, "orderId": "order-sim-1", "amount": 15_000,
                                                    "unknownField": True})
    assert r.status_code == 200
    p = r.json()
    for k in ("mId", "version", "paymentKey", "type", "orderId", "orderName", "currency", "method", "totalAmount",
              "balanceAmount", "status", "requestedAt", "approvedAt", "suppliedAmount", "vat", "cancels", "card",
              "virtualAccount", "secret", "failure", "receipt", "checkout", "lastTransactionKey", "easyPay"):
        assert k in p, k
    assert (p["status"], p["method"], p["cancels"], p["vat"], p["suppliedAmount"]) == ("DONE", "카드", None, 1364,
                                                                                      13636)
    assert p["approvedAt"].endswith("+09:00")
    english = (await t.get(f"/v1/payments/{key}", headers={"Accept-Language": "en-US"})).json()
    assert english["method"] == "CARD"
    again = await t.post("/v1/payments/confirm", json={"paymentKey": key, "orderId": "order-sim-1",
                                                        "amount": 15_000})
    assert again.status_code == 400 and again.json()["code"] == "ALREADY_PROCESSED_PAYMENT"
    c1 = (await t.post(f"/v1/payments/{key}/cancel", json={"cancelReason": "one", "cancelAmount": 5000})).json()
    assert (c1["status"], c1["totalAmount"], c1["balanceAmount"]) == ("PARTIAL_CANCELED", 15_000, 10_000)
    assert c1["suppliedAmount"] + c1["vat"] == 10_000
    assert c1["lastTransactionKey"] == c1["cancels"][0]["transactionKey"]
    c2 = (await t.post(f"/v1/payments/{key}/cancel", json={"cancelReason": "rest"})).json()
    assert (c2["status"], c2["balanceAmount"], len(c2["cancels"])) == ("CANCELED", 0, 2)
    assert c2["lastTransactionKey"] == c2["cancels"][1]["transactionKey"] != c1["lastTransactionKey"]
    r = await t.post(f"/v1/payments/{key}/cancel", json={"cancelReason": "again"})
    assert r.status_code == 400 and r.json()["code"] == "ALREADY_CANCELED_PAYMENT"
    by_order = (await t.get("/v1/payments/orders/order-sim-1")).json()
    assert by_order["paymentKey"] == key


async def test_simulator_auth_isolation_and_errors(toss: TossEnv) -> None:
    key = await toss.window("order-sim-2", 1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=toss.sim), base_url="http://toss.sim") as raw:
        r = await raw.get(f"/v1/payments/{key}")
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED_KEY"
        r = await raw.get(f"/v1/payments/{key}", headers=basic("live_sk_nope"))
        assert r.status_code == 401
        r = await raw.get(f"/v1/payments/{key}", headers={"Authorization": "Basic " + base64.b64encode(
            SIM_KEY.encode()).decode()})
        assert r.status_code == 403 and r.json()["code"] == "INCORRECT_BASIC_AUTH_FORMAT"
        r = await raw.get(f"/v1/payments/{key}", headers=basic("test_sk_someone_else"))
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND_PAYMENT"
    t = toss.sim_client
    for code, status in (("REJECT_CARD_COMPANY", 403), ("INVALID_CARD_EXPIRATION", 400),
                         ("EXCEED_MAX_DAILY_PAYMENT_COUNT", 400), ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500),
                         ("NO_SUCH_CODE", 400)):
        r = await t.post("/v1/payments/confirm", json={"paymentKey": key, "orderId": "order-sim-2", "amount": 1000},
                         headers={"TossPayments-Test-Code": code})
        assert r.status_code == status and set(r.json()) == {"code", "message"}
        assert r.json()["code"] == (code if code != "NO_SUCH_CODE" else "INVALID_TEST_CODE")
    assert (await t.get(f"/v1/payments/{key}")).json()["status"] == "IN_PROGRESS"  # injected errors change nothing
    r = await t.post("/v1/payments/confirm", json={"paymentKey": key, "orderId": "order-sim-2", "amount": 1000},
                     headers={"Idempotency-Key": "x" * 301})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    legacy = await t.post(f"/v1/payments/{key}", json={"orderId": "order-sim-2", "amount": 1000},
                          headers={"Idempotency-Key": "idem-1"})
    assert legacy.status_code == 200 and legacy.json()["status"] == "DONE"
    replay = await t.post(f"/v1/payments/{key}", json={"orderId": "order-sim-2", "amount": 1000},
                          headers={"Idempotency-Key": "idem-1"})
    assert replay.status_code == 200 and replay.json() == legacy.json()
    assert (await t.get("/v1/payments/orders/nope-123")).status_code == 404


async def test_simulator_expiry_and_virtual_accounts(toss: TossEnv) -> None:
    t = toss.sim_client
    key = await toss.window("order-sim-3", 3000)
    toss.clock.t += timedelta(minutes=11)
    got = (await t.get(f"/v1/payments/{key}")).json()
    assert (got["status"], got["method"]) == ("EXPIRED", None)
    r = await t.post("/v1/payments/confirm", json={"paymentKey": key, "orderId": "order-sim-3", "amount": 3000})
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND_PAYMENT_SESSION"
    va = await toss.window("order-sim-4", 50_000, method="VIRTUAL_ACCOUNT")
    r = (await t.post("/v1/payments/confirm", json={"paymentKey": va, "orderId": "order-sim-4", "amount": 50_000}
                      )).json()
    assert (r["status"], r["method"]) == ("WAITING_FOR_DEPOSIT", "가상계좌")
    assert r["virtualAccount"]["accountNumber"].startswith("X") and r["secret"]
    d = (await t.post(f"/v1/virtual-accounts/{va}/deposit")).json()
    assert d["status"] == "DONE"
    await toss.sim.drain()
    kinds = [x["body"].get("eventType", "DEPOSIT_CALLBACK") for x in toss.sim.deliveries]
    assert "DEPOSIT_CALLBACK" in kinds and "PAYMENT_STATUS_CHANGED" in kinds
    deposit = next(x for x in toss.sim.deliveries if "secret" in x["body"])
    assert deposit["body"]["secret"] == r["secret"] and deposit["transmissionId"].startswith("whtrans_")


async def test_simulator_retries_webhooks_on_tosss_schedule(toss: TossEnv) -> None:
    toss.sim.webhook_urls[SIM_KEY] = "http://testserver/nowhere"  # answers 404: every send fails
    key = await toss.window("order-sim-5", 1000)
    await toss.sim_client.post("/v1/payments/confirm", json={"paymentKey": key, "orderId": "order-sim-5",
                                                               "amount": 1000})
    await toss.sim.drain()
    sends = [x for x in toss.sim.deliveries if x["url"].endswith("/nowhere")]
    assert [x["attempt"] for x in sends] == list(range(8))  # the first send and 7 re-sends
    assert len({x["transmissionId"] for x in sends}) == 1


# --- the connector against the simulator --------------------------------------------------------------

async def test_connector_confirm_errors_and_already_processed(toss: TossEnv) -> None:
    conn = toss.env.svc.connectors.by_name("toss")
    creds = Credentials(toss.env.merchant_id, SIM_KEY)  # handed in: the connector reads no database
    key = await toss.window("order-con-1", 2000)

    def confirm(reference: str, amount: int = 2000, fault: str | None = None) -> AuthorizeRequest:
        return AuthorizeRequest(creds, reference=reference, payment_id="pay_x", amount=amount, currency="KRW",
                                capture=True, payment_key=key, order_id="order-con-1", fault=fault)

    for code in ("REJECT_CARD_COMPANY", "INVALID_CARD_EXPIRATION", "EXCEED_MAX_DAILY_PAYMENT_COUNT"):
        res = await conn.authorize(confirm(f"att_{code}", fault=code))
        assert (res.outcome, res.failure_code) == ("failed", code)
    with pytest.raises(ConnectorUnavailable):
        await conn.authorize(confirm("att_500", fault="FAILED_INTERNAL_SYSTEM_PROCESSING"))
    ok = await conn.authorize(confirm("att_ok"))
    assert (ok.outcome, ok.pg_transaction_id, ok.amount) == ("succeeded", key, 2000)
    again = await conn.authorize(confirm("att_again"))
    assert again.outcome == "succeeded"  # ALREADY_PROCESSED, accepted
    wrong = await conn.authorize(confirm("att_wrong", amount=1999))
    assert wrong.outcome == "failed" and wrong.failure_code in ("ALREADY_PROCESSED_PAYMENT", "INVALID_REQUEST")


async def test_kiosk_through_toss_with_a_lost_answer_and_reconcile(toss: TossEnv) -> None:
    c = toss.env.client
    key = await toss.window("kiosk-toss-1", 8000)
    body = {"paymentKey": key, "orderId": "kiosk-toss-1", "amount": 8000}
    assert (await c.post("/v1/payments", json=body)).json()["status"] == "INITIATED"
    toss.wire.armed = True
    r = await c.post("/v1/payments/confirm", json=body)
    assert r.status_code == 502, r.text
    assert (await c.get(f"/v1/payments/{key}")).json()["status"] == "IN_PROGRESS"
    svc = toss.env.svc
    result = await Reconciler(svc.payments, svc.refunds, svc.db, svc.clock).run_once()
    assert [a["status"] for a in result["attempts"]] == ["succeeded"]
    got = (await c.get(f"/v1/payments/{key}")).json()
    assert got["status"] == "APPROVED"
    assert (await toss.sim_client.get(f"/v1/payments/{key}")).json()["status"] == "DONE"
    r = await c.post(f"/v1/payments/{key}/cancel", json={"cancelReason": "USER_REQUEST", "cancelAmount": 8000})
    assert r.status_code == 200 and r.json()["status"] == "CANCELED", r.text
    at_toss = (await toss.sim_client.get(f"/v1/payments/{key}")).json()
    assert (at_toss["status"], at_toss["balanceAmount"]) == ("CANCELED", 0)


async def test_shop_confirm_and_simulator_webhook_through_toss(toss: TossEnv) -> None:
    env = toss.env
    await env.client.post("/api/v1/orders", json={"orderId": "shop-toss-1", "amount": 12_000, "currency": "KRW"})
    key = await toss.window("shop-toss-1", 12_000)
    r = await env.client.post("/api/payments/confirm", json={"paymentKey": key, "orderId": "shop-toss-1",
                                                             "amount": 12_000})
    assert r.status_code == 200, r.text
    first = r.json()
    await toss.sim.drain()  # the simulator's PAYMENT_STATUS_CHANGED reached the callback: a no-op
    assert any(x["status"] == 200 for x in toss.sim.deliveries)
    again = (await env.client.post("/api/payments/confirm", json={"paymentKey": key, "orderId": "shop-toss-1",
                                                                  "amount": 12_000})).json()
    assert (again["settlementId"], again["paymentId"]) == (first["settlementId"], first["paymentId"])
    assert (await env.client.get("/api/v1/settlements")).json()["total"] == 1


async def test_shop_webhook_first_through_toss(toss: TossEnv) -> None:
    env = toss.env
    await env.client.post("/api/v1/orders", json={"orderId": "shop-toss-2", "amount": 7000, "currency": "KRW"})
    key = await toss.window("shop-toss-2", 7000)
    # someone confirms at Toss directly; its webhook arrives before the shop's confirm
    r = await toss.sim_client.post("/v1/payments/confirm", json={"paymentKey": key, "orderId": "shop-toss-2",
                                                                  "amount": 7000})
    assert r.status_code == 200
    await toss.sim.drain()
    order = (await env.client.get("/api/v1/orders/shop-toss-2")).json()
    assert (order["status"], order["paymentKey"]) == ("paid", key)
    r = await env.client.post("/api/payments/confirm", json={"paymentKey": key, "orderId": "shop-toss-2",
                                                             "amount": 7000})
    assert r.status_code == 200, r.text
    assert (await env.client.get("/api/v1/settlements")).json()["total"] == 1
    assert (await env.client.get("/api/v1/payments")).json()["total"] == 1


# --- one real HTTP round trip: the stand-alone simulator on a port ---------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def sim_server() -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(TossSimulator(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


async def test_connector_over_real_http(sim_server: str, tmp_path: Path, db_url: str) -> None:
    env = await make_env(db_url, tmp_path, toss_base_url=sim_server)
    try:
        await set_toss_key(env.svc, env.merchant_id, SIM_KEY)
        async with httpx.AsyncClient(base_url=sim_server, headers=basic(SIM_KEY)) as t:
            key = (await t.post("/payments", json={"orderId": "real-http-1", "amount": 4000})).json()["paymentKey"]
        body = {"paymentKey": key, "orderId": "real-http-1", "amount": 4000}
        await env.client.post("/v1/payments", json=body)
        r = await env.client.post("/v1/payments/confirm", json=body)
        assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
        native = (await env.client.get(f"/api/v1/payments/{r.json()['paymentId']}")).json()
        assert native["lastAttempt"]["connector"] == "toss"
    finally:
        await env.close()


async def test_a_cancel_made_at_toss_is_recorded_from_its_webhook(toss: TossEnv) -> None:
    env = toss.env
    await env.client.post("/api/v1/orders", json={"orderId": "shop-toss-3", "amount": 9000, "currency": "KRW"})
    key = await toss.window("shop-toss-3", 9000)
    first = (await env.client.post("/api/payments/confirm", json={"paymentKey": key, "orderId": "shop-toss-3",
                                                                   "amount": 9000})).json()
    await toss.sim.drain()
    r = await toss.sim_client.post(f"/v1/payments/{key}/cancel", json={"cancelReason": "console",
                                                                        "cancelAmount": 4000})
    assert r.status_code == 200
    await toss.sim.drain()
    p = (await env.client.get(f"/api/v1/payments/{first['paymentId']}")).json()
    assert (p["status"], p["refundedAmount"]) == ("succeeded", 4000)
    await toss.sim_client.post(f"/v1/payments/{key}/cancel", json={"cancelReason": "console"})
    await toss.sim.drain()
    p = (await env.client.get(f"/api/v1/payments/{first['paymentId']}")).json()
    assert (p["status"], p["refundedAmount"]) == ("canceled", 9000)
    items = (await env.client.get("/api/v1/settlements")).json()["items"]
    assert sum(i["grossAmount"] for i in items) == 0 and len(items) == 3
    kiosk_view = (await env.client.get(f"/v1/payments/{key}")).json()
    assert kiosk_view["status"] == "CANCELED"


# --- what the connector makes of Toss's answers, and of the merchant's credentials --------------------

async def test_a_status_toss_adds_later_leaves_the_payment_pending_never_failed(toss: TossEnv) -> None:
    c, svc = toss.env.client, toss.env.svc
    key = await toss.window("kiosk-toss-new", 6000)
    body = {"paymentKey": key, "orderId": "kiosk-toss-new", "amount": 6000}
    await c.post("/v1/payments", json=body)
    toss.wire.status = "IN_REVIEW"  # Toss answers the confirm, in a status the connector has no word for
    r = await c.post("/v1/payments/confirm", json=body)
    assert r.status_code == 502, r.text
    reconciler = Reconciler(svc.payments, svc.refunds, svc.db, svc.clock)
    result = await reconciler.run_once()  # asked again by orderId: still the unknown status
    assert [a["status"] for a in result["attempts"]] == ["pending"]
    assert (await c.get(f"/v1/payments/{key}")).json()["status"] == "IN_PROGRESS"
    payment_id = (await c.get(f"/v1/payments/{key}")).json()["paymentId"]
    native = (await c.get(f"/api/v1/payments/{payment_id}")).json()
    assert (native["status"], native["lastAttempt"]["status"]) == ("pending", "unknown")
    toss.wire.status = None  # Toss reports the payment it approved
    result = await reconciler.run_once()
    assert [a["status"] for a in result["attempts"]] == ["succeeded"]
    assert (await c.get(f"/v1/payments/{key}")).json()["status"] == "APPROVED"


async def test_a_merchants_new_toss_secret_key_is_used_at_once(toss: TossEnv) -> None:
    c, env = toss.env.client, toss.env
    first = await toss.window("kiosk-toss-key-1", 3000)
    body = {"paymentKey": first, "orderId": "kiosk-toss-key-1", "amount": 3000}
    await c.post("/v1/payments", json=body)
    assert (await c.post("/v1/payments/confirm", json=body)).json()["status"] == "APPROVED"
    new_key = "test_sk_merchant_rotated"
    await set_toss_key(env.svc, env.merchant_id, new_key)
    # Toss keeps each secret key's payments apart: this one exists for the new key only.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=toss.sim), base_url="http://toss.sim",
                                 headers=basic(new_key)) as t:
        second = (await t.post("/payments", json={"orderId": "kiosk-toss-key-2", "amount": 4000})).json()
        body = {"paymentKey": second["paymentKey"], "orderId": "kiosk-toss-key-2", "amount": 4000}
        await c.post("/v1/payments", json=body)
        r = await c.post("/v1/payments/confirm", json=body)
        assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
        assert (await t.get(f"/v1/payments/{second['paymentKey']}")).json()["status"] == "DONE"
    # The first payment is the old key's at Toss: the new key does not find it there.
    r = await c.post(f"/v1/payments/{first}/cancel", json={"cancelReason": "USER_REQUEST"})
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND_PAYMENT", r.text


async def test_fault_switches_are_checked_scoped_to_their_key_and_set_per_request(toss: TossEnv) -> None:
    t = toss.sim_client
    for spec in ({"fault": "explode"}, {"fault": "slow", "before": True}, {"fault": "timeout", "times": 0},
                 {"fault": "error", "match": {"operation": "window"}}, {"fault": "reset", "match": {"amount": 1}}):
        r = await t.post("/admin/faults", json=spec)
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (spec, r.text)
    assert (await t.get("/admin/faults")).json() == {"faults": []}
    key = await toss.window("order-fault-1", 1000)
    armed = (await t.post("/admin/faults", json={"fault": "error", "match": {"operation": "lookup"}})).json()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=toss.sim), base_url="http://toss.sim",
                                 headers=basic("test_sk_someone_else")) as other:
        assert (await other.get("/admin/faults")).json() == {"faults": []}  # another key's switches are apart
    assert (await t.get(f"/v1/payments/{key}")).status_code == 500
    assert (await t.get(f"/v1/payments/{key}")).status_code == 200  # used up by its one hit
    assert (await t.get("/admin/faults")).json()["faults"] == [{**armed, "hits": 1}]
    r = await t.get(f"/v1/payments/{key}", headers={"Gyeol-Sim-Fault": "missing_field; field=totalAmount"})
    assert r.status_code == 200 and "totalAmount" not in r.json() and r.json()["status"] == "IN_PROGRESS"
    r = await t.get(f"/v1/payments/{key}", headers={"Gyeol-Sim-Fault": "slow; seconds=x"})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    await t.delete("/admin/faults")
    assert (await t.get("/admin/faults")).json() == {"faults": []}
    journal = (await t.get("/admin/journal")).json()["entries"]
    assert [(e["operation"], e["httpStatus"], e["fault"]) for e in journal] == [
        ("lookup", 200, "error"), ("lookup", 200, None), ("lookup", 200, "missing_field")]
