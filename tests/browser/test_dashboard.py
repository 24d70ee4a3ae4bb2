"""The merchant dashboard in Chromium: `gyeol serve` as `make run` starts it (GYEOL_ENV=development makes the
default merchant's owner), staff made with `gyeol staff create`, and every page in Korean and English, checked by
axe-core at a phone's width. Each page test saves a screenshot of each page in both languages."""

from __future__ import annotations

import csv
import io
import itertools
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from procs import GYEOL, free_port, gyeol_env, run_cli

from .conftest import ARTIFACTS, KEY, Proc, assert_accessible

PASSWORD = "browser-tests-pw"
_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def dash(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A development server behind a trusted proxy (this machine): each test signs in from an address of its own
    (X-Forwarded-For), so one test's lock is not another's."""
    tmp = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = gyeol_env(f"sqlite:///{tmp / 'gyeol.db'}", tmp / "var", GYEOL_TEST_SECRET_KEY=KEY, GYEOL_ENV="development",
                    GYEOL_PUBLIC_URL=url, GYEOL_TRUSTED_PROXIES="127.0.0.1", GYEOL_RATE_LIMIT="1000000",
                    GYEOL_LOG_JSON="true")
    p = Proc("gyeol serve", [GYEOL, "serve", "--host", "127.0.0.1", "--port", str(port)], env, port, "/readyz",
             tmp / "gyeol.log")
    try:
        p.wait_ready()
        owner_password = (tmp / "var" / "dashboard_owner_password").read_text().strip()
        for role in ("admin", "viewer"):
            done = run_cli_stdin(["staff", "create", "--merchant", "default", "--email", f"{role}@gyeol.local",
                                  "--role", role, "--password-stdin"], env, PASSWORD + "\n")
            assert f'"role": "{role}"' in done
        run_cli(["merchants", "create", "--name", "globex"], env)
        run_cli_stdin(["staff", "create", "--merchant", "globex", "--email", "boss@globex.example", "--role",
                       "owner", "--password-stdin"], env, PASSWORD)
        with httpx.Client(base_url=url, auth=(KEY, ""), timeout=20) as api:
            paid = [_paid(api, 39_000 + 1000 * i) for i in range(3)]
            held = api.post("/api/v1/payments/intent", json={
                "orderId": f"held-{secrets.token_hex(4)}", "amount": 12_000, "currency": "KRW", "confirm": True,
                "capture": False, "methodOptions": {"token": "tok_visa"}}).json()
        yield {"url": url, "owner": ("owner@gyeol.local", owner_password), "paid": paid, "held": held, "env": env,
               "log": p.output}
    finally:
        p.stop()


def run_cli_stdin(args: list[str], env: dict[str, str], stdin: str) -> str:
    import subprocess

    done = subprocess.run([GYEOL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _paid(api: httpx.Client, amount: int) -> dict[str, Any]:
    r = api.post("/api/v1/payments/intent", json={"orderId": f"ord-{secrets.token_hex(5)}", "amount": amount,
                                                  "currency": "KRW", "confirm": True,
                                                  "methodOptions": {"token": "tok_visa"}})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def sign_in(page: Any, dash: dict[str, Any], email: str | None = None, password: str = PASSWORD,
            lang: str = "ko") -> None:
    page.set_extra_http_headers({"X-Forwarded-For": f"198.51.100.{next(_addresses)}"})
    page.goto(f"{dash['url']}/dashboard/login?lang={lang}")
    email, password = (email, password) if email else dash["owner"]
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#signin-button")
    page.wait_for_url(re.compile(r"/dashboard$"))


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dashboard_{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_page_in_each_language(page: Any, dash: dict[str, Any], lang: str) -> None:
    sign_in(page, dash, lang=lang)
    pid = dash["paid"][0]["paymentId"]
    pages = {"home": "/dashboard", "payments": "/dashboard/payments", "payment": f"/dashboard/payments/{pid}",
             "webhooks": "/dashboard/webhooks", "developers": "/dashboard/developers", "audit": "/dashboard/audit",
             "settings": "/dashboard/settings", "account": "/dashboard/account"}
    for name, path in pages.items():
        page.goto(dash["url"] + path)
        assert page.get_attribute("html", "lang") == lang, path
        assert page.locator("#mode-banner").count() == 1  # test data, said plainly
        assert_accessible(page, f"dashboard {name} ({lang})")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, f"{path} is wider than a phone"
        shot(page, f"{name}_{lang}")
    page.goto(dash["url"] + "/dashboard/payments")
    assert pid in page.inner_text("#payments-table")
    assert "₩39,000" in page.inner_text("#payments-table")
    page.keyboard.press("Tab")  # the skip link comes first, for the keyboard
    assert page.evaluate("document.activeElement.className") == "skip"


def test_a_locked_sign_in_says_so(page: Any, dash: dict[str, Any]) -> None:
    page.set_extra_http_headers({"X-Forwarded-For": "203.0.113.77"})
    page.goto(dash["url"] + "/dashboard/login")
    for _ in range(5):  # an account that does not exist: locked all the same, and the address with it
        page.fill("#email", "nobody@gyeol.local")
        page.fill("#password", "not the password")
        page.click("#signin-button")
    assert "15분" in page.inner_text("#problem")
    page.fill("#email", "viewer@gyeol.local")
    page.fill("#password", PASSWORD)
    page.click("#signin-button")
    assert page.url.endswith("/dashboard/login") and "15분" in page.inner_text("#problem")
    assert_accessible(page, "locked sign-in")


def test_a_refund_in_part_once_and_a_capture(page: Any, dash: dict[str, Any]) -> None:
    sign_in(page, dash, "admin@gyeol.local", lang="en")
    pid = dash["paid"][1]["paymentId"]
    page.goto(f"{dash['url']}/dashboard/payments/{pid}")
    page.fill("#refund-amount", "1000")
    page.fill("#refund-reason", "scratched")
    page.click("#refund")
    assert "₩1,000" in page.inner_text("#confirm-text")
    assert_accessible(page, "refund confirmation")
    page.dblclick("#confirm-button")  # a double click refunds once
    page.wait_for_url(re.compile(r"/dashboard/payments/pay_[0-9a-f]+\?"))
    assert page.inner_text("#refunded") == "₩1,000"
    held = dash["held"]["paymentId"]
    page.goto(f"{dash['url']}/dashboard/payments/{held}")
    page.click("#capture")
    page.click("#confirm-button")
    page.wait_for_url(re.compile(r"done=capture"))
    assert page.inner_text("#payment-status") == "captured"
    with httpx.Client(base_url=dash["url"], auth=(KEY, ""), timeout=20) as api:
        refunds = api.get("/api/v1/refunds", params={"paymentId": pid}).json()["items"]
    assert [r["amount"] for r in refunds] == [1000]


def test_a_viewers_refund_is_refused_and_a_forged_form_too(page: Any, dash: dict[str, Any]) -> None:
    sign_in(page, dash, "viewer@gyeol.local")
    pid = dash["paid"][2]["paymentId"]
    page.goto(f"{dash['url']}/dashboard/payments/{pid}")
    assert page.locator("#viewer-note").count() == 1
    with page.expect_navigation():  # the form a viewer is not given a button for, posted all the same
        page.evaluate("""() => { const f = document.getElementById('refund-form');
                                  f.querySelector('#refund-amount').value = '39000'; f.submit(); }""")
    assert page.locator("#problem").count() == 1 and "403" in page.inner_text("#problem")
    shot(page, "viewer_refused")
    # An admin's form whose CSRF token was tampered with.
    sign_in(page, dash, "admin@gyeol.local")
    page.goto(f"{dash['url']}/dashboard/payments/{pid}")
    page.evaluate("() => document.querySelector('#refund-form input[name=csrf]').value = 'forged'")
    page.click("#refund")
    assert "403" in page.inner_text("#problem")
    with httpx.Client(base_url=dash["url"], auth=(KEY, ""), timeout=20) as api:
        assert api.get(f"/api/v1/payments/{pid}").json()["refundedAmount"] == 0


def test_another_merchants_payment_is_not_found(page: Any, dash: dict[str, Any]) -> None:
    sign_in(page, dash, "boss@globex.example")
    response = page.goto(f"{dash['url']}/dashboard/payments/{dash['paid'][0]['paymentId']}")
    assert response.status == 404
    shot(page, "cross_merchant_404")


def test_the_csv_export_holds_the_filtered_rows(page: Any, dash: dict[str, Any], tmp_path: Path) -> None:
    sign_in(page, dash)
    page.goto(f"{dash['url']}/dashboard/payments")
    page.fill("#f-min", "40000")
    page.click("#apply-filters")
    shown = page.locator("#payments-table tbody tr").count()
    with page.expect_download() as info:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(rows) == shown and rows and all(int(r["amount"]) >= 40_000 for r in rows)


def test_webhooks_keys_and_settings_actions(page: Any, dash: dict[str, Any]) -> None:
    sign_in(page, dash, lang="en")
    page.goto(f"{dash['url']}/dashboard/webhooks")
    page.fill("#we-url", "http://127.0.0.1:9/gyeol-hook")  # test mode: a loopback address is allowed
    page.click("#create-endpoint")
    assert page.inner_text("#endpoint-secret").startswith("whsec_")
    page.click("#endpoints a")
    page.click("#rotate-secret")
    assert page.inner_text("#endpoint-secret").startswith("whsec_")
    page.click("#toggle-endpoint")
    assert page.inner_text("#endpoint-state").startswith("Disabled")
    page.goto(f"{dash['url']}/dashboard/developers")
    page.click("#create-key")
    secret = page.inner_text("#new-key")
    assert secret.startswith("test_sk_")
    page.goto(f"{dash['url']}/dashboard/settings")
    page.fill("#toss-key", "test_sk_browser_1234")
    page.click("#save-toss")
    assert "1234" in page.inner_text("#toss-last4") and "browser" not in page.content()
    page.goto(f"{dash['url']}/dashboard/audit")
    audit = page.inner_text("#audit")
    for action in ("webhook.created", "webhook.secret_rotated", "webhook.disabled", "key.created", "settings.toss"):
        assert action in audit
    shot(page, "audit_en")


def test_the_api_reference_works_offline(page: Any, dash: dict[str, Any]) -> None:
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((dash["url"], "data:", "blob:")) else None)
    page.goto(dash["url"] + "/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    shot(page, "docs")
    page.goto(dash["url"] + "/redoc")  # leads to /docs
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    assert not outside, outside


@pytest.fixture(scope="module")
def recon(dash: dict[str, Any]) -> dict[str, Any]:
    """A PG Gyeol has no connector to: its report, imported, names a payment Gyeol never booked; its run has that
    one open exception."""
    from datetime import datetime

    from gyeol.core.clock import KST

    today = datetime.now(KST).date().isoformat()
    report = ("transaction_id,order_id,type,amount,fee,vat,net,currency,sold_date,payout_date\n"
              f"van-{secrets.token_hex(4)},elsewhere,payment,5000,125,11,4875,KRW,{today},{today}\n")
    with httpx.Client(base_url=dash["url"], auth=(KEY, ""), timeout=20) as api:
        assert api.post("/api/v1/reconciliation/imports", json={"pg": "van-pg", "csv": report}).status_code == 200
        r = api.post("/api/v1/reconciliation/runs", json={"from": today, "to": today, "pg": "van-pg",
                                                          "source": "import"})
        assert r.status_code == 200, r.text
        [item] = api.get("/api/v1/reconciliation/exceptions", params={"runId": r.json()["runId"]}).json()["items"]
    return {"today": today, "run": r.json()["runId"], "item": item["itemId"]}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_settlements_and_reconciliation_pages_in_each_language(page: Any, dash: dict[str, Any],
                                                               recon: dict[str, Any], lang: str) -> None:
    sign_in(page, dash, lang=lang)
    pages = {"settlements": "/dashboard/settlements", "reconciliation": "/dashboard/reconciliation",
             "reconciliation_run": f"/dashboard/reconciliation/runs/{recon['run']}"}
    for name, path in pages.items():
        page.goto(dash["url"] + path)
        assert page.get_attribute("html", "lang") == lang, path
        assert page.locator("#mode-banner").count() == 1
        assert_accessible(page, f"dashboard {name} ({lang})")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1, f"{path} is wider than a phone"
        shot(page, f"{name}_{lang}")
    assert page.inner_text("#count-unknown_to_gyeol") == "1"
    page.goto(dash["url"] + "/dashboard/settlements")
    assert dash["paid"][0]["paymentId"] in page.inner_text("#settlements-table")


def test_a_run_from_the_page_and_an_exception_resolved(page: Any, dash: dict[str, Any],
                                                        recon: dict[str, Any]) -> None:
    sign_in(page, dash, "admin@gyeol.local", lang="en")
    page.goto(f"{dash['url']}/dashboard/reconciliation")
    page.fill("#run-from", recon["today"])
    page.fill("#run-to", recon["today"])
    page.fill("#run-pg", "sandbox")  # an earlier test gave the merchant a Toss key: its own PG is Toss now
    page.click("#start-run-button")
    page.wait_for_url(re.compile(r"/dashboard/reconciliation/runs/rcn_[0-9a-z]+\?done=1"))
    assert page.inner_text("#run-status") == "Completed" and page.inner_text("#run-pg") == "sandbox"
    page.goto(f"{dash['url']}/dashboard/reconciliation")
    page.fill(f"#note-{recon['item']}", "Not ours: a test row of the other PG.")
    page.click(f"#resolve-{recon['item']}")
    page.wait_for_url(re.compile(r"/dashboard/reconciliation\?done=1"))
    assert recon["item"] not in page.inner_text("main")
    shot(page, "exception_resolved_en")
    with httpx.Client(base_url=dash["url"], auth=(KEY, ""), timeout=20) as api:
        done = api.get("/api/v1/reconciliation/exceptions", params={"runId": recon["run"], "status": "resolved"})
    [item] = done.json()["items"]
    assert item["resolution"]["resolvedBy"] == "admin@gyeol.local"
