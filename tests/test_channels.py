"""A payment keeps the API it was created through, in the core's terms (`Channel`), whichever face took it: the core
decides by it how the payment is charged (Toss's payment API: at the merchant's confirm)."""

from __future__ import annotations

import sqlalchemy as sa

from conftest import Env
from gyeol.core.payments.records import Channel
from gyeol.models import payments
from test_shop import confirm_body, order, pg_window
from test_shopping import pay, shop  # noqa: F401  (the fixture)


async def _channel(env: Env, payment: str) -> str:
    """The stored channel of the payment with this id or payment number."""
    q = sa.select(payments.c.channel).where(sa.or_(payments.c.id == payment, payments.c.payment_number == payment))
    async with env.svc.db.read() as conn:
        return str((await conn.execute(q)).scalar_one())


async def test_each_api_names_its_payments_channel(shop: Env) -> None:  # noqa: F811
    env = shop
    native = (await env.paid(orderId="o-native"))["paymentId"]
    r = await env.client.post("/v1/payments", json={"paymentKey": "pk-kiosk", "orderId": "o-kiosk", "amount": 500})
    assert r.status_code == 200, r.text
    kiosk = r.json()["paymentId"]
    await order(env)
    await pg_window(env)
    r = await env.client.post("/api/payments/confirm", json=confirm_body())
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    toss_confirm = r.json()["paymentId"]
    shopping = (await pay(env))["paymentNumber"]
    assert [await _channel(env, p) for p in (native, kiosk, toss_confirm, shopping)] == [
        Channel.API, Channel.TOSS_PAYMENT, Channel.TOSS_CONFIRM, Channel.SHOPPING]
    assert [c.value for c in Channel] == ["api", "toss_payment", "toss_confirm", "shopping"]
