"""The dashboard's sign-in, sessions, CSRF, throttle and roles, through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyotp

from conftest import Env, make_env
from dashboard import PASSWORD, browser, csrf_of, key_of, page_csrf, post_form, sign_in, staff_browser


async def test_sign_in_opens_a_server_side_session_in_a_safe_cookie_rotated_each_time(env: Env) -> None:
    await env.svc.staff.create(env.merchant_id, "owner@acme.example", "owner", PASSWORD)
    c = browser(env)
    assert (await c.get("/dashboard")).headers["location"] == "/dashboard/login"
    r = await sign_in(c, "Owner@Acme.example")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    cookie = r.headers["set-cookie"]
    assert "gyeol_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Path=/dashboard" in cookie and "Secure" not in cookie  # http://testserver
    first = c.cookies.get("gyeol_session")
    home = await c.get("/dashboard")
    assert home.status_code == 200 and "owner@acme.example" in home.text

    again = await sign_in(c, "owner@acme.example")
    assert again.status_code == 303
    second = c.cookies.get("gyeol_session")
    assert second and second != first
    stale = browser(env)
    stale.cookies.set("gyeol_session", first or "", path="/dashboard")
    assert (await stale.get("/dashboard")).status_code == 303  # the id before sign-in no longer works

    assert (await post_form(c, "/dashboard/logout", csrf=csrf_of(home.text))).status_code == 403  # the old session's
    out = await post_form(c, "/dashboard/logout", csrf=await page_csrf(c))
    assert out.status_code == 303 and out.headers["location"].startswith("/dashboard/login")
    replay = browser(env)
    replay.cookies.set("gyeol_session", second or "", path="/dashboard")
    assert (await replay.get("/dashboard")).status_code == 303  # sign-out ended it in the database


async def test_a_session_ends_after_twelve_idle_hours(env: Env) -> None:
    c = await staff_browser(env)
    env.svc.clock.advance(timedelta(hours=11, minutes=59))
    assert (await c.get("/dashboard")).status_code == 200
    env.svc.clock.advance(timedelta(hours=11, minutes=59))
    assert (await c.get("/dashboard")).status_code == 200  # used meanwhile: still alive
    env.svc.clock.advance(timedelta(hours=12, seconds=1))
    r = await c.get("/dashboard")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/login"


async def test_pages_forbid_framing_and_inline_code(env: Env) -> None:
    c = await staff_browser(env)
    for path in ("/dashboard/login", "/dashboard", "/dashboard/payments"):
        r = await c.get(path)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert "<script" not in r.text and " style=" not in r.text, path


async def test_five_failures_lock_the_account_without_saying_whether_it_exists(env: Env) -> None:
    await env.svc.staff.create(env.merchant_id, "owner@acme.example", "owner", PASSWORD)
    said = []
    for email in ("owner@acme.example", "nobody@acme.example"):
        c = browser(env, **{"X-Forwarded-For": f"203.0.113.{len(email)}"})
        for _ in range(4):
            r = await sign_in(c, email, "wrong password!")
            assert r.status_code == 401 and "gyeol_session" not in r.headers.get("set-cookie", "")
        locked = await sign_in(c, email, "wrong password!")
        assert locked.status_code == 429 and locked.url.path == "/dashboard/login"
        said.append(locked.text.split('id="problem">')[1].split("<")[0])
        # The address is locked too (X-Forwarded-For is not believed without a trusted proxy).
        right = await sign_in(c, "owner@acme.example")
        assert right.status_code == 429 and "gyeol_session" not in right.headers.get("set-cookie", "")
        env.svc.clock.advance(timedelta(minutes=15, seconds=1))
    assert said[0] == said[1] and "15" in said[0]  # the same words, whether the account exists or not
    assert (await sign_in(browser(env), "owner@acme.example")).status_code == 303
    entries, _ = await env.svc.audit.page(env.merchant_id, _filter("signin.locked"))
    assert len(entries) == 1 and entries[0].staff_email == "owner@acme.example"


def _filter(action: str):  # type: ignore[no-untyped-def]
    from gyeol.core.staff.audit import AuditFilter

    return AuditFilter(action=action)


async def test_the_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(db_url: str,
                                                                                  tmp_path: Path) -> None:
    e = await make_env(db_url, tmp_path, trusted_proxies="127.0.0.1")
    try:
        # Five different accounts, each failing once, from five addresses the proxy names: no address lock.
        for i in range(6):
            c = browser(e, **{"X-Forwarded-For": f"198.51.100.{i}"})
            assert (await sign_in(c, f"user{i}@acme.example", "wrong password!")).status_code == 401
        # From one address, the sixth is locked whatever the account.
        c = browser(e, **{"X-Forwarded-For": "198.51.100.200"})
        codes = [(await sign_in(c, f"other{i}@acme.example", "wrong password!")).status_code for i in range(6)]
        assert codes == [401, 401, 401, 401, 429, 429]
    finally:
        await e.close()


async def test_form_posts_without_the_sessions_csrf_token_change_nothing(env: Env) -> None:
    paid = await env.paid(10_000)
    c = await staff_browser(env)
    token = await page_csrf(c, f"/dashboard/payments/{paid['paymentId']}")
    for fields in ({}, {"csrf": "forged"}, {"csrf": token + "x"}):
        r = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund", key="k1", amount=1000, **fields)
        assert r.status_code == 403, r.text
    login = await browser(env).post("/dashboard/login", data={"email": "owner@acme.example", "password": PASSWORD})
    assert login.status_code == 403 and "gyeol_session" not in login.headers.get("set-cookie", "")
    after = (await env.client.get(f"/api/v1/payments/{paid['paymentId']}")).json()
    assert after["refundedAmount"] == 0


async def test_a_viewer_sees_everything_and_changes_nothing(env: Env) -> None:
    paid = await env.paid(10_000)
    c = await staff_browser(env, "viewer")
    detail = await c.get(f"/dashboard/payments/{paid['paymentId']}")
    assert detail.status_code == 200 and 'id="viewer-note"' in detail.text
    token = csrf_of(detail.text)
    confirm = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund/confirm", csrf=token, amount="")
    assert confirm.status_code == 403
    refund = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund", csrf=token, key="v1",
                             amount=10_000)
    assert refund.status_code == 403
    key = await post_form(c, "/dashboard/developers/keys", csrf=token, mode="test")
    assert key.status_code in (403, 404)
    after = (await env.client.get(f"/api/v1/payments/{paid['paymentId']}")).json()
    assert after["refundedAmount"] == 0 and after["status"] == "succeeded"


async def test_a_double_click_refunds_once(env: Env) -> None:
    paid = await env.paid(10_000)
    c = await staff_browser(env, "admin")
    token = await page_csrf(c, f"/dashboard/payments/{paid['paymentId']}")
    confirm = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund/confirm", csrf=token,
                              amount="3000", reason="damaged")
    assert confirm.status_code == 200 and "₩3,000" in confirm.text
    fields = {"csrf": token, "key": key_of(confirm.text), "amount": "3000", "reason": "damaged"}
    first = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund", **fields)
    second = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund", **fields)
    assert first.status_code == second.status_code == 303
    assert "done=refund" in first.headers["location"] and "done=refund" in second.headers["location"]
    changed = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund", **{**fields, "amount": "4000"})
    assert "problem=IDEMPOTENCY_KEY_REUSED" in changed.headers["location"]  # the key of another form
    after = (await env.client.get(f"/api/v1/payments/{paid['paymentId']}")).json()
    assert after["refundedAmount"] == 3000
    refunds = (await env.client.get("/api/v1/refunds", params={"paymentId": paid["paymentId"]})).json()
    assert len(refunds["items"]) == 1
    detail = await c.get(first.headers["location"])
    assert "₩3,000" in detail.text and 'id="notice"' in detail.text
    entries, _ = await env.svc.audit.page(env.merchant_id, _filter("payment.refund"))
    assert len(entries) == 1 and entries[0].staff_email == "admin@acme.example"


async def test_another_merchants_staff_get_404s(env: Env) -> None:
    paid = await env.paid(10_000)
    _, _, other_id = await env.new_merchant("globex")
    c = await staff_browser(env, "owner", "boss@globex.example", merchant_id=other_id)
    token = await page_csrf(c)
    assert (await c.get(f"/dashboard/payments/{paid['paymentId']}")).status_code == 404
    r = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund/confirm", csrf=token, amount="")
    assert r.status_code == 404
    r = await post_form(c, f"/dashboard/payments/{paid['paymentId']}/refund", csrf=token, key="x", amount="")
    assert r.status_code == 404
    listed = await c.get("/dashboard/payments", params={"q": paid["paymentId"]})
    assert 'id="no-payments"' in listed.text and f'href="/dashboard/payments/{paid["paymentId"]}"' not in listed.text
    after = (await env.client.get(f"/api/v1/payments/{paid['paymentId']}")).json()
    assert after["refundedAmount"] == 0


async def test_two_factor_sign_in_with_a_code_or_a_recovery_code_once(env: Env) -> None:
    c = await staff_browser(env)
    token = await page_csrf(c, "/dashboard/account")
    begun = await post_form(c, "/dashboard/account/totp", csrf=token)
    secret = begun.text.split('id="totp-secret">')[1].split("<")[0]
    wrong = await post_form(c, "/dashboard/account/totp/enable", csrf=token, code="000000")
    assert wrong.status_code == 400
    on = await post_form(c, "/dashboard/account/totp/enable", csrf=token, code=pyotp.TOTP(secret).now())
    assert on.status_code == 200
    codes = on.text.split('id="recovery-codes">')[1].split("</ul>")[0].replace("<li class=\"id\">", "").split("</li>")
    recovery = codes[0].strip()

    b = browser(env)
    r = await sign_in(b, "owner@acme.example")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/login/code"
    assert (await b.get("/dashboard")).status_code == 303  # not signed in before the code
    code_page = await b.get("/dashboard/login/code")
    refused = await post_form(b, "/dashboard/login/code", csrf=csrf_of(code_page.text), code="123456")
    assert refused.status_code == 401
    ok = await post_form(b, "/dashboard/login/code", csrf=csrf_of(code_page.text), code=pyotp.TOTP(secret).now())
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard"
    assert (await b.get("/dashboard")).status_code == 200

    for expected in (303, 401):
        b2 = browser(env)
        await sign_in(b2, "owner@acme.example")
        page = await b2.get("/dashboard/login/code")
        r = await post_form(b2, "/dashboard/login/code", csrf=csrf_of(page.text), code=recovery)
        assert r.status_code == expected  # a recovery code works once


async def test_the_dashboard_opens_on_test_data_until_a_live_key_and_never_mixes(env: Env) -> None:
    test_paid = await env.paid(10_000)
    c = await staff_browser(env)
    home = await c.get("/dashboard/payments")
    assert 'id="mode-banner"' in home.text and "mode test" in home.text and test_paid["paymentId"] in home.text
    view, live_key = await env.svc.merchants.create_key(env.merchant_id, "live")
    c2 = await staff_browser(env, "admin")
    listed = await c2.get("/dashboard/payments")
    assert "mode live" in listed.text and test_paid["paymentId"] not in listed.text
    token = csrf_of(listed.text)
    await post_form(c2, "/dashboard/mode", csrf=token, live="0")
    assert test_paid["paymentId"] in (await c2.get("/dashboard/payments")).text


async def test_every_dashboard_post_refuses_bad_input_and_changes_nothing(env: Env) -> None:
    """Each form route of the dashboard, posted by a signed-in owner with a body that is not its form (none, JSON,
    junk, a bad CSRF token, odd ids), answers 4xx and changes no row; without a session it sends to sign-in."""
    from test_bad_inputs import counts

    paid = await env.paid(10_000)
    owner = await staff_browser(env)
    token = await page_csrf(owner)
    routes = sorted(r.path for r in env.app.routes if "POST" in (getattr(r, "methods", None) or ())
                    and r.path.startswith("/dashboard/") and not r.path.startswith("/dashboard/login"))
    assert len(routes) >= 15
    ids = {"payment_id": paid["paymentId"], "action": "refund", "endpoint_id": "we_x\u202e", "delivery_id": "dlv_x",
           "key_id": "key_nope", "part": "fees", "staff_id": "stf_nope", "item_id": "rci_nope"}
    bodies = [{"content": b""}, {"json": {"csrf": token}}, {"content": b"\xff\xfe", "headers": {
        "content-type": "application/x-www-form-urlencoded"}}, {"data": {"csrf": "forged", "amount": "10000"}},
              {"data": {"csrf": token + "\x00", "email": "x"}}]
    for route in routes:
        path = route.format(**ids)
        for body in bodies:
            before = await counts(env)
            r = await owner.post(path, **body)  # type: ignore[arg-type]
            assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("text/html"), \
                (route, body, r.status_code)
            assert await counts(env) == before, (route, body)
        anonymous = await browser(env).post(path, data={"csrf": token})
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/dashboard/login", route


async def test_gyeol_staff_manages_accounts_from_the_command_line(env: Env, db_url: str, tmp_path: Path) -> None:
    import subprocess

    import orjson

    from procs import GYEOL, gyeol_env

    cli_env = gyeol_env(db_url, env.settings.var_dir)

    def gyeol(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([GYEOL, "staff", *args], env=cli_env, input=stdin, capture_output=True, text=True,
                              timeout=120)

    made = gyeol("create", "--merchant", "acme", "--email", "Ops@Acme.example", "--role", "admin",
                 "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert orjson.loads(made.stdout)["email"] == "ops@acme.example" and PASSWORD not in made.stdout
    assert (await sign_in(browser(env), "ops@acme.example")).status_code == 303  # the newline was not the password's
    again = gyeol("create", "--merchant", "acme", "--email", "ops@acme.example", "--role", "viewer",
                  "--password-stdin", stdin=PASSWORD)
    assert again.returncode != 0 and "exists" in again.stderr
    weak = gyeol("create", "--merchant", "acme", "--email", "x@acme.example", "--role", "viewer",
                 "--password-stdin", stdin="short")
    assert weak.returncode != 0
    signed = await staff_browser(env, "owner")
    assert gyeol("set-password", "--email", "ops@acme.example", "--password-stdin",
                 stdin="another long password").returncode == 0
    assert (await sign_in(browser(env), "ops@acme.example")).status_code == 401
    assert (await sign_in(browser(env), "ops@acme.example", "another long password")).status_code == 303
    assert gyeol("disable", "--email", "owner@acme.example").returncode == 0
    assert (await signed.get("/dashboard")).status_code == 303  # its session ended
    listed = orjson.loads(gyeol("list", "--merchant", "acme").stdout)
    assert {(s["email"], s["role"], s["disabled"]) for s in listed} == {
        ("ops@acme.example", "admin", False), ("owner@acme.example", "owner", True)}
