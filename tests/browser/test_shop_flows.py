"""The buyer's flows end to end in Chromium: the example shop, Gyeol's hosted checkout (or the Toss simulator's
window), the shop's success page and its server-side confirm, and the receipt.

Page ids are the checkout's (docs/checkout.md): #card-number, #card-expiry, #card-cvc, #pay-button,
#cancel-button, #error, #approve-3ds, #fail-3ds, #va-*, #receipt-status. The shop's are #order-button, #pay-now,
#shop-result, #shop-error, #receipt-link (examples/shop/shop.py).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .conftest import Proc, assert_accessible, gyeol_order

pytestmark = pytest.mark.usefixtures("shop")

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
THREE_DS_CARD = "4000000000003220"


# --- helpers ----------------------------------------------------------------------------------------------
def order(page: Any, shop: Proc, window: str = "gyeol") -> str:
    """From the product list to the payment window: one mug (12,000원). Returns the shop's orderId."""
    page.goto(shop.url + "/")
    page.click("#order-button")
    page.wait_for_url(re.compile(r"/orders/shop-[0-9a-f]+$"))
    order_id: str = page.inner_text("#order-id").strip()
    page.check(f'input[name="window"][value="{window}"]')
    page.click("#pay-now")
    return order_id


def at_checkout(page: Any, gyeol: Proc) -> str:
    """Wait for Gyeol's checkout page; returns the paymentId in its address."""
    page.wait_for_url(re.compile(re.escape(gyeol.url) + r"/checkout/pay_[A-Za-z0-9]+\?"))
    return urlsplit(page.url).path.rsplit("/", 1)[1]


def pay_by_card(page: Any, number: str, expiry: str = "12/34", cvc: str = "123") -> None:
    page.check('input[name="method"][value="card"]')
    page.fill("#card-number", number)
    page.fill("#card-expiry", expiry)
    page.fill("#card-cvc", cvc)
    page.click("#pay-button")


def shop_says(page: Any, shop: Proc, path: str) -> str:
    page.wait_for_url(re.compile(re.escape(shop.url + path)))
    text: str = page.inner_text("#shop-result")
    return text


def receipt_status(page: Any) -> str:
    page.click("#receipt-link")
    page.wait_for_url(re.compile(r"/receipts/rcpt_"))
    status: str = page.inner_text("#receipt-status")
    return status


