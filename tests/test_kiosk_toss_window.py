"""A merchant whose PG is Toss gets Toss's payment window from the kiosk's create (issue 27, section 4): Gyeol opens
the payment at Toss (the built-in simulator here) and answers its window as `checkout.url` and Toss's paymentKey as
the payment's; the buyer authenticates there, the kiosk confirms with the key the window sent back, and that
confirm charges at Toss, once. A sandbox merchant keeps Gyeol's own checkout."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gyeol.core.context import Caller
from test_checkout_pages import DECLINE, GOOD, Buyer, _csrf
from test_kiosk_window import _event_types
from test_toss import TossEnv, basic, toss  # noqa: F401  (the fixture)

WINDOW = {"successUrl": "https://kiosk.example/success", "failUrl": "https://kiosk.example/fail"}


def _triple(key: str, order_id: str, amount: int = 10_000) -> dict[str, Any]:
    return {"paymentKey": key, "orderId": order_id, "amount": amount}


@pytest.fixture
async def buyer(toss: TossEnv) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    """The buyer's browser at Toss's window: no key, a cookie jar."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=toss.sim), base_url="http://toss.sim") as c:
        yield c


async def _create(toss: TossEnv, kiosk_key: str, order_id: str, amount: int = 10_000,  # noqa: F811
                  **extra: Any) -> dict[str, Any]:
    r = await toss.env.client.post("/v1/payments", json={**_triple(kiosk_key, order_id, amount), **WINDOW, **extra})
    assert r.status_code == 200, r.text
    created: dict[str, Any] = r.json()
    return created


async def _pay_in_window(buyer: httpx.AsyncClient, url: str, card: str = GOOD) -> dict[str, list[str]]:
    """The buyer types a card into Toss's window; the query Toss's window sends them to successUrl with."""
    page = await buyer.get(url)
    assert page.status_code == 200, page.text
    r = await buyer.post(f"{urlsplit(url).path}/approve",
                         data={"cardNumber": card, "expiry": "12/34", "cvc": "123", "lang": "ko",
                               "csrf": _csrf(page.text)})
    assert r.status_code == 303, r.text
    target = urlsplit(r.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        WINDOW["successUrl"] if card == GOOD else WINDOW["failUrl"])
    return parse_qs(target.query)


async def _at_toss(toss: TossEnv, payment_key: str) -> dict[str, Any]:  # noqa: F811
    r = await toss.sim_client.get(f"/v1/payments/{payment_key}")
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


