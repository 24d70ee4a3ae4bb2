"""Concurrent requests through HTTP: nobody is charged twice, an order is paid once, refunds never exceed."""

from __future__ import annotations

import asyncio
import secrets

from conftest import Env


async def test_fifty_concurrent_confirms_charge_once(env: Env) -> None:
    pay = await env.intent(10_000)
    url = f"/api/v1/payments/{pay['paymentId']}/confirm"
    results = await asyncio.gather(*(env.client.post(url, json={"token": "tok_visa"}) for _ in range(50)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) >= 1
    assert set(statuses) <= {200, 409}, statuses
    charges = await env.charges(pay["paymentId"])
    assert [(c["kind"], c["status"]) for c in charges] == [("charge", "succeeded")]
    got = (await env.client.get(url.removesuffix("/confirm"))).json()
    assert got["status"] == "succeeded" and got["capturedAmount"] == 10_000


async def test_two_intents_for_one_order_confirmed_concurrently(env: Env) -> None:
    order_id = f"race-{secrets.token_hex(4)}"
    await env.client.post("/api/v1/orders", json={"orderId": order_id, "amount": 5000, "currency": "KRW"})
    a = await env.intent(5000, orderId=order_id)
    b = await env.intent(5000, orderId=order_id)
    ra, rb = await asyncio.gather(*(env.client.post(f"/api/v1/payments/{p['paymentId']}/confirm",
                                                    json={"token": "tok_visa"}) for p in (a, b)))
    assert sorted([ra.status_code, rb.status_code]) == [200, 409]
    loser = ra if ra.status_code == 409 else rb
    assert loser.json()["error"]["code"] == "ORDER_ALREADY_PAID"
    taken = [c for p in (a, b) for c in await env.charges(p["paymentId"]) if c["status"] == "succeeded"]
    assert len(taken) == 1
    order = (await env.client.get(f"/api/v1/orders/{order_id}")).json()
    assert (order["status"], order["paidAmount"]) == ("paid", 5000)


async def test_twenty_concurrent_refunds_of_600_on_1000(env: Env) -> None:
    pay = await env.paid(1000)
    results = await asyncio.gather(*(env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"],
                                                                                "amount": 600})
                                     for _ in range(20)))
    assert [r.status_code for r in results].count(200) == 1
    assert {r.status_code for r in results} <= {200, 409}
    refunds = [c for c in await env.charges(pay["paymentId"]) if c["kind"] == "refund"]
    assert [(c["amount"], c["status"]) for c in refunds] == [(600, "succeeded")]
    got = (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()
    assert got["refundedAmount"] == 600


async def test_twenty_requests_with_one_idempotency_key_execute_once(env: Env) -> None:
    key = secrets.token_hex(8)
    body = {"orderId": f"idem-{key}", "amount": 3000, "currency": "KRW", "confirm": True,
            "methodOptions": {"token": "tok_visa"}}
    results = await asyncio.gather(*(env.client.post("/api/v1/payments/intent", json=body,
                                                     headers={"Idempotency-Key": key}) for _ in range(20)))
    ok = [r for r in results if r.status_code == 200]
    assert ok and all(r.status_code in (200, 409) for r in results)
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    assert len({r.json()["paymentId"] for r in ok}) == 1
    assert sum(1 for r in ok if r.headers.get("idempotent-replayed") == "true") == len(ok) - 1
    listed = (await env.client.get("/api/v1/payments")).json()
    assert listed["total"] == 1
    assert len(await env.charges(ok[0].json()["paymentId"])) == 1
