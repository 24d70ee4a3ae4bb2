"""Contract tests of refunds, saved payment methods, orders, the sandbox's own endpoints, inbound PG webhooks
and the ops routes."""

from __future__ import annotations

import time
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook

from conftest import WEBHOOK_SECRET, Env

CARD = {"number": "5555555555554444", "expMonth": 11, "expYear": 2041, "cvc": "321"}


def err(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = r.json()["error"]
    assert set(body) == {"type", "code", "message", "details"}
    return body


async def test_partial_then_full_refund(env: Env) -> None:
    pay = await env.paid(1000)
    r = await env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"], "amount": 300,
                                                       "reason": "one item"})
    assert r.status_code == 200, r.text
    ref = r.json()
    assert ref["refundId"].startswith("re_") and (ref["status"], ref["amount"]) == ("succeeded", 300)
    got = (await env.client.get(f"/api/v1/refunds/{ref['refundId']}")).json()
    assert (got["refundId"], got["status"], got["amount"], got["paymentId"]) == (
        ref["refundId"], "succeeded", 300, pay["paymentId"])
    over = await env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"], "amount": 701})
    assert over.status_code == 409 and err(over)["code"] == "REFUND_EXCEEDS_AMOUNT"
    rest = await env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"]})
    assert rest.status_code == 200 and rest.json()["amount"] == 700
    p = (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()
    assert (p["status"], p["refundedAmount"]) == ("refunded", 1000)
    again = await env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"], "amount": 1})
    assert again.status_code == 409
    refunds = [(c["kind"], c["amount"]) for c in await env.charges(pay["paymentId"])]
    assert refunds.count(("refund", 300)) == 1 and refunds.count(("refund", 700)) == 1
    listed = (await env.client.get("/api/v1/refunds", params={"paymentId": pay["paymentId"]})).json()
    assert listed["total"] == 2
    order = (await env.client.get(f"/api/v1/orders/{pay['orderId']}")).json()
    assert order["refundedAmount"] == 1000


async def test_refund_of_unpaid_payment_is_refused(env: Env) -> None:
    pay = await env.intent(1000)
    r = await env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"]})
    assert r.status_code == 409 and err(r)["type"] == "conflict"
    assert (await env.client.get("/api/v1/refunds/re_nothing")).status_code == 404


async def test_saved_payment_methods(env: Env) -> None:
    t1 = (await env.client.post("/api/v1/sandbox/tokens", json={"card": CARD})).json()
    assert t1["token"].startswith("tok_") and (t1["brand"], t1["last4"]) == ("mastercard", "4444")
    r = await env.client.post("/api/v1/customers/cus_a/payment-methods", json={"token": t1["token"], "type": "card"})
    assert r.status_code == 200, r.text
    pm1 = r.json()
    assert pm1["paymentMethodId"].startswith("pm_")
    assert (pm1["brand"], pm1["last4"], pm1["exp"]) == ("mastercard", "4444", "11/41")
    t2 = (await env.client.post("/api/v1/sandbox/tokens",
                                json={"card": {**CARD, "number": "4242 4242 4242 4242"}})).json()
    pm2 = (await env.client.post("/api/v1/customers/cus_a/payment-methods", json={"token": t2["token"]})).json()
    listed = (await env.client.get("/api/v1/customers/cus_a/payment-methods")).json()
    assert isinstance(listed, list)
    assert [(m["paymentMethodId"], m["default"]) for m in listed] == [(pm1["paymentMethodId"], True),
                                                                       (pm2["paymentMethodId"], False)]
    assert set(listed[0]) >= {"paymentMethodId", "brand", "last4", "exp", "default"}
    r = await env.client.post(f"/api/v1/customers/cus_a/payment-methods/{pm2['paymentMethodId']}/default")
    assert r.status_code == 200
    listed = (await env.client.get("/api/v1/customers/cus_a/payment-methods")).json()
    assert [m["default"] for m in listed] == [False, True]
    r = await env.client.delete(f"/api/v1/payment-methods/{pm1['paymentMethodId']}")
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert (await env.client.delete(f"/api/v1/payment-methods/{pm1['paymentMethodId']}")).status_code == 404
    listed = (await env.client.get("/api/v1/customers/cus_a/payment-methods")).json()
    assert [m["paymentMethodId"] for m in listed] == [pm2["paymentMethodId"]]
    bad = await env.client.post("/api/v1/customers/cus_a/payment-methods", json={"token": "tok_nope"})
    assert bad.status_code == 404 and err(bad)["code"] == "INVALID_TOKEN"  # as an unknown paymentMethodId is
    other, _, _ = await env.new_merchant("other")
    r = await other.post(f"/api/v1/customers/cus_a/payment-methods/{pm2['paymentMethodId']}/default")
    assert r.status_code == 404
    assert (await other.get("/api/v1/customers/cus_a/payment-methods")).status_code == 404


async def test_orders_contract(env: Env) -> None:
    r = await env.client.post("/api/v1/orders", json={
        "orderId": "ord_A-1", "amount": 3000, "currency": "KRW", "orderName": "two pens", "userId": "u1",
        "items": [{"name": "pen", "amount": 1500, "quantity": 2}], "metadata": {"k": "v"}})
    assert r.status_code == 200, r.text
    o = r.json()
    assert {k: o[k] for k in ("orderId", "amount", "currency", "status", "paidAmount", "refundedAmount", "userId",
                               "metadata")} == {"orderId": "ord_A-1", "amount": 3000, "currency": "KRW",
                                                "status": "created", "paidAmount": 0, "refundedAmount": 0,
                                                "userId": "u1", "metadata": {"k": "v"}}
    assert o["createdAt"].endswith("Z")
    dup = await env.client.post("/api/v1/orders", json={"orderId": "ord_A-1", "amount": 3000, "currency": "KRW"})
    assert dup.status_code == 409
    bad_items = await env.client.post("/api/v1/orders", json={
        "orderId": "o2", "amount": 3000, "currency": "KRW", "items": [{"name": "pen", "amount": 1000}]})
    assert bad_items.status_code == 400
    pay = await env.paid(3000, orderId="ord_A-1")
    o = (await env.client.get("/api/v1/orders/ord_A-1")).json()
    assert (o["status"], o["paidAmount"]) == ("paid", 3000) and o["paidAt"]
    assert pay["status"] == "succeeded"
    assert (await env.client.get("/api/v1/orders/nope")).status_code == 404


async def test_sandbox_charges_show_the_outside_view(env: Env) -> None:
    pay = await env.paid(2500)
    r = await env.client.get("/api/v1/sandbox/charges", params={"paymentId": pay["paymentId"]})
    body = r.json()
    assert body["total"] == 1
    c = body["items"][0]
    assert (c["kind"], c["status"], c["amount"], c["currency"]) == ("charge", "succeeded", 2500, "KRW")


def _signed(body: dict[str, Any], msg_id: str, ts: int | None = None, secret: str = WEBHOOK_SECRET
            ) -> tuple[bytes, dict[str, str]]:
    from datetime import UTC, datetime

    raw = orjson.dumps(body)
    when = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
    sig = Webhook(secret).sign(msg_id, when, raw.decode())
    return raw, {"content-type": "application/json", "webhook-id": msg_id,
                 "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": sig}


async def _pending_3ds(env: Env) -> dict[str, Any]:
    pay = await env.intent(7000)
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm",
                              json={"card": {**CARD, "number": "4000000000003220"}})
    assert r.json()["status"] == "pending"
    return pay


