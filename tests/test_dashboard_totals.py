"""The home page's daily totals, kept in the transaction of each payment and refund change, through HTTP on SQLite
and PostgreSQL: after every kind of change, over two days, they are what adding up the payments and refunds
themselves gives, and the home page shows them; another mode's and another merchant's stay apart."""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from conftest import Env
from dashboard import page_csrf, post_form, staff_browser
from gyeol.core.clock import KST
from gyeol.models import daily_totals, payments, refunds

Key = tuple[Any, ...]
FIELDS = ("payments", "succeeded", "failed", "volume", "refunded")
_ROW = re.compile(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td class=\"num\">([^<]*)</td><td class=\"num\">(\d+)</td>"
                  r"<td class=\"num\">([^<]*)</td><td class=\"num\">([^<]*)</td></tr>")


async def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def workload(env: Env) -> None:
    """Every kind of change a payment's figures go through, over two Korean days: paid, declined and retried,
    confirmed later with its method, authorized then captured in part or voided, refunded in part, in full and by a
    cancel on the next day, left to expire; and payments of another mode and of another merchant."""
    api = env.client
    paid = [await env.paid(amount) for amount in (10_000, 20_000, 5_000)]
    declined = [(await env.intent(amount))["paymentId"] for amount in (7_000, 8_000)]
    for pid in declined:
        r = await api.post(f"/api/v1/payments/{pid}/confirm", json={"token": "tok_chargeDeclined"})
        assert r.status_code == 402, r.text
    await _ok(await api.post(f"/api/v1/payments/{declined[1]}/confirm", json={"token": "tok_visa"}))
    await env.intent(9_000)  # never confirmed: it expires
    later = await env.intent(11_000)
    await _ok(await api.post(f"/api/v1/payments/{later['paymentId']}/confirm", json={"token": "tok_mastercard"}))
    held = [await env.intent(amount, confirm=True, capture=False, methodOptions={"token": "tok_visa"})
            for amount in (12_000, 13_000)]
    await _ok(await api.post(f"/api/v1/payments/{held[1]['paymentId']}/cancel", json={}))
    await _ok(await api.post("/api/v1/refunds", json={"paymentId": paid[1]["paymentId"]}))
    kiosk = env.client_for(Authorization="Basic " + base64.b64encode(f"{env.key}:".encode()).decode())
    await _ok(await kiosk.post("/v1/payments", json={"paymentKey": "pk_totals", "orderId": "o-kiosk",
                                                      "amount": 4_000}))
    _, live_key = await env.svc.merchants.create_key(env.merchant_id, "live")
    live = env.client_for(live_key)
    await _ok(await live.post("/api/v1/payments/intent", json={"orderId": "o-live", "amount": 6_000,
                                                               "currency": "KRW"}))
    other, _, _ = await env.new_merchant("globex")
    await _ok(await other.post("/api/v1/payments/intent", json={
        "orderId": "o-globex", "amount": 30_000, "currency": "KRW", "confirm": True,
        "methodOptions": {"token": "tok_visa"}}))

    env.svc.clock.advance(timedelta(days=1))
    await env.paid(15_000)
    await _ok(await api.post(f"/api/v1/payments/{held[0]['paymentId']}/capture", json={"amount": 6_000}))
    await _ok(await api.post("/api/v1/refunds", json={"paymentId": paid[0]["paymentId"], "amount": 3_000}))
    await _ok(await api.post(f"/api/v1/payments/{paid[2]['paymentId']}/cancel", json={}))
    assert len(await env.svc.payments.expire_due()) >= 2  # the unconfirmed intent and the declined one


async def kept(env: Env) -> dict[Key, tuple[int, ...]]:
    """The daily totals as kept, their slots added up, rows of nothing left out."""
    found: dict[Key, list[int]] = defaultdict(lambda: [0] * len(FIELDS))
    async with env.svc.db.read() as conn:
        for r in (await conn.execute(sa.select(daily_totals))).mappings():
            key = (r["merchant_id"], r["livemode"], r["day"], r["method"], r["channel"], r["currency"])
            found[key] = [a + int(r[f]) for a, f in zip(found[key], FIELDS, strict=True)]
    return {k: tuple(v) for k, v in found.items() if any(v)}


async def summed(env: Env) -> dict[Key, tuple[int, ...]]:
    """The same figures added up from the payments and refunds themselves: a payment on its Korean creation day,
    succeeded when it holds an authorization, failed when it is failed, its captured amount; a refund that went
    through on its own day."""
    found: dict[Key, list[int]] = defaultdict(lambda: [0] * len(FIELDS))
    async with env.svc.db.read() as conn:
        all_payments = {r["id"]: r for r in (await conn.execute(sa.select(payments))).mappings()}
        done = (await conn.execute(sa.select(refunds).where(refunds.c.status == "succeeded"))).mappings().all()

    def key(p: Any, at: Any) -> Key:
        return (p["merchant_id"], p["livemode"], at.astimezone(KST).date(), p["method_type"] or "", p["channel"],
                p["currency"])

    for p in all_payments.values():
        ok = p["authorized_amount"] > 0
        add = (1, int(ok), int(p["status"] == "failed" and not ok), p["captured_amount"], 0)
        k = key(p, p["created_at"])
        found[k] = [a + b for a, b in zip(found[k], add, strict=True)]
    for r in done:
        k = key(all_payments[r["payment_id"]], r["created_at"])
        found[k][4] += r["amount"]
    return {k: tuple(v) for k, v in found.items() if any(v)}


def _won(text: str) -> int:
    return int(text.replace("₩", "").replace(",", ""))


async def test_the_totals_are_what_the_payments_add_up_to_after_every_kind_of_change(env: Env) -> None:
    await workload(env)
    expected = await summed(env)
    assert await kept(env) == expected
    days = {k[2] for k in expected if k[0] == env.merchant_id and not k[1]}
    assert len(days) == 2 and {k[3] for k in expected} >= {"", "card"} and {k[4] for k in expected} >= {
        "api", "toss_payment"}  # the workload covers what it says

    c = await staff_browser(env)  # opens on live data: the merchant has a live key
    await post_form(c, "/dashboard/mode", csrf=await page_csrf(c), live="0")
    home = await c.get("/dashboard", params={"lang": "en"})
    assert home.status_code == 200
    today = max(days)
    for table, included in (("month", days), ("today", {today})):
        html = home.text.split(f'<table id="{table}">')[1].split("</table>")[0]
        shown = {(m, cur): (_won(volume), int(count), rate, _won(refunded))
                 for m, cur, volume, count, rate, refunded in _ROW.findall(html)}
        want: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(FIELDS))
        for k, v in expected.items():
            if k[0] == env.merchant_id and not k[1] and k[2] in included:
                w = want[(k[3] or "unknown", k[5])]
                want[(k[3] or "unknown", k[5])] = [a + b for a, b in zip(w, v, strict=True)]
        assert set(shown) == set(want), (table, shown, want)
        for m, (n, succeeded, failed, volume, refunded) in want.items():
            rate = f"{succeeded / (succeeded + failed) * 100:.1f}%" if succeeded + failed else "–"
            assert shown[m] == (volume, n, rate, refunded), (table, m, shown[m])
