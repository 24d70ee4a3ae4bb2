"""Seed 004's shop flow: confirm and webhook share one post-approval step; any order of them, any number of
times, or concurrently, gives one payment row, one settlement and one order transition."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import Env, make_env
from gyeol.models import outbox_events, payments, settlements

AMOUNT = 10_000


async def order(env: Env, order_id: str = "shop-order-1", amount: int = AMOUNT) -> dict[str, Any]:
    r = await env.client.post("/api/v1/orders", json={"orderId": order_id, "amount": amount, "currency": "KRW",
                                                      "orderName": "pens"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def confirm_body(key: str = "tpk_shop_1", order_id: str = "shop-order-1", amount: int = AMOUNT) -> dict[str, Any]:
    return {"paymentKey": key, "orderId": order_id, "amount": amount}


async def pg_window(env: Env, key: str = "tpk_shop_1", order_id: str = "shop-order-1",
                    amount: int = AMOUNT) -> None:
    r = await env.client.post("/api/v1/sandbox/keyed-payments", json=confirm_body(key, order_id, amount))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"


async def webhook(env: Env, key: str = "tpk_shop_1", order_id: str = "shop-order-1", **headers: str) -> Any:
    body = {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-11-25T10:00:00.000000",
            "data": {"paymentKey": key, "orderId": order_id, "status": "DONE", "totalAmount": 1,
                     "approvedAt": "2026-11-25T10:00:00+09:00", "method": "카드"}}
    return await env.client_for(**headers).post(f"/api/payments/callback/{env.merchant_id}", json=body)


async def books(env: Env) -> tuple[int, int, int, int]:
    async with env.svc.db.read() as conn:
        n_pay = (await conn.execute(sa.select(sa.func.count()).select_from(payments))).scalar_one()
        n_stl = (await conn.execute(sa.select(sa.func.count()).select_from(settlements))).scalar_one()
        n_paid = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_events)
                                     .where(outbox_events.c.type == "order.paid"))).scalar_one()
        n_done = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_events)
                                     .where(outbox_events.c.type == "payment.completed"))).scalar_one()
    return n_pay, n_stl, n_paid, n_done


async def assert_one_of_everything(env: Env, results: list[dict[str, Any]]) -> None:
    assert await books(env) == (1, 1, 1, 1)
    assert len({(r["settlementId"], r["paymentId"]) for r in results}) == 1
    o = (await env.client.get("/api/v1/orders/shop-order-1")).json()
    assert (o["status"], o["paymentKey"], o["paidAmount"]) == ("paid", "tpk_shop_1", AMOUNT) and o["paidAt"]
    pid = results[0]["paymentId"]
    charges = [c for c in await env.charges(pid) if c["kind"] == "charge"]
    assert len(charges) == 1


async def test_confirm_then_repeat(env: Env) -> None:
    await order(env)
    r = await env.client.post("/api/payments/confirm", json=confirm_body())
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["success"] is True and first["message"] == "결제 완료 및 정산 생성 완료"
    assert first["orderId"] == "shop-order-1" and first["settlementId"].startswith("stl_")
    again = (await env.client.post("/api/payments/confirm", json=confirm_body())).json()
    stl = (await env.client.get(f"/api/v1/settlements/{first['settlementId']}")).json()
    assert (stl["grossAmount"], stl["feeAmount"], stl["netAmount"], stl["status"]) == (AMOUNT, 250, 9750,
                                                                                       "scheduled")
    await assert_one_of_everything(env, [first, again])


async def test_confirm_then_webhook(env: Env) -> None:
    await order(env)
    first = (await env.client.post("/api/payments/confirm", json=confirm_body())).json()
    r = await webhook(env)
    assert r.status_code == 200, r.text
    assert (await webhook(env)).json().get("duplicate") is True
    await assert_one_of_everything(env, [first])


async def test_webhook_first_then_confirm(env: Env) -> None:
    await order(env)
    await pg_window(env)
    r = await webhook(env, **{"tosspayments-webhook-transmission-id": "wh-1"})
    assert r.status_code == 200 and r.json()["applied"] is True
    assert (await webhook(env, **{"tosspayments-webhook-transmission-id": "wh-1"})).json()["duplicate"] is True
    mid = await books(env)
    assert mid == (1, 1, 1, 1)
    results = [(await env.client.post("/api/payments/confirm", json=confirm_body())).json() for _ in range(2)]
    assert all(x["success"] for x in results)
    await assert_one_of_everything(env, results)


async def test_everything_at_once(env: Env) -> None:
    await order(env)
    await pg_window(env)
    calls = [env.client.post("/api/payments/confirm", json=confirm_body()) for _ in range(3)]
    calls += [webhook(env) for _ in range(3)]
    answers = await asyncio.gather(*calls)
    assert all(a.status_code == 200 for a in answers), "\n".join(a.text for a in answers)
    await assert_one_of_everything(env, [a.json() for a in answers[:3]])


async def test_confirm_errors(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path, env="development")
    try:
        await order(env)
        r = await env.client.post("/api/payments/confirm", json=confirm_body(order_id="nope"))
        assert r.status_code == 404 and r.json() == {"error": "주문을 찾을 수 없습니다.", "details": "ORDER_NOT_FOUND"}
        r = await env.client.post("/api/payments/confirm", json=confirm_body(amount=9999))
        assert r.status_code == 400 and r.json()["details"] == "AMOUNT_MISMATCH"
        r = await env.client.post("/api/payments/confirm", json={"paymentKey": "k", "orderId": "shop-order-1"})
        assert r.status_code == 400 and set(r.json()) == {"error", "details"}
        r = await env.client_for().post("/api/payments/confirm", json=confirm_body())
        assert r.status_code == 401 and "error" in r.json()
        r = await env.client.post("/api/payments/confirm", json=confirm_body(),
                                  headers={"Gyeol-Sandbox-Fault": "timeout"})
        assert r.status_code == 502 and r.json()["details"] == "PG_TIMEOUT"
        assert await books(env) == (1, 0, 0, 0)
        ok = await env.client.post("/api/payments/confirm", json=confirm_body())
        assert ok.status_code == 200, ok.text
        assert await books(env) == (1, 1, 1, 1)
    finally:
        await env.close()


async def test_details_are_hidden_outside_development(env: Env) -> None:
    r = await env.client.post("/api/payments/confirm", json=confirm_body(order_id="nope"))
    assert r.status_code == 404 and r.json() == {"error": "주문을 찾을 수 없습니다."}


@pytest.mark.parametrize("raw", [b"{not json", b"[1,2]", b'{"eventType": "X"}'])
async def test_callback_refuses_malformed_bodies(env: Env, raw: bytes) -> None:
    r = await env.client_for().post(f"/api/payments/callback/{env.merchant_id}", content=raw,
                                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


async def test_callback_never_trusts_the_body(env: Env) -> None:
    await order(env)
    r = await webhook(env, key="tpk_never_paid")  # the PG has no such payment
    assert r.status_code == 200 and r.json()["applied"] is False
    await pg_window(env, key="tpk_other", order_id="shop-order-1", amount=500)  # approved for another amount
    r = await webhook(env, key="tpk_other")
    assert r.status_code == 200 and r.json()["applied"] is False
    assert await books(env) == (0, 0, 0, 0)
    o = (await env.client.get("/api/v1/orders/shop-order-1")).json()
    assert o["status"] == "created"


async def test_default_merchant_callback_path(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path)
    try:
        r = await env.client_for().post("/api/payments/callback", json={"eventType": "X", "data": {}})
        assert r.status_code == 404
    finally:
        await env.close()
