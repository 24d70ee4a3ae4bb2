"""The dashboard's pages through HTTP, on SQLite and PostgreSQL: home, the payments list and its filters, keyset
pages and CSV export, a payment's detail and actions."""

from __future__ import annotations

import csv
import io

from conftest import Env
from dashboard import audit_rows, csrf_of, key_of, post_form, staff_browser


async def test_home_shows_todays_and_the_months_totals_in_both_languages(env: Env) -> None:
    await env.paid(39_000)
    await env.paid(1_000)
    r = await env.client.post("/api/v1/payments/intent", json={
        "orderId": "declined-1", "amount": 5_000, "currency": "KRW", "confirm": True,
        "methodOptions": {"token": "tok_chargeDeclined"}})
    assert r.status_code in (200, 402), r.text
    c = await staff_browser(env)
    ko = await c.get("/dashboard")
    assert ko.status_code == 200 and '<html lang="ko">' in ko.text and "₩40,000" in ko.text
    assert "<svg" in ko.text and "오늘" in ko.text
    en = await c.get("/dashboard", params={"lang": "en"})
    assert '<html lang="en">' in en.text and "Today" in en.text and "₩40,000" in en.text
    assert "66.7%" in en.text  # two of the three card payments that reached an outcome succeeded
    assert '<html lang="en">' in (await c.get("/dashboard/payments")).text  # the choice is remembered


async def test_the_payments_list_filters_pages_by_keyset_and_exports_exactly_the_filter(env: Env) -> None:
    made = [await env.paid(1_000 * (i + 1), orderId=f"order-{i}") for i in range(7)]
    await env.intent(2_500, orderId="unpaid-1")
    c = await staff_browser(env)
    params = {"status": "succeeded", "min": "2000", "max": "6000"}
    expected = [m["paymentId"] for m in reversed(made) if 2_000 <= m["amount"] <= 6_000]
    assert len(expected) == 5
    page = await c.get("/dashboard/payments", params=params)
    shown = [pid for pid in (m["paymentId"] for m in made) if pid in page.text]
    assert sorted(shown) == sorted(expected) and "unpaid-1" not in page.text
    assert page.text.index(expected[0]) < page.text.index(expected[-1])  # newest first

    # Keyset pages of 2 (the page size is the core's; ask the core directly for a small one).
    from gyeol.core.dashboard.payments import PaymentFilter
    from gyeol.core.staff.records import Session  # noqa: F401

    svc = env.svc
    caller = (await svc.signin.session(c.cookies.get("gyeol_session"))).caller  # type: ignore[union-attr]
    f = PaymentFilter(status="succeeded", amount_min=2_000, amount_max=6_000)
    seen, cursor = [], None
    while True:
        items, cursor = await svc.dashboard.search.page(caller, f, cursor, size=2)
        seen += [p.id for p in items]
        if cursor is None:
            break
    assert seen == expected

    export = await c.get("/dashboard/payments.csv", params=params)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["paymentId"] for r in rows] == expected
    assert all(r["status"] == "succeeded" and 2_000 <= int(r["amount"]) <= 6_000 for r in rows)

    search = await c.get("/dashboard/payments", params={"q": "order-3"})
    assert made[3]["paymentId"] in search.text and made[2]["paymentId"] not in search.text
    bad = await c.get("/dashboard/payments", params={"min": "lots"})
    assert bad.status_code == 400


async def test_a_payments_detail_shows_its_amounts_card_and_timeline(env: Env) -> None:
    paid = await env.paid(39_000)
    c = await staff_browser(env)
    r = await c.get(f"/dashboard/payments/{paid['paymentId']}", params={"lang": "en"})
    assert r.status_code == 200
    assert "₩39,000" in r.text and "····4242" in r.text and paid["orderId"] in r.text
    assert 'class="step-attempt"' in r.text and 'class="step-event"' in r.text
    assert (await c.get("/dashboard/payments/pay_nope")).status_code == 404