async def _window_calls(toss: TossEnv, outcome: str) -> float:  # noqa: F811
    """Gyeol's count of its calls opening a window at Toss, of one outcome (its /metrics)."""
    text = (await toss.env.client.get("/metrics")).text
    labels = f'connector="toss",operation="open_window",outcome="{outcome}"'
    found = re.search(r"^gyeol_pg_calls_total\{" + re.escape(labels) + r"\} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _opened_for(toss: TossEnv, order_id: str) -> list[str]:  # noqa: F811
    """The payments Toss holds for an order: one per window opened."""
    return [p.payment_key for p in toss.sim.payments.values() if p.order_id == order_id]


async def _native(toss: TossEnv, payment_id: str) -> dict[str, Any]:  # noqa: F811
    got: dict[str, Any] = (await toss.env.client.get(f"/api/v1/payments/{payment_id}")).json()
    return got


async def test_the_create_answers_tosss_window_and_tosss_payment_key(toss: TossEnv) -> None:  # noqa: F811
    created = await _create(toss, "kiosk-key-1", "order-window-1")
    key = created["paymentKey"]
    assert key != "kiosk-key-1" and key in _opened_for(toss, "order-window-1")
    assert created["checkout"]["url"] == f"http://toss.sim/checkout/{key}"
    assert (created["status"], created["orderId"], created["totalAmount"]) == ("INITIATED", "order-window-1", 10_000)
    at_toss = await _at_toss(toss, key)
    assert (at_toss["status"], at_toss["orderId"], at_toss["totalAmount"]) == ("READY", "order-window-1", 10_000)
    assert at_toss["checkout"]["url"] == created["checkout"]["url"]

    again = await _create(toss, "kiosk-key-1", "order-window-1")  # the same create again: the same payment
    assert (again["paymentId"], again["paymentKey"]) == (created["paymentId"], key)
    assert _opened_for(toss, "order-window-1") == [key]
    got = (await toss.env.client.get(f"/v1/payments/{key}")).json()
    assert (got["paymentId"], got["checkout"]["url"]) == (created["paymentId"], created["checkout"]["url"])
    r = await toss.env.client.post("/v1/payments", json={**_triple("kiosk-key-1", "order-window-1", 9_000), **WINDOW})
    assert (r.status_code, r.json()["code"]) == (409, "AMOUNT_MISMATCH")
    assert _opened_for(toss, "order-window-1") == [key]
    native = await _native(toss, created["paymentId"])
    assert (native["status"], native["authorizedAmount"], native["capturedAmount"]) == ("created", 0, 0)


async def test_the_buyer_pays_in_tosss_window_and_the_confirm_charges_once(
        toss: TossEnv, buyer: httpx.AsyncClient) -> None:  # noqa: F811
    c = toss.env.client
    created = await _create(toss, "kiosk-key-2", "order-window-2")
    query = await _pay_in_window(buyer, created["checkout"]["url"])
    key = created["paymentKey"]
    assert (query["paymentKey"], query["orderId"], query["amount"]) == ([key], ["order-window-2"], ["10000"])
    assert (await _at_toss(toss, key))["status"] == "IN_PROGRESS"  # authenticated: Toss holds no money yet
    native = await _native(toss, created["paymentId"])
    assert (native["authorizedAmount"], native["capturedAmount"]) == (0, 0)

    body = _triple(query["paymentKey"][0], query["orderId"][0], int(query["amount"][0]))
    ok = await c.post("/v1/payments/confirm", json=body)
    assert ok.status_code == 200 and ok.json()["status"] == "APPROVED", ok.text
    assert (ok.json()["paymentId"], ok.json()["checkout"]) == (created["paymentId"], None)
    at_toss = await _at_toss(toss, key)
    assert (at_toss["status"], at_toss["balanceAmount"]) == ("DONE", 10_000)
    again = await c.post("/v1/payments/confirm", json=body)
    assert again.status_code == 200 and again.json()["approvedAt"] == ok.json()["approvedAt"], again.text
    assert (await _at_toss(toss, key))["approvedAt"] == at_toss["approvedAt"]  # approved once, at the first
    native = await _native(toss, created["paymentId"])
    assert (native["status"], native["capturedAmount"], native["lastAttempt"]["connector"]) == (
        "succeeded", 10_000, "toss")
    await toss.sim.drain()
    approvals = [d for d in toss.sim.deliveries if d["attempt"] == 0 and d["body"].get("data", {}).get("status")
                 == "DONE" and d["body"]["data"]["paymentKey"] == key]
    assert len(approvals) == 1


async def test_an_unconfirmed_window_payment_expires_with_nothing_charged(
        toss: TossEnv, buyer: httpx.AsyncClient) -> None:  # noqa: F811
    """Toss's window session ran out before the confirm: the payment ends as Gyeol's own window's does (canceled,
    EXPIRED_PAYMENT, one payment.expired), learnt from the confirm's refusal or from Toss's webhook, whichever
    comes first; nothing was charged."""
    c = toss.env.client
    never = await _create(toss, "kiosk-key-3a", "order-window-3a")  # the buyer never opens the window
    r = await c.post("/v1/payments/confirm", json=_triple(never["paymentKey"], "order-window-3a"))
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND_PAYMENT_SESSION"), r.text

    created = await _create(toss, "kiosk-key-3", "order-window-3")
    key = created["paymentKey"]
    await _pay_in_window(buyer, created["checkout"]["url"])
    toss.clock.t += timedelta(minutes=10, seconds=1)  # Toss's confirm window after the authentication
    r = await c.post("/v1/payments/confirm", json=_triple(key, "order-window-3"))
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND_PAYMENT_SESSION"), r.text
    r = await c.post("/v1/payments/confirm", json=_triple(key, "order-window-3"))
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND_PAYMENT_SESSION"), r.text
    at_toss = await _at_toss(toss, key)
    assert (at_toss["status"], at_toss["approvedAt"], at_toss["card"]) == ("EXPIRED", None, None)
    await toss.sim.drain()  # Toss's PAYMENT_STATUS_CHANGED (EXPIRED) reached the callback: nothing more to do
    for payment_id in (created["paymentId"], never["paymentId"]):
        native = await _native(toss, payment_id)
        assert (native["status"], native["failureReason"], native["authorizedAmount"],
                native["capturedAmount"]) == ("canceled", "EXPIRED_PAYMENT", 0, 0), native
        assert (await _event_types(c, payment_id)).count("payment.expired") == 1
    assert (await c.get(f"/v1/payments/{key}")).json()["status"] == "CANCELED"
    toss.env.svc.clock.advance(timedelta(minutes=61))  # Gyeol's own time for the payment has nothing left to end
    assert await toss.env.svc.payments.expire_due() == []


async def test_tosss_webhook_of_an_expired_window_cancels_the_payment_before_any_confirm(
        toss: TossEnv, buyer: httpx.AsyncClient) -> None:  # noqa: F811
    c = toss.env.client
    created = await _create(toss, "kiosk-key-3b", "order-window-3b")
    await _pay_in_window(buyer, created["checkout"]["url"])
    toss.clock.t += timedelta(minutes=10, seconds=1)
    assert (await _at_toss(toss, created["paymentKey"]))["status"] == "EXPIRED"  # Toss notices, and tells Gyeol
    await toss.sim.drain()
    native = await _native(toss, created["paymentId"])
    assert (native["status"], native["failureReason"], native["capturedAmount"]) == (
        "canceled", "EXPIRED_PAYMENT", 0), native
    assert (await _event_types(c, created["paymentId"])).count("payment.expired") == 1
    r = await c.post("/v1/payments/confirm", json=_triple(created["paymentKey"], "order-window-3b"))
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND_PAYMENT_SESSION"), r.text
    assert not [p for p in toss.sim.payments.values() if p.order_id == "order-window-3b" and p.approved_at]


async def test_a_sandbox_merchant_keeps_gyeols_checkout(toss: TossEnv) -> None:  # noqa: F811
    env = toss.env
    c, _, _ = await env.new_merchant("corner-shop")  # no PG account of its own: the sandbox PG
    r = await c.post("/v1/payments", json={**_triple("corner-1", "order-corner-1"), **WINDOW})
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["paymentKey"] == "corner-1"
    assert created["checkout"]["url"].startswith(f"http://testserver/checkout/{created['paymentId']}?token=")
    pay = await Buyer(env, created["checkout"]["url"]).pay_card(GOOD)
    assert pay.status_code == 303 and pay.headers["location"].startswith(WINDOW["successUrl"] + "?")
    assert parse_qs(urlsplit(pay.headers["location"]).query)["paymentKey"] == ["corner-1"]
    ok = await c.post("/v1/payments/confirm", json=_triple("corner-1", "order-corner-1"))
    assert ok.status_code == 200 and ok.json()["status"] == "APPROVED", ok.text
    charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": created["paymentId"]})).json()["items"]
    assert [(x["kind"], x["status"], x["amount"]) for x in charges] == [("charge", "succeeded", 10_000)]
    assert _opened_for(toss, "order-corner-1") == []


async def test_gyeols_checkout_refuses_a_payment_whose_window_is_tosss(toss: TossEnv) -> None:  # noqa: F811
    created = await _create(toss, "kiosk-key-4", "order-window-4")
    # Its client token is never given out; were it known, Gyeol's checkout would still not take the buyer's card.
    p = await toss.env.svc.payments.get_payment(Caller(merchant_id=toss.env.merchant_id, mode="test"),
                                                created["paymentId"])
    page = await Buyer(toss.env, f"http://testserver/checkout/{p.id}?token={p.client_token}").page()
    assert page.status_code == 404 and 'id="card-number"' not in page.text
    assert (await _native(toss, created["paymentId"]))["status"] == "created"


async def test_a_lost_answer_or_a_crash_before_the_insert_opens_one_window(
        toss: TossEnv, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    c = toss.env.client
    toss.wire.armed = True  # Toss opens the payment; its answer is lost on the way back
    r = await c.post("/v1/payments", json={**_triple("kiosk-key-5", "order-window-5"), **WINDOW})
    assert (r.status_code, r.json()["code"]) == (502, "PG_UNAVAILABLE"), r.text
    assert len(_opened_for(toss, "order-window-5")) == 1
    assert await _window_calls(toss, "timeout") == 1
    created = await _create(toss, "kiosk-key-5", "order-window-5")
    assert _opened_for(toss, "order-window-5") == [created["paymentKey"]]
    assert await _window_calls(toss, "succeeded") == 1

    svc = toss.env.svc
    insert = svc.payments.create_intent

    async def crash(*args: Any, **kwargs: Any) -> Any:  # the process dies after Toss answered, before the insert
        monkeypatch.setattr(svc.payments, "create_intent", insert)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(svc.payments, "create_intent", crash)
    headers = {"Idempotency-Key": "kiosk-create-6"}
    body = {**_triple("kiosk-key-6", "order-window-6"), **WINDOW}
    try:
        r = await c.post("/v1/payments", json=body, headers=headers)
        assert r.status_code >= 500, r.text
    except RuntimeError:
        pass
    assert len(_opened_for(toss, "order-window-6")) == 1
    r = await c.post("/v1/payments", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert _opened_for(toss, "order-window-6") == [r.json()["paymentKey"]]
    assert (await c.get("/api/v1/payments", params={"size": 100})).json()["total"] == 2


async def test_tosss_refusal_and_a_missing_fail_url_record_nothing(toss: TossEnv) -> None:  # noqa: F811
    c = toss.env.client
    r = await c.post("/v1/payments", json={**_triple("kiosk-key-7", "o-7"), **WINDOW})  # Toss wants 6+ chars
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_REQUEST"), r.text
    assert await _window_calls(toss, "declined") == 1
    r = await c.post("/v1/payments", json={**_triple("kiosk-key-8", "order-window-8"),
                                           "successUrl": WINDOW["successUrl"]})
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_REQUEST"), r.text
    assert "failUrl" in r.json()["message"]
    assert _opened_for(toss, "order-window-8") == []
    assert (await c.get("/api/v1/payments")).json()["total"] == 0
    # No successUrl: the kiosk opened Toss's window itself (Toss's SDK) and hands over Toss's key; no window here.
    key = await toss.window("order-window-9", 5_000)
    r = await c.post("/v1/payments", json=_triple(key, "order-window-9", 5_000))
    assert r.status_code == 200 and (r.json()["paymentKey"], r.json()["checkout"]) == (key, None), r.text
    assert _opened_for(toss, "order-window-9") == [key]


async def test_the_simulators_payment_creation_api(toss: TossEnv, buyer: httpx.AsyncClient) -> None:  # noqa: F811
    t = toss.sim_client
    body = {"method": "CARD", "amount": 3_000, "orderId": "order-sim-api-1", "orderName": "커피", **WINDOW}
    r = await t.post("/v1/payments", json=body, headers={"Idempotency-Key": "open-1"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["status"], p["method"], p["totalAmount"], p["approvedAt"]) == ("READY", "카드", 3_000, None)
    assert p["checkout"]["url"] == f"http://toss.sim/checkout/{p['paymentKey']}"
    replay = await t.post("/v1/payments", json=body, headers={"Idempotency-Key": "open-1"})
    assert replay.json() == p
    for missing in ("orderName", "successUrl", "failUrl"):
        r = await t.post("/v1/payments", json={k: v for k, v in body.items() if k != missing})
        assert (r.status_code, r.json()["code"]) == (400, "INVALID_REQUEST"), missing
    unauthenticated = await t.post("/v1/payments", json=body, headers=basic("live_sk_nope"))
    assert unauthenticated.status_code == 401
    confirm = {"paymentKey": p["paymentKey"], "orderId": "order-sim-api-1", "amount": 3_000}
    r = await t.post("/v1/payments/confirm", json=confirm)  # READY: the buyer has not authenticated
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND_PAYMENT_SESSION")
    declined = await _pay_in_window(buyer, p["checkout"]["url"], card=DECLINE)
    assert declined["code"] == ["REJECT_CARD_COMPANY"]
    assert (await t.get(f"/v1/payments/{p['paymentKey']}")).json()["status"] == "READY"
    await _pay_in_window(buyer, p["checkout"]["url"])
    assert (await t.get(f"/v1/payments/{p['paymentKey']}")).json()["status"] == "IN_PROGRESS"
    r = await t.post("/v1/payments/confirm", json=confirm)
    assert r.status_code == 200 and r.json()["status"] == "DONE"
    assert (await buyer.get(p["checkout"]["url"])).status_code == 404  # a paid window takes no second payment

    stale = (await t.post("/v1/payments", json={**body, "orderId": "order-sim-api-2"})).json()
    toss.clock.t += timedelta(minutes=30, seconds=1)  # the window is open 30 minutes
    assert (await t.get(f"/v1/payments/{stale['paymentKey']}")).json()["status"] == "EXPIRED"
