"""A kiosk (Toss-style) payment is charged at the merchant's confirm, not in the buyer's window: the window
authenticates the buyer and holds no money; an authentication the kiosk never confirms expires with nothing
charged, as at Toss."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from conftest import Env
from test_checkout_pages import DECLINE, GOOD, Buyer
from test_kiosk import kiosk  # noqa: F401  (the fixture)

Kiosk = tuple[Env, httpx.AsyncClient]
WINDOW = {"successUrl": "https://kiosk.example/success", "failUrl": "https://kiosk.example/fail"}


def _triple(key: str, amount: int = 10_000) -> dict[str, Any]:
    return {"paymentKey": key, "orderId": f"order-{key}", "amount": amount}


async def _authenticated(env: Env, c: httpx.AsyncClient, key: str, card: str = GOOD) -> Buyer:
    """A kiosk payment whose buyer went through Gyeol's window and was sent back to the kiosk's successUrl."""
    created = (await c.post("/v1/payments", json={**_triple(key), **WINDOW})).json()
    buyer = Buyer(env, created["checkout"]["url"])
    r = await buyer.pay_card(card)
    assert r.status_code == 303 and r.headers["location"].startswith("https://kiosk.example/success?"), r.text
    return buyer


async def _charges(c: httpx.AsyncClient, payment_id: str) -> list[tuple[str, str, int]]:
    items = (await c.get("/api/v1/sandbox/charges", params={"paymentId": payment_id})).json()["items"]
    return [(x["kind"], x["status"], x["amount"]) for x in items]


async def _native(c: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    got: dict[str, Any] = (await c.get(f"/api/v1/payments/{payment_id}")).json()
    return got


async def _event_types(c: httpx.AsyncClient, payment_id: str) -> list[str]:
    items = (await c.get("/api/v1/events", params={"size": 100})).json()["items"]
    return [e["type"] for e in items if e["data"]["object"].get("paymentId") == payment_id]


async def test_the_window_authenticates_and_holds_no_money(kiosk: Kiosk) -> None:  # noqa: F811
    env, c = kiosk
    buyer = await _authenticated(env, c, "win-1")
    assert (await c.get("/v1/payments/win-1")).json()["status"] == "IN_PROGRESS"
    native = await _native(c, buyer.payment_id)
    assert (native["status"], native["authorizedAmount"], native["capturedAmount"]) == ("pending", 0, 0)
    assert await _charges(c, buyer.payment_id) == []
    assert "결제가 완료되었습니다" not in (await buyer.page()).text  # the window says it is authenticated, not paid

    ok = await c.post("/v1/payments/confirm", json=_triple("win-1"))
    assert ok.status_code == 200 and ok.json()["status"] == "APPROVED", ok.text
    assert await _charges(c, buyer.payment_id) == [("charge", "succeeded", 10_000)]
    again = await c.post("/v1/payments/confirm", json=_triple("win-1"))
    assert again.json()["approvedAt"] == ok.json()["approvedAt"]
    assert await _charges(c, buyer.payment_id) == [("charge", "succeeded", 10_000)]


async def test_an_unconfirmed_authentication_expires_with_nothing_charged(kiosk: Kiosk) -> None:  # noqa: F811
    env, c = kiosk
    buyer = await _authenticated(env, c, "win-2")
    env.svc.clock.advance(timedelta(minutes=9, seconds=59))
    assert await env.svc.payments.expire_due() == []
    env.svc.clock.advance(timedelta(seconds=2))
    assert await env.svc.payments.expire_due() == [buyer.payment_id]

    native = await _native(c, buyer.payment_id)
    assert (native["status"], native["failureReason"], native["capturedAmount"]) == ("canceled", "EXPIRED_PAYMENT", 0)
    assert "payment.expired" in await _event_types(c, buyer.payment_id)
    assert (await c.get("/v1/payments/win-2")).json()["status"] == "CANCELED"
    r = await c.post("/v1/payments/confirm", json=_triple("win-2"))
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND_PAYMENT_SESSION"), r.text
    assert await _charges(c, buyer.payment_id) == []


async def test_a_confirm_after_the_window_is_refused_before_the_job_runs(kiosk: Kiosk) -> None:  # noqa: F811
    env, c = kiosk
    buyer = await _authenticated(env, c, "win-3")
    env.svc.clock.advance(timedelta(minutes=10, seconds=1))
    r = await c.post("/v1/payments/confirm", json=_triple("win-3"))
    assert (r.status_code, set(r.json())) == (404, {"code", "message"}), r.text
    assert r.json()["code"] == "NOT_FOUND_PAYMENT_SESSION"
    native = await _native(c, buyer.payment_id)
    assert (native["status"], native["failureReason"]) == ("canceled", "EXPIRED_PAYMENT")
    assert (await _event_types(c, buyer.payment_id)).count("payment.expired") == 1
    assert await env.svc.payments.expire_due() == []
    assert await _charges(c, buyer.payment_id) == []


async def test_two_racing_confirms_charge_once(kiosk: Kiosk) -> None:  # noqa: F811
    env, c = kiosk
    buyer = await _authenticated(env, c, "win-4")
    assert await _charges(c, buyer.payment_id) == []
    answers = await asyncio.gather(*(c.post("/v1/payments/confirm", json=_triple("win-4")) for _ in range(2)))
    assert {r.status_code for r in answers} <= {200, 409}, [r.text for r in answers]
    assert "APPROVED" in {r.json().get("status") for r in answers}
    assert await _charges(c, buyer.payment_id) == [("charge", "succeeded", 10_000)]
    native = await _native(c, buyer.payment_id)
    assert (native["status"], native["capturedAmount"]) == ("succeeded", 10_000)


async def test_a_decline_comes_at_the_confirm_and_the_buyer_may_authenticate_again(
        kiosk: Kiosk) -> None:  # noqa: F811
    env, c = kiosk
    buyer = await _authenticated(env, c, "win-5", card=DECLINE)
    r = await c.post("/v1/payments/confirm", json=_triple("win-5"))
    assert r.status_code == 403 and set(r.json()) == {"code", "message"}, r.text
    assert (await _native(c, buyer.payment_id))["status"] == "failed"
    assert (await buyer.pay_card(GOOD)).status_code == 303
    assert (await _native(c, buyer.payment_id))["status"] == "pending"
    ok = await c.post("/v1/payments/confirm", json=_triple("win-5"))
    assert ok.status_code == 200 and ok.json()["status"] == "APPROVED", ok.text
    assert [x for x in await _charges(c, buyer.payment_id) if x[1] == "succeeded"] == [("charge", "succeeded", 10_000)]


async def test_a_merchant_may_cancel_an_authenticated_payment(kiosk: Kiosk) -> None:  # noqa: F811
    env, c = kiosk
    buyer = await _authenticated(env, c, "win-6")
    r = await c.post(f"/api/v1/payments/{buyer.payment_id}/cancel", json={})
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    r = await c.post("/v1/payments/confirm", json=_triple("win-6"))
    assert (r.status_code, r.json()["code"]) == (422, "ALREADY_CANCELED")
    assert await _charges(c, buyer.payment_id) == []