async def test_capture_and_cancel_go_through_the_core_after_a_confirmation(env: Env) -> None:
    held = await env.intent(20_000, confirm=True, capture=False, methodOptions={"token": "tok_visa"})
    assert held["status"] == "authorized", held
    c = await staff_browser(env, "admin")
    detail = await c.get(f"/dashboard/payments/{held['paymentId']}")
    token = csrf_of(detail.text)
    confirm = await post_form(c, f"/dashboard/payments/{held['paymentId']}/capture/confirm", csrf=token)
    assert confirm.status_code == 200
    done = await post_form(c, f"/dashboard/payments/{held['paymentId']}/capture", csrf=token,
                           key=key_of(confirm.text), amount="", reason="")
    assert done.status_code == 303
    assert (await env.client.get(f"/api/v1/payments/{held['paymentId']}")).json()["status"] == "captured"
    confirm = await post_form(c, f"/dashboard/payments/{held['paymentId']}/cancel/confirm", csrf=token)
    done = await post_form(c, f"/dashboard/payments/{held['paymentId']}/cancel", csrf=token,
                           key=key_of(confirm.text), amount="", reason="customer asked")
    assert done.status_code == 303
    assert (await env.client.get(f"/api/v1/payments/{held['paymentId']}")).json()["status"] == "canceled"
    # A refund beyond what is left is refused on the detail page, and changes nothing.
    confirm = await post_form(c, f"/dashboard/payments/{held['paymentId']}/refund/confirm", csrf=token,
                              amount="1000")
    refused = await post_form(c, f"/dashboard/payments/{held['paymentId']}/refund", csrf=token,
                              key=key_of(confirm.text), amount="1000", reason="")
    assert "problem=" in refused.headers["location"]


async def test_resending_every_failed_delivery_sends_each_given_up_event_again_once(env: Env) -> None:
    """As resending one does: a new delivery per event whose deliveries to the endpoint all gave up, the dead ones
    kept in the log as they were; asked for twice, each event is sent once."""
    from gyeol.core.webhooks.delivery import SCHEDULE
    from receiver import Receiver
    from test_webhooks import endpoint, pump

    env.svc.dispatcher.retry_scale = 0.0
    answer = [500]
    async with Receiver(answer=lambda _: answer[0]) as rx:
        ep = (await endpoint(env, rx.url, ["payment.completed"]))["endpointId"]
        paid = [await env.paid(amount) for amount in (1_000, 2_000)]
        for _ in range(len(SCHEDULE) + 3):
            await pump(env, 1)
        log = f"/api/v1/webhook-endpoints/{ep}/deliveries"
        dead = (await env.client.get(log)).json()["items"]
        assert [d["status"] for d in dead] == ["dead", "dead"] and len(rx.calls) == 2 * len(SCHEDULE)
        answer[0] = 200
        c = await staff_browser(env, "admin")
        token = csrf_of((await c.get(f"/dashboard/webhooks/{ep}")).text)
        for _ in range(2):
            r = await post_form(c, f"/dashboard/webhooks/{ep}/resend-failed", csrf=token)
            assert r.status_code == 303 and r.headers["location"].endswith("done=1")
        items = (await env.client.get(log)).json()["items"]
        assert len(items) == 4
        assert {(d["deliveryId"], d["status"], d["attempts"]) for d in items if d["status"] == "dead"} == {
            (d["deliveryId"], "dead", len(SCHEDULE)) for d in dead}
        again = [d for d in items if d["status"] != "dead"]
        assert sorted(d["eventId"] for d in again) == sorted(d["eventId"] for d in dead)
        assert all(d["status"] == "pending" and d["attempts"] == 0 for d in again)
        await pump(env)
        items = (await env.client.get(log)).json()["items"]
        assert sorted(d["status"] for d in items) == ["dead", "dead", "succeeded", "succeeded"]
        delivered = [call for call in rx.calls if call.status == 200]
        assert sorted(call.headers["webhook-id"] for call in delivered) == sorted(d["eventId"] for d in dead)
        bodies = b"".join(call.body for call in delivered).decode()
        assert all(p["paymentId"] in bodies for p in paid)
    entries = await audit_rows(c, "webhook.resent_failed")
    assert [(e["target"], e["details"].split()[0]) for e in entries] == [(ep, "count=2")]  # the second sent none
