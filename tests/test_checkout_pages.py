"""Gyeol's hosted checkout, as a browser without JavaScript uses it: GET the page, POST its forms, follow 303s.

Every response body is scanned for card numbers by the clients of conftest; the last test looks in the database,
its dump and the logs as well."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from conftest import Env
from gyeol.models import payments
from gyeol.simulators.toss.simulator import TossSimulator
from sensitive import CARD_NUMBERS, LEAK_CVCS, leaks, spellings
from test_card_leak import _dump, _stored_values
from test_kiosk import kiosk  # noqa: F401  (the fixture)

GOOD, DECLINE, THREE_DS = "4242424242424242", "4000000000000002", "4000000000003220"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def _id_text(html: str, id_: str) -> str:
    found = re.search(rf'id="{id_}"[^>]*>([^<]*)<', html)
    assert found, f"no element #{id_}"
    return found.group(1)


class Buyer:
    """A browser without JavaScript: no API key, a cookie jar, forms posted as they are."""

    def __init__(self, env: Env, checkout_url: str) -> None:
        self.env = env
        self.client: httpx.AsyncClient = env.client_for()
        self.url = _path(checkout_url)
        self.payment_id = urlsplit(checkout_url).path.split("/")[2]
        self.token = parse_qs(urlsplit(checkout_url).query)["token"][0]

    async def page(self, suffix: str = "", **params: str) -> httpx.Response:
        r = await self.client.get(f"/checkout/{self.payment_id}{suffix}", params={"token": self.token, **params})
        return r

    async def post(self, fields: dict[str, str], suffix: str = "", csrf: str | None = None) -> httpx.Response:
        if csrf is None:
            page = await self.page(suffix)
            csrf = _csrf(page.text)
        data = {"token": self.token, "csrf": csrf, "lang": "ko", **fields}
        return await self.client.post(f"/checkout/{self.payment_id}{suffix}", data=data)

    async def pay_card(self, number: str, cvc: str = "123", expiry: str = "12/34") -> httpx.Response:
        return await self.post({"method": "card", "cardNumber": number, "expiry": expiry, "cvc": cvc})

    async def status(self) -> str:
        r = await self.env.client.get(f"/api/v1/payments/{self.payment_id}")
        return str(r.json()["status"])


async def _buyer(env: Env, amount: int = 10_000, **body: Any) -> Buyer:
    intent = await env.intent(amount, **body)
    assert intent["redirectUrl"].startswith("http://testserver/checkout/")
    return Buyer(env, intent["redirectUrl"])


async def test_the_page_shows_merchant_order_and_amount(env: Env) -> None:
    buyer = await _buyer(env, orderName="티셔츠 외 1건")
    r = await buyer.page()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="ko">' in r.text
    assert _id_text(r.text, "merchant-name") == "acme"
    assert _id_text(r.text, "order-name") == "티셔츠 외 1건"
    assert _id_text(r.text, "amount") == "₩10,000"
    for value in ("card", "transfer", "virtual_account"):
        assert f'name="method" value="{value}"' in r.text
    for id_ in ("card-number", "card-expiry", "card-cvc", "pay-button", "cancel-button", "error"):
        assert f'id="{id_}"' in r.text
    assert re.search(r'<input id="card-number" name="cardNumber"', r.text)
    assert 'role="alert"' in r.text and 'for="card-number"' in r.text and 'for="card-cvc"' in r.text
    en = await buyer.page(lang="en")
    assert '<html lang="en">' in en.text and "Pay ₩10,000" in en.text and 'name="lang" value="en"' in en.text

    usd = await _buyer(env, 1234, currency="USD")
    r = await usd.page()
    assert _id_text(r.text, "amount") == "$12.34"
    assert 'value="card"' in r.text and 'value="virtual_account"' not in r.text  # banks take won only


async def test_headers_are_strict(env: Env) -> None:
    buyer = await _buyer(env)
    r = await buyer.page()
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self' https://shop.example;" in csp
    assert "http" not in csp.replace("https://shop.example", "")  # nothing third-party besides the return
    assert r.headers["cache-control"] == "no-store"
    assert "gyeol_csrf=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    assert '<script src="/assets/checkout.js"' in r.text and 'href="/assets/checkout.css"' in r.text
    assert "<script>" not in r.text and "style=" not in r.text  # nothing inline: the policy would refuse it
    js = await buyer.client.get("/assets/checkout.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "luhnOk" in js.text and "warn" in js.text
    css = await buyer.client.get("/assets/checkout.css")
    assert ":focus-visible" in css.text
    assert "@media print" in (await buyer.client.get("/assets/receipt.css")).text
    assert (await buyer.client.get("/assets/..%2Fpages%2Fcheckout.py")).status_code == 404


async def test_a_wrong_token_finds_nothing_and_says_nothing(env: Env) -> None:
    buyer = await _buyer(env)
    other = await _buyer(env)
    anon = env.client_for()
    answers = [
        await anon.get(f"/checkout/{buyer.payment_id}", params={"token": "wrong"}),
        await anon.get(f"/checkout/{buyer.payment_id}"),
        await anon.get(f"/checkout/{buyer.payment_id}", params={"token": buyer.token + "x" * 500}),
        await anon.get(f"/checkout/{buyer.payment_id}", params={"token": other.token}),  # another payment's
        await anon.get("/checkout/pay_nosuchpayment", params={"token": buyer.token}),
        await anon.get(f"/checkout/{buyer.payment_id}/3ds", params={"token": other.token}),
        await anon.post(f"/checkout/{buyer.payment_id}", data={"token": other.token, "method": "card",
                                                              "cardNumber": GOOD, "expiry": "12/34", "cvc": "123"}),
    ]
    for r in answers:
        assert r.status_code == 404
        assert buyer.payment_id not in r.text and "acme" not in r.text and "₩" not in r.text
        assert 'id="notice"' in r.text and "<form" not in r.text
    assert len({r.text for r in answers}) == 1
    assert await buyer.status() == "created"


async def test_a_post_without_csrf_changes_nothing(env: Env) -> None:
    buyer = await _buyer(env)
    card = {"method": "card", "cardNumber": GOOD, "expiry": "12/34", "cvc": "123"}
    r = await buyer.post(card, csrf="")
    assert r.status_code == 403 and 'id="error"' in r.text
    r = await buyer.post(card, csrf="0" * 64)
    assert r.status_code == 403
    # A valid field but no cookie (another browser, or a cross-site form): refused too.
    csrf = _csrf((await buyer.page()).text)
    stranger = env.client_for()
    r = await stranger.post(f"/checkout/{buyer.payment_id}", data={"token": buyer.token, "csrf": csrf, **card})
    assert r.status_code == 403
    # A field minted for another payment's form: refused.
    other = await _buyer(env)
    other_csrf = _csrf((await buyer.client.get(_path(other.url))).text)
    r = await buyer.post(card, csrf=other_csrf)
    assert r.status_code == 403
    assert await buyer.status() == "created"
    assert await env.charges(buyer.payment_id) == []


async def test_card_success_returns_with_the_payment_id(env: Env) -> None:
    buyer = await _buyer(env)
    r = await buyer.pay_card("4242 4242 4242 4242")
    assert r.status_code == 303
    assert r.headers["location"] == f"https://shop.example/return?paymentId={buyer.payment_id}"
    assert await buyer.status() == "succeeded"
    got = (await env.client.get(f"/api/v1/payments/{buyer.payment_id}")).json()
    assert got["card"] == {"brand": "visa", "last4": "4242"}
    # Coming back shows a plain notice, not a form, and a receipt.
    page = await buyer.page()
    assert 'id="notice"' in page.text and "<form" not in page.text and 'id="receipt-link"' in page.text
    again = await buyer.post({"method": "card", "cardNumber": GOOD, "expiry": "12/34", "cvc": "123"}, csrf="x")
    assert again.status_code == 403 and "<form" not in again.text
    assert len(await env.charges(buyer.payment_id)) == 1


async def test_without_a_return_address_the_buyer_stays_on_the_paid_notice(env: Env) -> None:
    intent = await env.intent(returnUrl=None, cancelUrl=None)
    buyer = Buyer(env, intent["redirectUrl"])
    r = await buyer.pay_card(GOOD)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/checkout/{buyer.payment_id}?")
    page = await buyer.client.get(r.headers["location"])
    assert "결제가 완료" in _id_text(page.text, "notice") and 'id="return-link"' not in page.text
    assert "form-action 'self';" in page.headers["content-security-policy"]


async def test_a_well_formed_number_failing_luhn_is_not_blocked(env: Env) -> None:
    buyer = await _buyer(env)
    r = await buyer.pay_card("4242424242424241")
    assert r.status_code == 303 and "paymentId=" in r.headers["location"]
    assert await buyer.status() == "succeeded"


@pytest.mark.parametrize(("fields", "message"), [
    ({"cardNumber": "4242", "expiry": "12/34", "cvc": "123"}, "카드 번호는"),
    ({"cardNumber": GOOD, "expiry": "13/34", "cvc": "123"}, "MM/YY"),
    ({"cardNumber": GOOD, "expiry": "01/20", "cvc": "123"}, "유효기간이 지난"),
    ({"cardNumber": GOOD, "expiry": "12/34", "cvc": "12"}, "보안 코드는"),
])
async def test_the_server_checks_the_card_again(env: Env, fields: dict[str, str], message: str) -> None:
    buyer = await _buyer(env)
    r = await buyer.post({"method": "card", **fields})
    assert r.status_code == 400 and message in _id_text(r.text, "error")
    assert 'value="4242' not in r.text  # never echoed back
    assert await buyer.status() == "created" and await env.charges(buyer.payment_id) == []


async def test_a_decline_shows_an_error_and_another_card_succeeds(env: Env) -> None:
    buyer = await _buyer(env)
    r = await buyer.pay_card(DECLINE)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/checkout/{buyer.payment_id}?")
    page = await buyer.client.get(r.headers["location"])
    assert "거절" in _id_text(page.text, "error") and 'id="pay-button"' in page.text
    assert await buyer.status() == "failed"
    r = await buyer.pay_card(GOOD)
    assert r.status_code == 303 and r.headers["location"].endswith(f"paymentId={buyer.payment_id}")
    assert await buyer.status() == "succeeded"
    charges = await env.charges(buyer.payment_id)
    assert sorted(c["status"] for c in charges) == ["failed", "succeeded"]


async def test_3ds_approve(env: Env) -> None:
    buyer = await _buyer(env)
    r = await buyer.pay_card(THREE_DS)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/checkout/{buyer.payment_id}/3ds?")
    assert (await buyer.page()).headers["location"].startswith(f"/checkout/{buyer.payment_id}/3ds?")
    challenge = await buyer.client.get(r.headers["location"])
    assert 'id="approve-3ds"' in challenge.text and 'id="fail-3ds"' in challenge.text
    assert await buyer.status() == "pending"
    r = await buyer.post({"result": "approve"}, suffix="/3ds", csrf=_csrf(challenge.text))
    assert r.status_code == 303 and r.headers["location"] == f"https://shop.example/return?paymentId={buyer.payment_id}"
    assert await buyer.status() == "succeeded"
    assert [c["status"] for c in await env.charges(buyer.payment_id)] == ["succeeded"]


async def test_3ds_for_a_payment_confirmed_through_the_api(env: Env) -> None:
    created = await env.intent(confirm=True, methodOptions={"card": {"number": THREE_DS, "expMonth": 12,
                                                                     "expYear": 2034, "cvc": "123"}})
    assert created["status"] == "pending"
    redirect = created["nextAction"]["redirectUrl"]
    assert redirect == f"http://testserver/sandbox/3ds/{created['paymentId']}"
    browser = env.client_for()
    r = await browser.get(_path(redirect))
    assert r.status_code == 303 and r.headers["location"].startswith(f"/checkout/{created['paymentId']}/3ds?")
    challenge = await browser.get(r.headers["location"])
    token = parse_qs(urlsplit(r.headers["location"]).query)["token"][0]
    done = await browser.post(f"/checkout/{created['paymentId']}/3ds", data={
        "token": token, "csrf": _csrf(challenge.text), "lang": "ko", "result": "approve"})
    assert done.headers["location"] == f"https://shop.example/return?paymentId={created['paymentId']}"
    assert (await browser.get(_path(redirect))).status_code == 404  # nothing waits any more
    assert (await browser.get("/sandbox/3ds/pay_nosuch")).status_code == 404
    plain = await env.intent()
    assert (await browser.get(f"/sandbox/3ds/{plain['paymentId']}")).status_code == 404


async def test_3ds_fail_then_retry(env: Env) -> None:
    buyer = await _buyer(env)
    await buyer.pay_card(THREE_DS)
    bad = await buyer.post({"result": "approve"}, suffix="/3ds", csrf="nope")
    assert bad.status_code == 403 and await buyer.status() == "pending"
    r = await buyer.post({"result": "fail"}, suffix="/3ds")
    assert r.status_code == 303 and r.headers["location"].startswith(f"/checkout/{buyer.payment_id}?")
    page = await buyer.client.get(r.headers["location"])
    assert "인증에 실패" in _id_text(page.text, "error")
    assert await buyer.status() == "failed"
    r = await buyer.pay_card(GOOD)
    assert r.status_code == 303 and "paymentId=" in r.headers["location"]
    assert await buyer.status() == "succeeded"


async def test_cancel_goes_to_the_cancel_url(env: Env) -> None:
    buyer = await _buyer(env)
    page = await buyer.page()
    href = re.search(r'id="cancel-button" class="[^"]*" href="([^"]+)"', page.text)
    assert href and href.group(1) == f"https://shop.example/cancel?paymentId={buyer.payment_id}"
    assert await buyer.status() == "created"
    bare = await env.intent(orderId="no-cancel", cancelUrl=None)
    assert 'id="cancel-button"' not in (await env.client_for().get(_path(bare["redirectUrl"]))).text


async def test_expired_and_paid_intents_show_a_notice(env: Env) -> None:
    paid = await env.paid()
    page = await env.client_for().get(_path(paid["redirectUrl"]))
    assert page.status_code == 200 and "결제가 완료" in _id_text(page.text, "notice") and "<form" not in page.text

    buyer = await _buyer(env)
    async with env.svc.db.tx() as conn:
        await conn.execute(payments.update().where(payments.c.id == buyer.payment_id)
                           .values(expires_at=env.svc.clock.now() - timedelta(seconds=1)))
    page = await buyer.page()
    assert "지났습니다" in _id_text(page.text, "notice") and "<form" not in page.text
    r = await buyer.post({"method": "card", "cardNumber": GOOD, "expiry": "12/34", "cvc": "123"}, csrf="x")
    assert r.status_code == 403 and "<form" not in r.text
    await env.svc.payments.expire_due()
    page = await buyer.page(lang="en")
    assert "expired or" in _id_text(page.text, "notice") or "canceled" in _id_text(page.text, "notice")
    assert await env.charges(buyer.payment_id) == []


async def test_virtual_account_shows_the_account_then_the_receipt_shows_paid(env: Env) -> None:
    buyer = await _buyer(env, 25_000)
    r = await buyer.post({"method": "virtual_account"})
    assert r.status_code == 303
    page = await buyer.client.get(r.headers["location"])
    assert _id_text(page.text, "va-bank") == "신한은행"
    account = _id_text(page.text, "va-account")
    assert re.fullmatch(r"9\d{13}", account)
    assert _id_text(page.text, "va-amount") == "₩25,000"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d KST", _id_text(page.text, "va-due"))
    assert 'id="va-copy"' in page.text and "<form" not in page.text
    receipt = re.search(r'id="receipt-link" class="[^"]*" href="([^"]+)"', page.text)
    assert receipt
    anon = env.client_for()
    assert "입금 대기" in _id_text((await anon.get(receipt.group(1))).text, "receipt-status")

    r = await env.client.post(f"/api/v1/sandbox/virtual-accounts/{buyer.payment_id}/deposit")
    assert r.status_code == 200, r.text
    assert await buyer.status() == "succeeded"
    assert "결제가 완료" in _id_text((await buyer.page()).text, "notice")
    done = await anon.get(receipt.group(1))
    assert _id_text(done.text, "receipt-status") == "승인"
    assert "가상계좌 (신한은행)" in done.text and "입금 일시" in done.text and account not in done.text
    assert "Approved" in _id_text((await anon.get(receipt.group(1).replace("lang=ko", "lang=en"))).text,
                                  "receipt-status")


async def test_bank_transfer_pays_at_once(env: Env) -> None:
    buyer = await _buyer(env)
    r = await buyer.post({"method": "transfer", "bankCode": ""})
    assert r.status_code == 400 and "은행" in _id_text(r.text, "error")
    r = await buyer.post({"method": "transfer", "bankCode": "088"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"paymentId={buyer.payment_id}")
    got = (await env.client.get(f"/api/v1/payments/{buyer.payment_id}")).json()
    assert (got["status"], got["paymentMethodType"]) == ("succeeded", "bank")


async def test_the_merchant_chooses_the_methods(env: Env) -> None:
    await env.svc.merchants.update_settings(env.merchant_id, {"checkoutMethods": ["card", "transfer"]})
    buyer = await _buyer(env)
    page = await buyer.page()
    assert 'value="card"' in page.text and 'value="transfer"' in page.text
    assert 'value="virtual_account"' not in page.text
    r = await buyer.post({"method": "virtual_account"})
    assert r.status_code == 409 and _id_text(r.text, "error")
    assert await buyer.status() == "created" and await env.charges(buyer.payment_id) == []


async def test_kiosk_payments_return_the_toss_way(kiosk: tuple[Env, httpx.AsyncClient]) -> None:  # noqa: F811
    env, c = kiosk
    body = {"paymentKey": "pay_k1", "orderId": "order_k1", "amount": 10000,
            "successUrl": "https://kiosk.example/success", "failUrl": "https://kiosk.example/fail?from=gyeol"}
    created = (await c.post("/v1/payments", json=body)).json()
    assert created["status"] == "INITIATED" and created["checkout"]["url"].startswith("http://testserver/checkout/")
    buyer = Buyer(env, created["checkout"]["url"])
    page = await buyer.page()
    cancel = re.search(r'id="cancel-button" class="[^"]*" href="([^"]+)"', page.text)
    assert cancel is not None
    query = parse_qs(urlsplit(cancel.group(1).replace("&amp;", "&")).query)
    assert query["code"] == ["PAY_PROCESS_CANCELED"] and query["orderId"] == ["order_k1"]
    assert query["from"] == ["gyeol"] and query["message"]
    r = await buyer.pay_card(GOOD)
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert (target.netloc, target.path) == ("kiosk.example", "/success")
    assert parse_qs(target.query) == {"paymentType": ["NORMAL"], "paymentKey": ["pay_k1"],
                                      "orderId": ["order_k1"], "amount": ["10000"]}
    # The window authenticated the buyer and charged nothing; the kiosk's server confirms as the seed says, and
    # that confirm charges, once.
    assert await env.charges(buyer.payment_id) == []
    ok = (await c.post("/v1/payments/confirm", json={k: body[k] for k in ("paymentKey", "orderId", "amount")}))
    assert ok.status_code == 200 and ok.json()["status"] == "APPROVED" and ok.json()["checkout"] is None
    assert ok.json()["receipt"]["url"].startswith("http://testserver/receipts/rcpt_")
    assert len([x for x in await env.charges(buyer.payment_id) if x["kind"] == "charge"]) == 1


async def test_the_shops_confirm_of_a_waiting_virtual_account_says_so(
        kiosk: tuple[Env, httpx.AsyncClient]) -> None:  # noqa: F811
    env, c = kiosk
    body = {"paymentKey": "pay_va1", "orderId": "order_va1", "amount": 30000}
    created = (await c.post("/v1/payments", json={**body, "successUrl": "https://shop.example/ok",
                                                  "failUrl": "https://shop.example/fail"})).json()
    buyer = Buyer(env, created["checkout"]["url"])
    assert (await buyer.post({"method": "virtual_account"})).status_code == 303
    r = await c.post("/api/payments/confirm", json=body)
    assert r.status_code == 409 and "입금 대기" in r.json()["error"], r.text
    assert await buyer.status() == "pending"
    assert (await c.get("/v1/payments/pay_va1")).json()["status"] == "WAITING_FOR_DEPOSIT"
    rows = (await env.client.get("/api/v1/settlements")).json()
    assert rows["total"] == 0

    assert (await env.client.post(f"/api/v1/sandbox/virtual-accounts/{buyer.payment_id}/deposit")).status_code == 200
    r = await c.post("/api/payments/confirm", json=body, headers={"Idempotency-Key": "after-deposit"})
    assert r.status_code == 200 and r.json()["success"] is True and r.json()["settlementId"], r.text
    assert (await c.get("/v1/payments/pay_va1")).json()["status"] == "APPROVED"


async def test_card_data_never_reaches_the_database_or_logs(env: Env, db_url: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for i, number in enumerate(CARD_NUMBERS):
        for j, spelled in enumerate(spellings(number)):
            buyer = await _buyer(env, 1000 + i)
            r = await buyer.pay_card(spelled, cvc=LEAK_CVCS[(i + j) % 2], expiry="09/38")
            assert r.status_code in (303, 400), r.text
            if r.headers.get("location", "").startswith(f"/checkout/{buyer.payment_id}/3ds"):
                await buyer.post({"result": "approve"}, suffix="/3ds")
    stored = await _stored_values(env)
    assert any(v == "4242" for v in stored), "no card was stored at all: the test proves nothing"
    assert not leaks("\n".join(stored))
    for cvc in LEAK_CVCS:
        assert cvc not in stored
    async with env.svc.db.read() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(payments)
                                    .where(payments.c.status == "succeeded"))).scalar_one()
    assert count > 0
    await env.svc.db.dispose()
    dump = _dump(env, db_url)
    assert not leaks(dump)
    logged = capsys.readouterr()
    assert "request" in logged.out + logged.err
    assert not leaks(logged.out + logged.err)


@pytest.fixture
async def toss_window() -> Any:
    sim = TossSimulator(public_url="http://sim")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim",
                               event_hooks={"response": [_no_card_data]})
    try:
        yield sim, client
    finally:
        await client.aclose()
        await sim.aclose()


async def _no_card_data(response: httpx.Response) -> None:
    assert not leaks((await response.aread()).decode("utf-8", "replace"))


async def test_the_toss_simulators_window_looks_like_the_checkout(toss_window: Any) -> None:
    sim, client = toss_window
    auth = {"Authorization": "Basic " + base64.b64encode(b"test_sk_window:").decode()}
    opened = await client.post("/payments", headers=auth, json={
        "orderId": "order-window-1", "orderName": "커피 2잔", "amount": 15000,
        "successUrl": "https://shop.example/success", "failUrl": "https://shop.example/fail"})
    key, url = opened.json()["paymentKey"], opened.json()["checkoutUrl"]
    assert url == f"http://sim/checkout/{key}"
    page = await client.get(url)
    assert page.status_code == 200 and '<html lang="ko">' in page.text
    assert _id_text(page.text, "amount") == "₩15,000" and _id_text(page.text, "order-name") == "커피 2잔"
    for id_ in ("merchant-name", "card-number", "card-expiry", "card-cvc", "pay-button", "cancel-button", "error"):
        assert f'id="{id_}"' in page.text
    assert 'href="http://sim/assets/checkout.css"' in page.text
    assert (await client.get("/assets/checkout.js")).status_code == 200
    csp = page.headers["content-security-policy"]
    assert "form-action 'self' https://shop.example;" in csp and page.headers["cache-control"] == "no-store"
    cancel = re.search(r'id="cancel-button" class="[^"]*" href="([^"]+)"', page.text)
    assert cancel is not None
    query = parse_qs(urlsplit(cancel.group(1).replace("&amp;", "&")).query)
    assert query["code"] == ["PAY_PROCESS_CANCELED"] and query["orderId"] == ["order-window-1"]

    card = {"cardNumber": GOOD, "expiry": "12/34", "cvc": "123", "lang": "ko"}
    refused = await client.post(f"/checkout/{key}/approve", data={**card, "csrf": "forged"})
    assert refused.status_code == 403 and 'id="error"' in refused.text
    csrf = _csrf(page.text)
    declined = await client.post(f"/checkout/{key}/approve", data={**card, "cardNumber": DECLINE, "csrf": csrf})
    assert declined.status_code == 303
    failed = urlsplit(declined.headers["location"])
    assert failed.path == "/fail" and parse_qs(failed.query)["code"] == ["REJECT_CARD_COMPANY"]
    assert parse_qs(failed.query)["orderId"] == ["order-window-1"] and parse_qs(failed.query)["message"]
    bad = await client.post(f"/checkout/{key}/approve", data={**card, "cvc": "1", "csrf": csrf})
    assert bad.status_code == 400 and "보안 코드" in _id_text(bad.text, "error")

    ok = await client.post(f"/checkout/{key}/approve", data={**card, "csrf": csrf})
    assert ok.status_code == 303
    target = urlsplit(ok.headers["location"])
    assert (target.netloc, target.path) == ("shop.example", "/success")
    assert parse_qs(target.query) == {"paymentType": ["NORMAL"], "orderId": ["order-window-1"],
                                      "paymentKey": [key], "amount": ["15000"]}
    at_toss = (await client.get(f"/v1/payments/{key}", headers=auth)).json()
    assert at_toss["status"] == "IN_PROGRESS"  # the window authenticates; the merchant's confirm approves
    done = await client.post("/v1/payments/confirm", headers=auth,
                             json={"paymentKey": key, "orderId": "order-window-1", "amount": 15000})
    assert done.json()["status"] == "DONE"
    assert (await client.get("/checkout/tgen_nosuch")).status_code == 404