async def test_webhook_signature_duplicates_and_order(env: Env) -> None:
    pay = await _pending_3ds(env)
    anon = env.client_for()
    event = {"type": "payment.succeeded", "data": {"paymentId": pay["paymentId"], "amount": 7000,
                                                    "pgTransactionId": "ch_x"}}
    raw, headers = _signed(event, "msg_bad", secret="whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==")
    r = await anon.post("/api/v1/webhooks/payments", content=raw, headers=headers)
    assert r.status_code == 401 and err(r)["code"] == "INVALID_SIGNATURE"  # the sender is not who it says
    raw, headers = _signed(event, "msg_stale", ts=int(time.time()) - 600)
    assert (await anon.post("/api/v1/webhooks/payments", content=raw, headers=headers)).status_code == 401
    assert (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()["status"] == "pending"

    raw, headers = _signed(event, "msg_1")
    r = await anon.post("/api/v1/webhooks/payments", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()["status"] == "succeeded"
    r = await anon.post("/api/v1/webhooks/payments", content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["duplicate"] is True

    late = {"type": "payment.failed", "data": {"paymentId": pay["paymentId"], "amount": 7000,
                                                "pgTransactionId": "ch_x", "failureReason": "card_declined"}}
    raw, headers = _signed(late, "msg_2")
    assert (await anon.post("/api/v1/webhooks/payments", content=raw, headers=headers)).status_code == 200
    assert (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()["status"] == "succeeded"


async def test_webhook_malformed_event(env: Env) -> None:
    raw, headers = _signed({"nope": 1}, "msg_m")
    r = await env.client_for().post("/api/v1/webhooks/payments", content=raw, headers=headers)
    assert r.status_code == 400 and err(r)["code"] == "INVALID_EVENT"


async def test_ops_routes(env: Env) -> None:
    anon = env.client_for()
    await env.paid(1000)
    await anon.get("/api/v1/payments")
    r = await anon.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert "gyeol_http_requests_total" in text and 'status="401"' in text
    assert "gyeol_http_request_duration_seconds_bucket" in text
    assert 'gyeol_payments{status="succeeded"} 1.0' in text
    spec = (await anon.get("/openapi.json")).json()
    assert "/api/v1/payments/intent" in spec["paths"]
    assert (await anon.get("/docs")).status_code == 200
    assert r.headers.get("request-id", "").startswith("req_")


async def test_openapi_speaks_to_integrators(env: Env) -> None:
    """Tags, summaries and descriptions name what an integrator is looking for, never our design notes."""
    spec = (await env.client_for().get("/openapi.json")).json()
    operations = [op for ops in spec["paths"].values() for op in ops.values()]
    texts = [t for op in operations for t in (*op.get("tags", []), op.get("summary", ""), op.get("description", ""))]
    texts += [s.get("description", "") for s in spec["components"]["schemas"].values()]
    assert [t for t in texts if "seed" in t.lower()] == []
    assert all(op.get("summary") and op.get("tags") for op in operations)
    tags = {t for op in operations for t in op["tags"]}
    assert {"Kiosk (Toss-style)", "Shop: Toss confirm and callback"} <= tags
    # FastAPI's default summary is the function's name ("Callback Default"); ours read as sentences.
    assert [s for s in (op["summary"] for op in operations) if " " in s and s.istitle()] == []
