"""Retake examples/shop/checkout.png: with `make demo` running, `.venv/bin/python examples/shop/screenshot.py`.

Drives the shop in Debian's Chromium (as the browser tests do): one order, then Gyeol's checkout with a test card
typed in. Korean text needs a Korean font on the machine (Debian: fonts-nanum)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import sync_playwright

SHOP = os.environ.get("SHOP_URL", "http://127.0.0.1:9080")
OUT = Path(__file__).resolve().parent / "checkout.png"


def main() -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 420, "height": 900}, locale="ko-KR", device_scale_factor=1)
        page.goto(SHOP + "/")
        page.fill("#qty-beans", "1")
        page.click("#order-button")
        page.click("#pay-now")
        page.wait_for_selector("#pay-button")
        page.check('input[name="method"][value="card"]')
        page.fill("#card-number", "4242 4242 4242 4242")
        page.fill("#card-expiry", "12/34")
        page.fill("#card-cvc", "123")
        page.focus("#pay-button")
        page.screenshot(path=str(OUT), full_page=True)
        browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
