"""The example shop itself, in the browser: its pages, its order in Gyeol, and a success page that trusts nothing
in its query (a forged return is never booked as paid)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .conftest import Proc, assert_accessible, gyeol_order


def test_products_and_an_order_registered_in_gyeol(page: Any, shop: Proc, api: httpx.Client) -> None:
    page.goto(shop.url + "/")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.locator("li.product").count() == 3
    assert_accessible(page, "shop's product list")
    page.fill("#qty-mug", "2")
    page.fill("#qty-bag", "1")
    page.click("#order-button")
    page.wait_for_url(re.compile(r"/orders/shop-[0-9a-f]+$"))
    order_id = page.inner_text("#order-id")
    assert "33,000원" in page.inner_text("#order-amount")
    assert_accessible(page, "shop's order")
    o = gyeol_order(api, order_id)  # seed 004: the order exists in Gyeol before any payment
    assert (o["status"], o["amount"], o["orderName"]) == ("created", 33_000, "결 머그컵 외 1건")
    assert [(i["name"], i["quantity"]) for i in o["items"]] == [("결 머그컵", 2), ("리넨 에코백", 1)]


def test_a_forged_return_is_not_booked(page: Any, shop: Proc, gyeol: Proc, api: httpx.Client) -> None:
    page.goto(shop.url + "/")
    page.click("#order-button")
    page.wait_for_url(re.compile(r"/orders/shop-[0-9a-f]+$"))
    order_id = page.inner_text("#order-id")
    page.click("#pay-now")  # the checkout opens; the buyer pays nothing
    page.wait_for_url(re.compile(re.escape(gyeol.url) + "/checkout/"))
    opened = api.get(f"/v1/payments/orders/{order_id}").json()
    assert opened["status"] == "INITIATED"
    key = opened["paymentKey"]
    # Another amount than the order's: refused before Gyeol is asked anything.
    page.goto(f"{shop.url}/success?paymentKey={key}&orderId={order_id}&amount=100")
    assert "금액" in page.inner_text("#shop-result")
    # The right query for a payment nobody paid: the shop asks Gyeol first, and does not confirm.
    page.goto(f"{shop.url}/success?paymentKey={key}&orderId={order_id}&amount=12000")
    assert "완료되지 않았습니다" in page.inner_text("#shop-result")
    # A paymentKey the shop never opened for this order.
    other = api.post("/v1/payments", json={"paymentKey": "forged-key-1", "orderId": order_id, "amount": 12_000})
    assert other.status_code == 200, other.text
    page.goto(f"{shop.url}/success?paymentKey=forged-key-1&orderId={order_id}&amount=12000")
    assert "확인하지 못했습니다" in page.inner_text("#shop-result")
    assert page.locator("#receipt-link").count() == 0
    assert gyeol_order(api, order_id)["status"] == "created"
    assert api.get(f"/v1/payments/{key}").json()["status"] == "INITIATED"
