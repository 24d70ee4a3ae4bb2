"""Bad input gets a clear 4xx in the native error format and changes nothing: every table's row count stays."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from conftest import Env
from gyeol.models import metadata

CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2040, "cvc": "123"}
INTENT = {"orderId": "bad-1", "amount": 1000, "currency": "KRW"}
P = "{pid}"  # replaced by a real created payment's id
J = "application/json"

# (method, path, body (dict → JSON, bytes → raw), extra headers, expected status)
CASES: list[tuple[str, str, Any, dict[str, str], int]] = [
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": "1000"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": 1000.0}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": 10.5}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": 0}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": -5}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": 2**53 + 1}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": True}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "amount": None}, {}, 400),
    ("POST", "/api/v1/payments/intent", {"orderId": "bad-1", "currency": "KRW"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "orderId": ""}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "orderId": "x" * 65}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "orderId": "has space"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "orderId": "semi;colon"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "currency": "WON"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "currency": "KRWX"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "capture": "yes"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "returnUrl": "javascript:alert(1)"}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "unknownField": 1}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "confirm": True}, {}, 400),
    ("POST", "/api/v1/payments/intent", {**INTENT, "confirm": True, "methodOptions": {"token": "tok_nope"}}, {},
     400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"token": "tok_visa", "card": CARD}}, {}, 400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"card": {**CARD, "number": "4242"}}}, {}, 400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"card": {**CARD, "number": "4242x24242424242"}}}, {}, 400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"card": {**CARD, "expMonth": 13}}}, {}, 400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"card": {**CARD, "expYear": 2001}}}, {}, 400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"card": {**CARD, "cvc": "12"}}}, {}, 400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"card": {**CARD, "cvc": 123}}}, {}, 400),
    ("POST", "/api/v1/payments/intent",
     {**INTENT, "confirm": True, "methodOptions": {"paymentMethodId": "pm_nope"}}, {}, 404),
    ("POST", "/api/v1/payments/intent", b"{not json", {"content-type": J}, 400),
    ("POST", "/api/v1/payments/intent", b"[]", {"content-type": J}, 400),
    ("POST", "/api/v1/payments/intent", b"orderId=x&amount=1", {"content-type": "application/x-www-form-urlencoded"},
     415),
    ("POST", "/api/v1/payments/intent", b'{"a":"' + b"x" * (1024 * 1024 + 10) + b'"}', {"content-type": J}, 413),
    ("POST", "/api/v1/payments/intent", INTENT, {"Idempotency-Key": "x" * 256}, 400),
    ("POST", "/api/v1/payments/intent", INTENT, {"Idempotency-Key": "bad\tkey"}, 400),
    ("POST", f"/api/v1/payments/{P}/confirm", {}, {}, 400),
    ("POST", f"/api/v1/payments/{P}/confirm", {"token": 5}, {}, 400),
    ("POST", f"/api/v1/payments/{P}/confirm", {"card": {"number": "4242424242424242"}}, {}, 400),
    ("POST", "/api/v1/payments/pay_missing/confirm", {"token": "tok_visa"}, {}, 404),
    ("POST", f"/api/v1/payments/{P}/capture", {"amount": 100}, {}, 409),
    ("POST", f"/api/v1/payments/{P}/capture", {"amount": "100"}, {}, 400),
    ("POST", f"/api/v1/payments/{P}/cancel", {"reason": 7}, {}, 400),
    ("POST", "/api/v1/refunds", {"paymentId": P, "amount": 100}, {}, 409),
    ("POST", "/api/v1/refunds", {"paymentId": P, "amount": -1}, {}, 400),
    ("POST", "/api/v1/refunds", {"paymentId": P, "amount": 1.5}, {}, 400),
    ("POST", "/api/v1/refunds", {"amount": 100}, {}, 400),
    ("POST", "/api/v1/refunds", {"paymentId": "pay_missing"}, {}, 404),
    ("POST", "/api/v1/orders", {"orderId": "o", "amount": "5", "currency": "KRW"}, {}, 400),
    ("POST", "/api/v1/orders",
     {"orderId": "o", "amount": 100, "currency": "KRW", "items": [{"name": "a", "amount": 99}]}, {}, 400),
    ("POST", "/api/v1/orders", {"orderId": "o/../x", "amount": 100, "currency": "KRW"}, {}, 400),
    ("POST", "/api/v1/orders", {"orderId": "o", "amount": 100, "currency": "ABC"}, {}, 400),
    ("POST", "/api/v1/customers/cus_1/payment-methods", {"token": ""}, {}, 400),
    ("POST", "/api/v1/customers/cus_1/payment-methods", {"token": "tok_visa", "type": "bank"}, {}, 400),
    ("POST", "/api/v1/customers/cus_1/payment-methods", {"token": "tok_unknown"}, {}, 400),
    ("POST", "/api/v1/customers/bad%20id/payment-methods", {"token": "tok_visa"}, {}, 400),
    ("POST", "/api/v1/sandbox/tokens", {"card": {**CARD, "number": "1234"}}, {}, 400),
    ("POST", "/api/v1/sandbox/tokens", {"card": {**CARD, "expYear": 2020}}, {}, 400),
    ("POST", "/api/v1/sandbox/tokens", {}, {}, 400),
    ("POST", f"/api/v1/sandbox/3ds/{P}", {"result": "maybe"}, {}, 400),
    ("POST", f"/api/v1/payments/{P}/confirm", {"token": "tok_visa"}, {"Gyeol-Sandbox-Fault": "explode"}, 400),
    ("GET", "/api/v1/payments?size=1000", None, {}, 400),
    ("GET", "/api/v1/payments?page=-1", None, {}, 400),
    ("POST", "/api/v1/webhooks/payments", {"type": "payment.succeeded", "data": {}}, {}, 400),
    ("GET", "/api/v1/payments", None, {"Authorization": "Bearer test_sk_wrong"}, 401),
    ("POST", "/api/v1/payments/intent", INTENT, {"Authorization": "Basic !!!"}, 401),
    ("DELETE", "/api/v1/payments/pay_x", None, {}, 405),
]


async def counts(env: Env) -> dict[str, int]:
    async with env.svc.db.read() as conn:
        return {t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
                for t in metadata.sorted_tables}


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("method,path,body,headers,status", CASES,
                         ids=[f"{i:02d}-{c[0]}-{c[1].split('/')[-1][:20]}" for i, c in enumerate(CASES)])
async def test_bad_input_changes_nothing(env: Env, method: str, path: str, body: Any, headers: dict[str, str],
                                         status: int) -> None:
    pay = await env.intent(5000)
    path = path.replace(P, pay["paymentId"])
    if isinstance(body, dict):
        body = {k: (pay["paymentId"] if v == P else v) for k, v in body.items()}
    before = await counts(env)
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    r = await env.client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert set(e) == {"type", "code", "message", "details"} and e["message"]
    assert "4242424242424242" not in r.text
    assert await counts(env) == before
