"""Seed 001's kiosk module at /v1/payments: every request, response and error of the note, over one core."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Env, make_env

SEED_AUTH = {"Authorization": "Basic dGVzdF9za19kdW1teTo="}  # base64("test_sk_dummy:"), as the note shows
SEED_BODY = {"paymentKey": "pay_123", "orderId": "order_123", "amount": 10000}


@pytest.fixture
async def kiosk(db_url: str, tmp_path: Path) -> Any:
    env = await make_env(db_url, tmp_path)
    await env.svc.merchants.ensure_default("test_sk_dummy")
    c = env.client_for(**SEED_AUTH)
    try:
        yield env, c
    finally:
        await env.close()


async def test_the_seed_flow_as_written(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    env, c = kiosk
    r = await c.post("/v1/payments", json=SEED_BODY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("paymentKey", "orderId", "status")} == {
        "paymentKey": "pay_123", "orderId": "order_123", "status": "INITIATED"}
    again = await c.post("/v1/payments", json=SEED_BODY)
    assert again.status_code == 200 and again.json()["paymentId"] == body["paymentId"]

    r = await c.post("/v1/payments/confirm", json=SEED_BODY)
    assert r.status_code == 200, r.text
    ok = r.json()
    assert {k: ok[k] for k in ("paymentKey", "orderId", "method", "totalAmount", "status")} == {
        "paymentKey": "pay_123", "orderId": "order_123", "method": "CARD", "totalAmount": 10000,
        "status": "APPROVED"}
    assert ok["approvedAt"].endswith("Z")
    assert ok["receipt"]["url"].startswith("http://testserver/receipts/rcpt_")
    assert "pay_123" not in ok["receipt"]["url"]
    repeat = (await c.post("/v1/payments/confirm", json=SEED_BODY)).json()
    assert repeat["approvedAt"] == ok["approvedAt"] and repeat["receipt"] == ok["receipt"]

    native = await c.get(f"/api/v1/payments/{ok['paymentId']}")
    assert native.status_code == 200 and native.json()["status"] == "succeeded"
    for path in ("/v1/payments/pay_123", "/v1/payments/orders/order_123", f"/v1/payments/{ok['paymentId']}"):
        got = (await c.get(path)).json()
        assert (got["status"], got["paymentId"]) == ("APPROVED", ok["paymentId"])

    r = await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "USER_REQUEST", "cancelAmount": 10000})
    assert r.status_code == 200, r.text
    canceled = r.json()
    assert canceled["status"] == "CANCELED" and canceled["canceledAt"].endswith("Z")
    assert canceled["paymentKey"] == "pay_123" and canceled["orderId"] == "order_123"
    r = await c.post("/v1/payments/confirm", json=SEED_BODY)
    assert r.status_code == 422 and r.json()["code"] == "ALREADY_CANCELED"
    r = await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "USER_REQUEST", "cancelAmount": 10000})
    assert r.status_code == 422 and r.json()["code"] == "ALREADY_CANCELED"
    charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": ok["paymentId"]})).json()["items"]
    assert sorted((x["kind"], x["amount"]) for x in charges) == [("charge", 10000), ("refund", 10000)]


@pytest.mark.parametrize("body", [
    {"orderId": "order_123", "amount": 10000},
    {"paymentKey": "pay_1", "amount": 10000},
    {"paymentKey": "pay_1", "orderId": "order_1"},
    {"paymentKey": "pay_1", "orderId": "order_1", "amount": 0},
    {"paymentKey": "pay_1", "orderId": "order_1", "amount": -100},
    {"paymentKey": "pay_1", "orderId": "order_1", "amount": "10000"},
    {"paymentKey": "pay_1", "orderId": "order_1", "amount": 100.5},
    {"paymentKey": "", "orderId": "order_1", "amount": 100},
    {"paymentKey": "pay_1", "orderId": "bad id", "amount": 100},
])
async def test_invalid_requests(kiosk: tuple[Env, httpx.AsyncClient], body: dict[str, Any]) -> None:
    _, c = kiosk
    for path in ("/v1/payments", "/v1/payments/confirm"):
        r = await c.post(path, json=body)
        assert r.status_code == 400, r.text
        assert set(r.json()) == {"code", "message"} and r.json()["code"] == "INVALID_REQUEST"
    assert (await c.get("/api/v1/payments")).json()["total"] == 0


async def test_unauthorized_key(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    env, _ = kiosk
    for headers in ({}, {"Authorization": "Basic dGVzdF9za193cm9uZzo="}):
        r = await env.client_for(**headers).post("/v1/payments", json=SEED_BODY)
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED_KEY" and r.json()["message"]


async def test_mismatches(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    _, c = kiosk
    assert (await c.post("/v1/payments", json=SEED_BODY)).status_code == 200
    for other in ({**SEED_BODY, "amount": 9000}, {**SEED_BODY, "orderId": "order_999"}):
        r = await c.post("/v1/payments", json=other)
        assert r.status_code == 409 and r.json()["code"] == "AMOUNT_MISMATCH"
        r = await c.post("/v1/payments/confirm", json=other)
        assert r.status_code == 409 and r.json()["code"] == "AMOUNT_MISMATCH"
    r = await c.post("/v1/payments/confirm", json={**SEED_BODY, "paymentKey": "pay_nope"})
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "x", "cancelAmount": 10000})
    assert r.status_code == 422 and r.json()["code"] == "NOT_APPROVED"
    r = await c.post("/v1/payments/pay_nope/cancel", json={"cancelReason": "x", "cancelAmount": 10000})
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    await c.post("/v1/payments/confirm", json=SEED_BODY)
    r = await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "x", "cancelAmount": 4000})
    assert r.status_code == 409 and r.json()["code"] == "PARTIAL_MISMATCH"
    assert (await c.get("/v1/payments/pay_123")).json()["status"] == "APPROVED"


async def test_partial_cancels_when_the_merchant_allows_them(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    env, c = kiosk
    mid = (await env.svc.merchants.find_key("test_sk_dummy")).merchant_id  # type: ignore[union-attr]
    await env.svc.merchants.update_settings(mid, {"allowPartialCancel": True})
    await c.post("/v1/payments", json=SEED_BODY)
    await c.post("/v1/payments/confirm", json=SEED_BODY)
    r = await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "one item", "cancelAmount": 4000})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["balanceAmount"]) == ("PARTIAL_CANCELED", 6000)
    assert [x["cancelAmount"] for x in r.json()["cancels"]] == [4000]
    r = await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "too much", "cancelAmount": 7000})
    assert r.status_code == 409 and r.json()["code"] == "PARTIAL_MISMATCH"
    r = await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "rest", "cancelAmount": 6000})
    assert (r.json()["status"], r.json()["balanceAmount"]) == ("CANCELED", 0)
    native = (await c.get(f"/api/v1/payments/{r.json()['paymentId']}")).json()
    assert native["status"] == "canceled" and native["refundedAmount"] == 10000


async def test_native_payment_is_readable_on_the_kiosk_face(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    env, c = kiosk
    r = await c.post("/api/v1/payments/intent", json={"orderId": "n1", "amount": 500, "currency": "KRW",
                                                      "confirm": True, "methodOptions": {"token": "tok_visa"}})
    pid = r.json()["paymentId"]
    got = (await c.get(f"/v1/payments/{pid}")).json()
    assert (got["paymentKey"], got["status"], got["totalAmount"]) == (pid, "APPROVED", 500)


async def test_concurrent_creates_and_confirms_of_one_key(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    _, c = kiosk
    creates = await asyncio.gather(*(c.post("/v1/payments", json=SEED_BODY) for _ in range(10)))
    assert {r.status_code for r in creates} == {200}
    assert len({r.json()["paymentId"] for r in creates}) == 1
    confirms = await asyncio.gather(*(c.post("/v1/payments/confirm", json=SEED_BODY) for _ in range(10)))
    assert {r.status_code for r in confirms} <= {200, 409}
    pid = creates[0].json()["paymentId"]
    charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": pid})).json()["items"]
    assert [(x["kind"], x["status"]) for x in charges] == [("charge", "succeeded")]


async def test_decline_and_timeout_in_toss_format(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    _, c = kiosk
    await c.post("/v1/payments", json=SEED_BODY)
    r = await c.post("/v1/payments/confirm", json=SEED_BODY, headers={"Gyeol-Sandbox-Fault": "error"})
    assert r.status_code == 403 and set(r.json()) == {"code", "message"}
    r = await c.post("/v1/payments/confirm", json=SEED_BODY, headers={"Gyeol-Sandbox-Fault": "timeout"})
    assert r.status_code == 502 and r.json()["code"] == "PG_UNAVAILABLE"
    assert (await c.get("/v1/payments/pay_123")).json()["status"] == "IN_PROGRESS"
    r = await c.post("/v1/payments/confirm", json=SEED_BODY)  # settles the open attempt first: one charge
    assert r.status_code in (200, 409), r.text


async def test_receipt_page(kiosk: tuple[Env, httpx.AsyncClient]) -> None:
    env, c = kiosk
    await c.post("/v1/payments", json=SEED_BODY)
    ok = (await c.post("/v1/payments/confirm", json=SEED_BODY)).json()
    path = ok["receipt"]["url"].removeprefix("http://testserver")
    anon = env.client_for()
    r = await anon.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "₩10,000" in r.text and "order_123" in r.text and "승인" in r.text and 'lang="ko"' in r.text
    assert r.headers["cache-control"] == "no-store" and "default-src 'none'" in r.headers["content-security-policy"]
    css = await anon.get("/assets/receipt.css")
    assert css.status_code == 200 and "@media print" in css.text
    assert "Approved" in (await anon.get(path, params={"lang": "en"})).text
    await c.post("/v1/payments/pay_123/cancel", json={"cancelReason": "USER_REQUEST", "cancelAmount": 10000})
    r = await anon.get(path)
    assert "취소" in r.text and "-₩10,000" in r.text
    assert (await anon.get("/receipts/rcpt_guess")).status_code == 404
