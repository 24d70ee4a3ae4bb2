"""Seed 003 on /api/v1 with a user's token: create, pay at the PG, complete (verified by transaction id), me, cancel."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import Env
from users import enable_users, order_for, user

CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2031, "cvc": "123"}


@pytest.fixture
async def users(env: Env) -> Env:
    await enable_users(env)
    return env


async def created(env: Env, u: httpx.AsyncClient, amount: int = 15_000, order_id: str | None = None
                  ) -> dict[str, Any]:
    order_id = order_id or await order_for(env, "alice", amount)
    r = await u.post("/api/v1/payments", json={"orderId": order_id, "amount": amount, "paymentMethod": "CARD"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def buyer_pays(env: Env, client_token: str, number: str = "4242424242424242") -> dict[str, Any]:
    r = await env.client_for().post("/api/v1/sandbox/pay", json={"clientToken": client_token,
                                                                  "card": {**CARD, "number": number}})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_create_pay_complete_me_cancel(users: Env) -> None:
    alice = user(users, "alice")
    p = await created(users, alice)
    assert p["status"] == "created" and p["userId"] == "alice"
    assert p["clientToken"] and p["redirectUrl"].startswith("http")
    paid = await buyer_pays(users, p["clientToken"])
    assert paid["status"] == "succeeded"
    # the PG charged, but Gyeol waits for the app's verification
    assert (await alice.get(f"/api/v1/payments/{p['paymentId']}")).json()["status"] == "created"

    body = {"paymentId": p["paymentId"], "pgTransactionId": paid["pgTransactionId"], "amount": 15_000}
    r = await alice.post("/api/v1/payments/complete", json=body)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "succeeded" and done["pgTransactionId"] == paid["pgTransactionId"]
    assert done["card"]["last4"] == "4242"
    again = await alice.post("/api/v1/payments/complete", json=body)
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert len(await users.charges(p["paymentId"])) == 1

    # the merchant key reads it too; the order is paid
    assert (await users.client.get(f"/api/v1/payments/{p['paymentId']}")).json()["userId"] == "alice"
    assert (await users.client.get(f"/api/v1/orders/{p['orderId']}")).json()["status"] == "paid"

    me = (await alice.get("/api/v1/payments/me")).json()
    assert me["total"] == 1 and me["items"][0]["paymentId"] == p["paymentId"]
    assert set(me) >= {"items", "total", "page", "size"}

    c = await alice.post(f"/api/v1/payments/{p['paymentId']}/cancel")
    assert c.status_code == 200 and c.json()["status"] == "canceled"
    c2 = await alice.post(f"/api/v1/payments/{p['paymentId']}/cancel")
    assert c2.status_code == 409 and c2.json()["error"]["code"] == "ALREADY_CANCELED"
    late = await alice.post("/api/v1/payments/complete", json=body)
    assert late.status_code == 409 and late.json()["error"]["code"] == "ALREADY_CANCELED"


async def test_users_see_only_their_own(users: Env) -> None:
    alice, bob = user(users, "alice"), user(users, "bob")
    p = await created(users, alice)
    for call in (bob.get(f"/api/v1/payments/{p['paymentId']}"),
                 bob.post(f"/api/v1/payments/{p['paymentId']}/cancel"),
                 bob.post("/api/v1/payments/complete", json={"paymentId": p["paymentId"], "pgTransactionId": "ch_x",
                                                             "amount": 15_000})):
        r = await call
        assert r.status_code == 404, r.text
        assert r.json()["error"]["type"] == "not_found"
    assert (await bob.get("/api/v1/payments/me")).json()["total"] == 0
    assert (await bob.get("/api/v1/payments")).json()["total"] == 0
    # an order of another user cannot be paid by bob either
    r = await bob.post("/api/v1/payments", json={"orderId": p["orderId"], "amount": 15_000, "paymentMethod": "CARD"})
    assert r.status_code == 404
    # merchant-only routes refuse a user's token
    assert (await alice.post("/api/v1/refunds", json={"paymentId": p["paymentId"]})).status_code == 403
    assert (await users.client.get("/api/v1/payments/me")).status_code == 403


async def test_me_is_newest_first_and_filters(users: Env) -> None:
    alice = user(users, "alice")
    ids = [(await created(users, alice, 1000 + i))["paymentId"] for i in range(3)]
    r = await alice.post("/api/v1/payments", json={"orderId": await order_for(users, "alice", 5000), "amount": 5000,
                                                   "paymentMethod": "CARD", "card": CARD})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    me = (await alice.get("/api/v1/payments/me", params={"size": 2})).json()
    assert me["total"] == 4 and [i["paymentId"] for i in me["items"]] == [r.json()["paymentId"], ids[2]]
    done = (await alice.get("/api/v1/payments/me", params={"status": "succeeded"})).json()
    assert done["total"] == 1


async def test_complete_errors(users: Env) -> None:
    alice = user(users, "alice")
    p = await created(users, alice)
    declined = await buyer_pays(users, p["clientToken"], "4000000000009995")
    assert declined["status"] == "failed"
    r = await alice.post("/api/v1/payments/complete", json={
        "paymentId": p["paymentId"], "pgTransactionId": declined["pgTransactionId"], "amount": 15_000})
    assert r.status_code == 402 and r.json()["error"]["code"] == "insufficient_funds"
    assert (await alice.get(f"/api/v1/payments/{p['paymentId']}")).json()["status"] == "failed"

    paid = await buyer_pays(users, p["clientToken"])  # a failed payment can be retried
    wrong = await alice.post("/api/v1/payments/complete", json={
        "paymentId": p["paymentId"], "pgTransactionId": paid["pgTransactionId"], "amount": 14_000})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "AMOUNT_MISMATCH"
    other = await created(users, alice)
    other_paid = await buyer_pays(users, other["clientToken"])
    mixed = await alice.post("/api/v1/payments/complete", json={
        "paymentId": p["paymentId"], "pgTransactionId": other_paid["pgTransactionId"], "amount": 15_000})
    assert mixed.status_code == 400 and mixed.json()["error"]["code"] == "PG_TRANSACTION_MISMATCH"
    unknown = await alice.post("/api/v1/payments/complete", json={
        "paymentId": p["paymentId"], "pgTransactionId": "ch_nope", "amount": 15_000})
    assert unknown.status_code == 400
    assert (await alice.get(f"/api/v1/payments/{p['paymentId']}")).json()["status"] == "failed"
    ok = await alice.post("/api/v1/payments/complete", json={
        "paymentId": p["paymentId"], "pgTransactionId": paid["pgTransactionId"], "amount": 15_000})
    assert ok.status_code == 200 and ok.json()["status"] == "succeeded"
    bad = await alice.post("/api/v1/payments/complete", json={"paymentId": p["paymentId"], "amount": "15000"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "validation"
    nope = await alice.post("/api/v1/payments/complete", json={
        "paymentId": "pay_missing", "pgTransactionId": paid["pgTransactionId"], "amount": 15_000})
    assert nope.status_code == 404
    assert (await users.client_for().post("/api/v1/payments/complete", json={})).status_code == 401


async def test_sandbox_pay_needs_a_real_client_token(users: Env) -> None:
    anon = users.client_for()
    r = await anon.post("/api/v1/sandbox/pay", json={"clientToken": "pay_x_secret_y", "card": CARD})
    assert r.status_code == 401
    alice = user(users, "alice")
    p = await created(users, alice)
    for forged in (p["paymentId"] + "_secret_guess", p["paymentId"] + "_secret_\uc8fc", p["paymentId"]):
        r = await anon.post("/api/v1/sandbox/pay", json={"clientToken": forged, "card": CARD})
        assert r.status_code == 401, (forged, r.text)
    paid = await buyer_pays(users, p["clientToken"])
    await alice.post("/api/v1/payments/complete", json={
        "paymentId": p["paymentId"], "pgTransactionId": paid["pgTransactionId"], "amount": 15_000})
    again = await anon.post("/api/v1/sandbox/pay", json={"clientToken": p["clientToken"], "card": CARD})
    assert again.status_code == 409


async def test_bank_and_virtual_account_on_v1(users: Env) -> None:
    alice = user(users, "alice")
    bank = await alice.post("/api/v1/payments", json={
        "orderId": await order_for(users, "alice", 3000), "amount": 3000, "paymentMethod": "BANK",
        "bankInfo": {"bankCode": "088"}})
    assert bank.status_code == 200 and bank.json()["status"] == "succeeded", bank.text
    va = await alice.post("/api/v1/payments", json={
        "orderId": await order_for(users, "alice", 4000), "amount": 4000, "paymentMethod": "VIRTUAL_ACCOUNT"})
    assert va.status_code == 200 and va.json()["status"] == "pending", va.text
    pid = va.json()["paymentId"]
    r = await users.client.post(f"/api/v1/sandbox/virtual-accounts/{pid}/deposit")
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text


async def test_create_with_a_card_is_processed_at_once_and_declines_are_402(users: Env) -> None:
    alice = user(users, "alice")
    r = await alice.post("/api/v1/payments", json={"orderId": await order_for(users, "alice", 5000), "amount": 5000,
                                                   "paymentMethod": "CARD",
                                                   "card": {**CARD, "number": "4000000000000002"}})
    assert r.status_code == 402 and r.json()["error"]["code"] == "card_declined"
    async with users.svc.db.read() as conn:
        rows = (await conn.execute(sa.text("SELECT status, user_id FROM payments"))).all()
    assert [tuple(x) for x in rows] == [("failed", "alice")]
