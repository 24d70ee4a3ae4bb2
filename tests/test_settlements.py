"""Settlements: one per approval, a negative adjustment per cancel or refund, fees and payout days as configured."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import Env
from gyeol.core.money import apply_rate
from gyeol.core.settlements.service import KST, add_business_days, fee_for


@given(st.integers(0, 2**53), st.integers(0, 10_000), st.integers(0, 10_000))
def test_fee_is_rate_plus_fixed_rounded_half_up(amount: int, bps: int, fixed: int) -> None:
    fee = apply_rate(amount, bps, fixed)
    exact_times_10000 = amount * bps
    floor, rem = divmod(exact_times_10000, 10_000)
    assert fee - fixed == floor + (1 if rem * 2 >= 10_000 else 0)
    assert isinstance(fee, int)


@given(st.integers(1, 10**12), st.integers(0, 1000), st.integers(0, 5000))
def test_net_never_exceeds_gross_and_configured_fee_wins(amount: int, bps: int, fixed: int) -> None:
    fee = fee_for({"fees": {"card": {"bps": bps, "fixed": fixed}}}, "card", amount)
    assert fee == apply_rate(amount, bps, fixed)
    assert fee_for({}, "card", amount) == apply_rate(amount, 250, 0)


@given(st.dates(date(2020, 1, 1), date(2035, 12, 31)), st.integers(0, 30))
def test_payout_is_n_business_days_later(start: date, days: int) -> None:
    end = add_business_days(start, days)
    assert end.weekday() < 5 or days == 0
    between = [start + timedelta(d) for d in range(1, (end - start).days + 1)]
    assert sum(1 for d in between if d.weekday() < 5) == days


def test_friday_plus_two_is_tuesday() -> None:
    assert add_business_days(date(2026, 11, 27), 2) == date(2026, 12, 1)


async def test_each_approval_and_refund_is_booked(env: Env) -> None:
    await env.svc.merchants.update_settings(env.merchant_id, {"fees": {"card": {"bps": 330, "fixed": 100}},
                                                              "payoutDays": 3})
    pay = await env.paid(10_001)
    r = await env.client.get("/api/v1/settlements")
    items = r.json()["items"]
    assert len(items) == 1
    s = items[0]
    fee = 330 + 100  # 10,001 * 3.3 % = 330.033 -> 330, plus 100
    assert (s["kind"], s["grossAmount"], s["feeAmount"], s["netAmount"], s["currency"], s["status"]) == (
        "payment", 10_001, fee, 10_001 - fee, "KRW", "scheduled")
    today = datetime.now(UTC).astimezone(KST).date()
    assert s["payoutDate"] == add_business_days(today, 3).isoformat()
    assert (s["paymentId"], s["orderId"]) == (pay["paymentId"], pay["orderId"])
    await env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"], "amount": 5000})
    items = (await env.client.get("/api/v1/settlements")).json()["items"]
    adj = items[1]
    assert (adj["kind"], adj["grossAmount"], adj["feeAmount"], adj["netAmount"]) == ("adjustment", -5000, -165,
                                                                                     -4835)
    got = (await env.client.get(f"/api/v1/settlements/{adj['settlementId']}")).json()
    assert got == adj
    assert (await env.client.get("/api/v1/settlements/stl_nope")).status_code == 404
    other, _, _ = await env.new_merchant("other")
    assert (await other.get(f"/api/v1/settlements/{adj['settlementId']}")).status_code == 404
    assert (await other.get("/api/v1/settlements")).json()["total"] == 0


async def test_filters_csv_and_payout(env: Env) -> None:
    await env.paid(1000)
    await env.paid(2000)
    r = await env.client.get("/api/v1/settlements", params={"status": "paid"})
    assert r.json()["total"] == 0
    far = (date.today() + timedelta(days=30)).isoformat()
    assert (await env.client.get("/api/v1/settlements", params={"from": far})).json()["total"] == 0
    assert (await env.client.get("/api/v1/settlements", params={"to": far, "size": 1})).json()["total"] == 2
    assert (await env.client.get("/api/v1/settlements", params={"status": "bogus"})).status_code == 400
    r = await env.client.get("/api/v1/settlements.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(int(x["grossAmount"]) for x in rows) == [1000, 2000]
    env.svc.clock.advance(timedelta(days=7))
    assert await env.svc.settlements.mark_paid() == 2
    assert (await env.client.get("/api/v1/settlements", params={"status": "paid"})).json()["total"] == 2


async def test_cancel_of_a_taken_payment_books_a_full_adjustment(env: Env) -> None:
    pay = await env.paid(3000)
    await env.client.post(f"/api/v1/payments/{pay['paymentId']}/cancel")
    items = (await env.client.get("/api/v1/settlements")).json()["items"]
    assert sum(i["grossAmount"] for i in items) == 0
    assert sum(i["netAmount"] for i in items) == 0  # 2.5 % of 3,000 = 75, returned in full: no fixed part


async def test_booking_a_source_again_fails_its_transaction_and_writes_nothing(env: Env) -> None:
    from sqlalchemy import func, select

    from gyeol.core.payments import repository as payments_repo
    from gyeol.core.settlements import repository as settlements_repo
    from gyeol.core.settlements import service as settlements
    from gyeol.models import outbox_events
    from gyeol.models import settlements as table

    pay = await env.paid(7_000)
    counts = select(select(func.count()).select_from(table).scalar_subquery(),
                    select(func.count()).select_from(outbox_events).scalar_subquery())
    async with env.svc.db.read() as conn:
        before = (await conn.execute(counts)).one()
    with pytest.raises(settlements_repo.AlreadyBooked):
        async with env.svc.db.tx() as conn:
            p = await payments_repo.get_any(conn, pay["paymentId"])
            assert p is not None
            await payments_repo.update(conn, p, datetime.now(UTC), description="booked twice")
            await settlements.book(conn, p, source_id=p.id, amount=1, now=datetime.now(UTC))
    async with env.svc.db.read() as conn:
        assert (await conn.execute(counts)).one() == before
    got = (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()
    assert got["description"] != "booked twice"
    items = (await env.client.get("/api/v1/settlements")).json()["items"]
    assert [i["grossAmount"] for i in items] == [7_000]