# --- flows ------------------------------------------------------------------------------------------------
def test_card_success(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    order_id = order(page, shop)
    at_checkout(page, gyeol)
    checkout_url = page.url
    assert page.get_attribute("html", "lang") == "ko"
    assert "12,000" in page.inner_text("#amount")
    assert "결 머그컵" in page.inner_text("#order-name")
    assert page.inner_text("#merchant-name").strip()
    assert_accessible(page, "checkout")
    pay_by_card(page, GOOD_CARD)
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    assert page.inner_text("#order-id") == order_id
    assert_accessible(page, "shop's success")
    paid = gyeol_order(api, order_id)
    assert paid["status"] == "paid" and paid["paidAmount"] == 12_000
    assert "승인" in receipt_status(page)
    assert_accessible(page, "receipt")
    page.goto(checkout_url)  # the paid checkout is a plain notice now, not a form
    page.locator("#notice").wait_for()
    assert page.locator("#pay-button").count() == 0
    assert page.locator("#receipt-link").count() == 1
    assert_accessible(page, "checkout's paid notice")


def test_decline_then_retry_with_a_good_card(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    order_id = order(page, shop)
    payment_id = at_checkout(page, gyeol)
    pay_by_card(page, DECLINED_CARD)
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.get_attribute("role") == "alert"
    assert error.inner_text().strip()
    assert f"/checkout/{payment_id}" in page.url  # still Gyeol's page, on the same payment
    assert gyeol_order(api, order_id)["status"] == "created"
    pay_by_card(page, GOOD_CARD)
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    assert gyeol_order(api, order_id)["status"] == "paid"
    assert "승인" in receipt_status(page)


def test_3ds_approve(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    order_id = order(page, shop)
    at_checkout(page, gyeol)
    pay_by_card(page, THREE_DS_CARD)
    page.locator("#approve-3ds").wait_for()
    assert_accessible(page, "3-D Secure")
    page.click("#approve-3ds")
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    assert gyeol_order(api, order_id)["status"] == "paid"
    assert "승인" in receipt_status(page)


def test_3ds_fail(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    order_id = order(page, shop)
    payment_id = at_checkout(page, gyeol)
    pay_by_card(page, THREE_DS_CARD)
    page.click("#fail-3ds")
    page.locator("#error").wait_for(state="visible")  # back on the checkout, with the failure, free to retry
    assert f"/checkout/{payment_id}" in page.url
    assert page.locator("#pay-button").is_visible()
    assert gyeol_order(api, order_id)["status"] == "created"
    assert api.get(f"/api/v1/payments/{payment_id}").json()["status"] == "failed"


def test_buyer_cancels(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    order_id = order(page, shop)
    payment_id = at_checkout(page, gyeol)
    page.click("#cancel-button")
    assert "결제를 취소했습니다" in shop_says(page, shop, "/fail?")
    query = parse_qs(urlsplit(page.url).query)  # Toss's failUrl convention
    assert query["orderId"] == [order_id] and query["code"] == ["PAY_PROCESS_CANCELED"]
    assert gyeol_order(api, order_id)["status"] == "created"
    assert api.get(f"/api/v1/payments/{payment_id}").json()["status"] in ("created", "canceled")
    page.click("#back-to-order")  # the order is still there to pay
    page.locator("#pay-now").wait_for()


def test_bank_transfer(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    order_id = order(page, shop)
    at_checkout(page, gyeol)
    page.check('input[name="method"][value="transfer"]')
    page.click("#pay-button")  # no bank chosen: the page says so
    page.locator("#error").wait_for(state="visible")
    page.check('input[name="method"][value="transfer"]')
    page.select_option("#transfer-bank", "088")
    page.click("#pay-button")
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    assert gyeol_order(api, order_id)["status"] == "paid"
    assert "승인" in receipt_status(page)


@pytest.mark.context(permissions=["clipboard-read", "clipboard-write"])
def test_virtual_account_then_deposit(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    order_id = order(page, shop)
    payment_id = at_checkout(page, gyeol)
    page.check('input[name="method"][value="virtual_account"]')
    page.click("#pay-button")
    page.locator("#va-account").wait_for()
    assert page.inner_text("#va-bank").strip()
    assert re.search(r"\d{6,}", page.inner_text("#va-account"))
    assert "12,000" in page.inner_text("#va-amount")
    assert re.search(r"\d{4}-\d{2}-\d{2}", page.inner_text("#va-due"))
    page.click("#va-copy")  # the account number goes to the clipboard, and the page says so
    assert page.evaluate("navigator.clipboard.readText()") == page.inner_text("#va-account").strip()
    assert page.inner_text("#va-copy-msg").strip()
    assert gyeol_order(api, order_id)["status"] == "created"
    assert "입금 대기" in receipt_status(page)  # the receipt exists already, awaiting the deposit
    # The buyer deposits; the sandbox PG tells Gyeol.
    r = api.post(f"/api/v1/sandbox/virtual-accounts/{payment_id}/deposit")
    assert r.status_code == 200, r.text
    assert gyeol_order(api, order_id)["status"] == "paid"
    # Back at the shop, its server finds the order paid, confirms it with Gyeol and links the receipt.
    page.goto(f"{shop.url}/orders/{order_id}")
    assert "결제가 완료되었습니다" in page.inner_text("#shop-result")
    assert "승인" in receipt_status(page)
    assert_accessible(page, "receipt (virtual account)")


def toss_window(page: Any, shop: Proc, gyeol: Proc) -> tuple[str, str]:
    """Order, and pay in Toss's payment window (Gyeol's simulator plays Toss): the shop's merchant whose PG is Toss
    creates the payment, and Gyeol opens it at Toss. Returns (orderId, Toss's paymentKey)."""
    order_id = order(page, shop, window="toss")
    page.wait_for_url(re.compile(re.escape(gyeol.url) + r"/sandbox/toss/checkout/tgen_"))
    assert "12,000" in page.inner_text("#amount")
    assert "결 머그컵" in page.inner_text("#order-name")  # the order's name, as the shop registered it in Gyeol
    return order_id, urlsplit(page.url).path.rsplit("/", 1)[1]


def test_toss_window_and_success_url_confirm(page: Any, shop: Proc, gyeol: Proc, toss_api: httpx.Client,
                                             at_toss: httpx.Client) -> None:
    """Seed 004 as written: Toss's payment window, successUrl with paymentKey, orderId and amount, the shop's
    server confirms with Gyeol, and Gyeol confirms at "Toss" (the simulator holds that merchant's Toss key)."""
    order_id, payment_key = toss_window(page, shop, gyeol)
    assert at_toss.get(f"/v1/payments/{payment_key}").json()["status"] == "READY"
    assert_accessible(page, "Toss window")
    pay_by_card(page, GOOD_CARD)
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    query = parse_qs(urlsplit(page.url).query)
    assert query["paymentKey"] == [payment_key] and query["orderId"] == [order_id] and query["amount"] == ["12000"]
    paid = gyeol_order(toss_api, order_id)
    assert paid["status"] == "paid" and paid["paymentKey"] == payment_key
    got = at_toss.get(f"/v1/payments/{payment_key}")
    assert got.status_code == 200 and got.json()["status"] == "DONE", got.text
    native = toss_api.get(f"/v1/payments/{payment_key}").json()
    assert (native["status"], native["checkout"]) == ("APPROVED", None)
    assert "승인" in receipt_status(page)


def test_toss_window_decline_and_cancel_go_to_fail_url(page: Any, shop: Proc, gyeol: Proc, toss_api: httpx.Client,
                                                      at_toss: httpx.Client) -> None:
    order_id, payment_key = toss_window(page, shop, gyeol)
    pay_by_card(page, DECLINED_CARD)
    assert "결제에 실패했습니다" in shop_says(page, shop, "/fail?")
    assert "REJECT_CARD_COMPANY" in page.inner_text("#shop-error")
    page.click("#back-to-order")
    page.check('input[name="window"][value="toss"]')
    page.click("#pay-now")
    page.wait_for_url(re.compile(re.escape(gyeol.url) + r"/sandbox/toss/checkout/tgen_"))
    page.click("#cancel-button")
    assert "결제를 취소했습니다" in shop_says(page, shop, "/fail?")
    assert parse_qs(urlsplit(page.url).query)["code"] == ["PAY_PROCESS_CANCELED"]
    assert gyeol_order(toss_api, order_id)["status"] == "created"
    assert at_toss.get(f"/v1/payments/{payment_key}").json()["status"] == "READY"  # nobody authenticated


def test_keyboard_only_card_payment(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    """The checkout by keyboard alone: Tab reaches the card fields in order, each focus is visible, Enter pays."""
    order_id = order(page, shop)
    at_checkout(page, gyeol)
    seen: list[str] = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return {id: e.id, outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,
                    shadow: s.boxShadow !== 'none'}; }""")
        assert focused["outline"] or focused["shadow"], f"no visible focus on #{focused['id']}"
        seen.append(focused["id"])
        if focused["id"] == "card-number":
            break
    assert seen[-1] == "card-number", seen
    page.keyboard.type(GOOD_CARD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "card-expiry"
    page.keyboard.type("1234")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "card-cvc"
    page.keyboard.type("123")
    page.keyboard.press("Enter")
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    assert gyeol_order(api, order_id)["status"] == "paid"


@pytest.mark.context(java_script_enabled=False)
def test_without_javascript_in_english(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    """Plain form posts carry the whole flow, decline included; ?lang=en switches the checkout to English."""
    order_id = order(page, shop)
    at_checkout(page, gyeol)
    page.click('a[hreflang="en"]')
    page.wait_for_url(re.compile(r"lang=en"))
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#amount").strip().endswith("₩12,000")
    pay_by_card(page, DECLINED_CARD)
    page.locator("#error").wait_for(state="visible")
    assert page.get_attribute("html", "lang") == "en"
    pay_by_card(page, GOOD_CARD)
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    assert gyeol_order(api, order_id)["status"] == "paid"


def test_card_form_checks_as_you_type(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    """The script blocks what the server would refuse (a short number, a past expiry) and only warns on a failed
    Luhn check: the sandbox approves such a number, so the form lets it through."""
    order_id = order(page, shop)
    payment_id = at_checkout(page, gyeol)
    page.check('input[name="method"][value="card"]')
    page.fill("#card-number", "4242")
    page.fill("#card-expiry", "01/20")
    page.fill("#card-cvc", "1")
    page.click("#pay-button")
    assert page.evaluate("document.activeElement.id") == "card-number"  # the first field to fix
    for field in ("card-number", "card-expiry", "card-cvc"):
        assert page.get_attribute(f"#{field}", "aria-invalid") == "true", field
        assert page.inner_text(f"#{field}-msg").strip(), field
    assert f"/checkout/{payment_id}" in page.url
    assert api.get("/api/v1/sandbox/charges", params={"paymentId": payment_id}).json()["items"] == []
    page.fill("#card-number", "4242424242424241")  # fails Luhn
    assert page.input_value("#card-number") == "4242 4242 4242 4241"
    assert page.inner_text("#card-number-msg").strip()  # a warning, shown as you type
    page.fill("#card-expiry", "1234")
    assert page.input_value("#card-expiry") == "12/34"
    page.fill("#card-cvc", "123")
    page.click("#pay-button")
    assert "결제가 완료되었습니다" in shop_says(page, shop, "/success?")
    assert gyeol_order(api, order_id)["status"] == "paid"
