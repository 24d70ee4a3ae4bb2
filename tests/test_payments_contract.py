"""Contract tests of seed 000's payment endpoints: bodies, statuses and error bodies."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Env

CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2040, "cvc": "123"}


def err(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = r.json()["error"]
    assert set(body) == {"type", "code", "message", "details"}
    return body


async def test_intent_without_confirm_is_created_with_checkout(env: Env) -> None:
    r = await env.client.post("/api/v1/payments/intent", json={
        "orderId": "order-1", "amount": 15_000, "currency": "KRW", "capture": True,
        "returnUrl": "https://shop.example/ok", "cancelUrl": "https://shop.example/no",
        "metadata": {"cart": "c1"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["paymentId"].startswith("pay_") and body["status"] == "created"
    assert body["clientToken"].startswith(body["paymentId"] + "_secret_")
    assert body["redirectUrl"] == f"http://testserver/checkout/{body['paymentId']}?token={body['clientToken']}"
    assert body["expiresAt"].endswith("Z")
    got = (await env.client.get(f"/api/v1/payments/{body['paymentId']}")).json()
    for key in ("paymentId", "status", "amount", "currency", "orderId", "metadata", "capturedAmount",
                "refundedAmount", "createdAt", "updatedAt"):
        assert key in got
    assert (got["amount"], got["currency"], got["orderId"], got["metadata"]) == (15_000, "KRW", "order-1",
                                                                                  {"cart": "c1"})
    order = (await env.client.get("/api/v1/orders/order-1")).json()
    assert (order["amount"], order["status"], order["paidAmount"]) == (15_000, "created", 0)


async def test_metadata_defaults_to_empty_object(env: Env) -> None:
    pay = await env.intent(1000)
    got = (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()
    assert got["metadata"] == {}


async def test_intent_amount_must_match_existing_order(env: Env) -> None:
    r = await env.client.post("/api/v1/orders", json={"orderId": "o-match", "amount": 5000, "currency": "KRW"})
    assert r.status_code == 200, r.text
    r = await env.client.post("/api/v1/payments/intent", json={"orderId": "o-match", "amount": 4000,
                                                               "currency": "KRW"})
    assert r.status_code == 409
    assert err(r)["code"] == "AMOUNT_MISMATCH" and err(r)["type"] == "conflict"
    ok = await env.intent(5000, orderId="o-match")
    assert ok["status"] == "created"


@pytest.mark.parametrize("method", [{"token": "tok_visa"}, {"card": CARD}, {"token": "tok_mastercard"}])
async def test_confirm_with_each_method_kind_succeeds(env: Env, method: dict[str, Any]) -> None:
    pay = await env.intent(12_000)
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm", json=method)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "succeeded" and body["capturedAmount"] == 12_000
    assert body["capturedAt"] is not None
    assert body["lastAttempt"]["status"] == "succeeded"


async def test_confirm_with_saved_method(env: Env) -> None:
    tok = (await env.client.post("/api/v1/sandbox/tokens", json={"card": CARD})).json()["token"]
    pm = (await env.client.post("/api/v1/customers/cus-1/payment-methods", json={"token": tok, "type": "card"})).json()
    pay = await env.intent(3000, customerId="cus-1")
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm",
                              json={"paymentMethodId": pm["paymentMethodId"]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"


@pytest.mark.parametrize("number,reason", [
    ("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds"),
    ("4000000000000069", "expired_card"), ("4000000000000127", "incorrect_cvc"),
    ("4000000000000119", "processing_error"),
])
async def test_declines_are_402_with_failure_reason(env: Env, number: str, reason: str) -> None:
    pay = await env.intent(1000)
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm", json={"card": {**CARD, "number": number}})
    assert r.status_code == 402
    e = err(r)
    assert (e["type"], e["code"]) == ("processing", reason)
    assert e["details"]["status"] == "failed"
    got = (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()
    assert got["status"] == "failed" and got["failureReason"] == reason
    # a failed payment takes another card, as Stripe's requires_payment_method does
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm", json={"token": "tok_visa"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    kinds = [(c["kind"], c["status"]) for c in await env.charges(pay["paymentId"])]
    assert ("charge", "succeeded") in kinds and len([k for k in kinds if k[1] == "succeeded"]) == 1


async def test_declined_token(env: Env) -> None:
    pay = await env.intent(1000)
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm", json={"token": "tok_chargeDeclined"})
    assert r.status_code == 402 and err(r)["code"] == "card_declined"


async def test_manual_capture_full_and_partial(env: Env) -> None:
    pay = await env.intent(10_000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    assert pay["status"] == "authorized"
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/capture", json={"amount": 7000})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["capturedAmount"]) == ("captured", 7000)
    charges = [(c["kind"], c["amount"]) for c in await env.charges(pay["paymentId"])]
    assert ("authorization", 10_000) in charges and ("capture", 7000) in charges
    again = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/capture", json={})
    assert again.status_code == 409 and err(again)["details"]["status"] == "captured"

    full = await env.intent(5000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    r = await env.client.post(f"/api/v1/payments/{full['paymentId']}/capture")
    assert r.status_code == 200 and r.json()["capturedAmount"] == 5000


async def test_capture_more_than_authorized_is_refused(env: Env) -> None:
    pay = await env.intent(1000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/capture", json={"amount": 1001})
    assert r.status_code in (400, 409) and err(r)["type"] in ("validation", "conflict")
    assert (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()["status"] == "authorized"


async def test_cancel_in_each_state(env: Env) -> None:
    created = await env.intent(1000)
    r = await env.client.post(f"/api/v1/payments/{created['paymentId']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    again = await env.client.post(f"/api/v1/payments/{created['paymentId']}/cancel")
    assert again.status_code == 409 and err(again)["code"] == "ALREADY_CANCELED"

    auth = await env.intent(2000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    r = await env.client.post(f"/api/v1/payments/{auth['paymentId']}/cancel", json={"reason": "buyer"})
    assert r.status_code == 200 and r.json()["status"] == "voided"
    assert ("void", 2000) in [(c["kind"], c["amount"]) for c in await env.charges(auth["paymentId"])]
    assert (await env.client.post(f"/api/v1/payments/{auth['paymentId']}/cancel")).status_code == 409

    paid = await env.paid(3000)
    r = await env.client.post(f"/api/v1/payments/{paid['paymentId']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled" and r.json()["refundedAmount"] == 3000
    assert ("refund", 3000) in [(c["kind"], c["amount"]) for c in await env.charges(paid["paymentId"])]
    assert err(await env.client.post(f"/api/v1/payments/{paid['paymentId']}/cancel"))["code"] == "ALREADY_CANCELED"

    captured = await env.intent(4000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    await env.client.post(f"/api/v1/payments/{captured['paymentId']}/capture")
    r = await env.client.post(f"/api/v1/payments/{captured['paymentId']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled"


async def test_three_d_secure_pending_then_approved_by_webhook(env: Env) -> None:
    pay = await env.intent(9000)
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm",
                              json={"card": {**CARD, "number": "4000000000003220"}})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and r.json()["redirectUrl"]
    r = await env.client.post(f"/api/v1/sandbox/3ds/{pay['paymentId']}", json={"result": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    r = await env.client.post(f"/api/v1/sandbox/3ds/{pay['paymentId']}", json={"result": "approve"})
    assert r.status_code == 409 and err(r)["code"] == "NO_CHALLENGE"


async def test_three_d_secure_fail(env: Env) -> None:
    pay = await env.intent(9000)
    await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm",
                          json={"card": {**CARD, "number": "4000000000003220"}})
    r = await env.client.post(f"/api/v1/sandbox/3ds/{pay['paymentId']}", json={"result": "fail"})
    assert r.json()["status"] == "failed"


async def test_order_paid_once_across_intents(env: Env) -> None:
    await env.client.post("/api/v1/orders", json={"orderId": "once", "amount": 1000, "currency": "KRW"})
    a = await env.intent(1000, orderId="once")
    b = await env.intent(1000, orderId="once")
    assert (await env.client.post(f"/api/v1/payments/{a['paymentId']}/confirm", json={"token": "tok_visa"})
            ).status_code == 200
    r = await env.client.post(f"/api/v1/payments/{b['paymentId']}/confirm", json={"token": "tok_visa"})
    assert r.status_code == 409 and err(r)["code"] == "ORDER_ALREADY_PAID"
    r = await env.client.post("/api/v1/payments/intent", json={"orderId": "once", "amount": 1000, "currency": "KRW"})
    assert r.status_code == 409 and err(r)["code"] == "ORDER_ALREADY_PAID"


async def test_illegal_transition_names_current_status(env: Env) -> None:
    pay = await env.paid(1000)
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm", json={"token": "tok_visa"})
    assert r.status_code == 409
    assert err(r)["details"]["status"] == "succeeded"
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/capture")
    assert r.status_code == 409 and err(r)["details"]["status"] == "succeeded"


async def test_another_merchants_ids_are_404(env: Env) -> None:
    pay = await env.paid(1000)
    other, _, _ = await env.new_merchant("other")
    for path in (f"/api/v1/payments/{pay['paymentId']}", f"/api/v1/orders/{pay['orderId']}"):
        r = await other.get(path)
        assert r.status_code == 404 and err(r)["type"] == "not_found"
    r = await other.post(f"/api/v1/payments/{pay['paymentId']}/cancel")
    assert r.status_code == 404
    r = await other.post("/api/v1/refunds", json={"paymentId": pay["paymentId"]})
    assert r.status_code == 404
    assert (await other.get("/api/v1/payments")).json()["total"] == 0


async def test_live_key_never_reaches_the_sandbox(env: Env) -> None:
    _, live = await env.svc.merchants.create_key(env.merchant_id, "live")
    assert live.startswith("live_sk_")
    c = env.client_for(live)
    r = await c.post("/api/v1/payments/intent", json={"orderId": "live-1", "amount": 1000, "currency": "KRW",
                                                      "confirm": True, "methodOptions": {"token": "tok_visa"}})
    assert r.status_code == 409 and err(r)["code"] == "LIVE_PG_NOT_CONFIGURED"
    r = await c.post("/api/v1/sandbox/tokens", json={"card": CARD})
    assert r.status_code == 403
    test_view = await env.client.get("/api/v1/sandbox/charges", params={"paymentId": "pay_x"})
    assert test_view.status_code == 404


@pytest.mark.parametrize("currency,amount", [("KRW", 10_000), ("USD", 1234), ("JPY", 500)])
async def test_currencies(env: Env, currency: str, amount: int) -> None:
    pay = await env.paid(amount, currency=currency)
    got = (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()
    assert (got["currency"], got["amount"], got["status"]) == (currency, amount, "succeeded")


async def test_unsupported_currency(env: Env) -> None:
    r = await env.client.post("/api/v1/payments/intent", json={"orderId": "c1", "amount": 100, "currency": "XYZ"})
    assert r.status_code == 400 and err(r)["type"] == "validation"


@pytest.mark.parametrize("path", ["/api/v1/payments/intent", "/api/v1/orders"])
async def test_currency_is_required_where_money_is_created(env: Env, path: str) -> None:
    """A forgotten currency is refused, never read as KRW: ₩1,000 is not $10.00."""
    r = await env.client.post(path, json={"orderId": "no-currency", "amount": 1000})
    assert r.status_code == 400 and err(r)["code"] == "INVALID_REQUEST", r.text
    assert err(r)["details"]["errors"] == [{"field": "currency", "message": "Field required"}]
    assert "currency" in err(r)["message"]
    assert (await env.client.get("/api/v1/orders/no-currency")).status_code == 404
    assert (await env.client.get("/api/v1/payments")).json()["total"] == 0
    spec = (await env.client.get("/openapi.json")).json()
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "currency" in spec["components"]["schemas"][body.rsplit("/", 1)[1]]["required"]


async def test_list_payments_paginates(env: Env) -> None:
    for i in range(5):
        await env.intent(1000 + i)
    r = await env.client.get("/api/v1/payments", params={"page": 2, "size": 2})
    body = r.json()
    assert (body["total"], body["page"], body["size"], len(body["items"])) == (5, 2, 2, 2)
    assert (await env.client.get("/api/v1/payments", params={"size": 101})).status_code == 400
    assert (await env.client.get("/api/v1/payments", params={"page": 0})).status_code == 400
    r = await env.client.get("/api/v1/payments", params={"status": "created"})
    assert r.json()["total"] == 5


async def test_unknown_payment_is_404(env: Env) -> None:
    r = await env.client.get("/api/v1/payments/pay_doesnotexist")
    assert r.status_code == 404
    assert err(r) == {"type": "not_found", "code": err(r)["code"], "message": err(r)["message"],
                      "details": err(r)["details"]}
