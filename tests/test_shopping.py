"""Seed 002 at /api/shopping/payments: envelopes, codes, roles, CARD/BANK/VIRTUAL_ACCOUNT rules, payment numbers."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import Env
from gyeol.core.reconcile import Reconciler
from gyeol.models import outbox_events, payment_accounts
from gyeol.worker import run_once
from users import enable_users, order_for, token, user

SEED_CARD = {"cardNumber": "1234-5678-9012-3456", "expiryDate": "12/28", "cvc": "123"}
NUMBER = re.compile(r"^PAY-\d{8}-\d{3,}$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
async def shop(env: Env) -> Env:
    await enable_users(env)
    return env


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is True and ISO.match(body["timestamp"]), body
    data: dict[str, Any] = body["data"]
    return data


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is False and body["code"] == code, body
    assert set(body) == {"success", "code", "message", "timestamp"} and body["message"], body
    assert re.search(r"[가-힣]", body["message"]), "messages are in Korean, as in the seed"
    return body


async def pay(env: Env, sub: str = "user123", method: str = "CARD", amount: int = 70_000, **extra: Any
              ) -> dict[str, Any]:
    order = await order_for(env, sub, amount)
    body: dict[str, Any] = {"orderNumber": order, "paymentMethod": method, "amount": amount, **extra}
    if method == "CARD" and "cardInfo" not in extra:
        body["cardInfo"] = SEED_CARD
    if method == "BANK" and "bankInfo" not in extra:
        body["bankInfo"] = {"bankCode": "004"}
    return ok(await user(env, sub).post("/api/shopping/payments", json=body))


async def test_seed_example_card_payment(shop: Env) -> None:
    order = await order_for(shop, "user123", 70_000, "ORD-20260118-001")
    r = await user(shop, "user123").post("/api/shopping/payments", json={
        "orderNumber": "ORD-20260118-001", "paymentMethod": "CARD", "amount": 70000, "cardInfo": SEED_CARD})
    data = ok(r)
    assert NUMBER.match(data["paymentNumber"]) and data["paymentNumber"].endswith("-001")
    assert data["orderNumber"] == order and data["userId"] == "user123" and data["paymentMethod"] == "CARD"
    assert data["amount"] == 70000 and data["status"] == "COMPLETED" and data["transactionId"]
    assert ISO.match(data["paidAt"]) and ISO.match(data["createdAt"])
    # the order is PAID in Gyeol, and payment.completed is in the outbox for the order service
    o = (await shop.client.get(f"/api/v1/orders/{order}")).json()
    assert o["status"] == "paid" and o["paidAt"]
    async with shop.svc.db.read() as conn:
        types = [r[0] for r in (await conn.execute(sa.select(outbox_events.c.type))).all()]
    assert types.count("payment.completed") == 1 and "order.paid" in types
    # one charge reached the PG, for the amount
    charges = await shop.charges((await shop.client.get("/api/v1/payments?size=1")).json()["items"][0]["paymentId"])
    assert [(c["kind"], c["status"], c["amount"]) for c in charges] == [("charge", "succeeded", 70000)]

    got = ok(await user(shop, "user123").get(f"/api/shopping/payments/{data['paymentNumber']}"))
    assert got["status"] == "COMPLETED" and ISO.match(got["updatedAt"])
    assert got["transactionId"] == data["transactionId"]


async def test_auth_and_roles(shop: Env) -> None:
    data = await pay(shop)
    n = data["paymentNumber"]
    error(await shop.client_for().get(f"/api/shopping/payments/{n}"), 401, "C001")
    error(await shop.client_for("not-a-token").get(f"/api/shopping/payments/{n}"), 401, "C001")
    error(await shop.client.get(f"/api/shopping/payments/{n}"), 401, "C001")  # a merchant key is not a user
    expired = token(shop, "user123", ttl=-120)
    error(await shop.client_for(expired).get(f"/api/shopping/payments/{n}"), 401, "C001")
    error(await shop.client_for(token(shop, "user123", "GUEST")).get(f"/api/shopping/payments/{n}"), 403, "C002")
    # another user gets 404, never 403; an ADMIN sees it
    error(await user(shop, "someone-else").get(f"/api/shopping/payments/{n}"), 404, "S009")
    assert ok(await user(shop, "boss", "ADMIN").get(f"/api/shopping/payments/{n}"))["paymentNumber"] == n
    # refund is ADMIN only
    error(await user(shop, "user123").post(f"/api/shopping/payments/{n}/refund"), 403, "C002")
    error(await user(shop, "someone-else").post(f"/api/shopping/payments/{n}/cancel"), 404, "S009")
    assert ok(await user(shop, "user123").get(f"/api/shopping/payments/{n}"))["status"] == "COMPLETED"


async def test_cancel_and_refund(shop: Env) -> None:
    a = await pay(shop)
    c = ok(await user(shop, "user123").post(f"/api/shopping/payments/{a['paymentNumber']}/cancel"))
    assert c["status"] == "CANCELLED" and ISO.match(c["cancelledAt"]) and c["amount"] == 70000
    error(await user(shop, "user123").post(f"/api/shopping/payments/{a['paymentNumber']}/cancel"), 400, "S010")
    error(await user(shop, "boss", "ADMIN").post(f"/api/shopping/payments/{a['paymentNumber']}/refund"), 400,
          "S010")

    b = await pay(shop)
    r = ok(await user(shop, "boss", "ADMIN").post(f"/api/shopping/payments/{b['paymentNumber']}/refund"))
    assert r["status"] == "REFUNDED" and ISO.match(r["refundedAt"])
    error(await user(shop, "boss", "ADMIN").post(f"/api/shopping/payments/{b['paymentNumber']}/refund"), 400,
          "S010")
    error(await user(shop, "user123").post(f"/api/shopping/payments/{b['paymentNumber']}/cancel"), 400, "S010")
    kinds = [c["kind"] for p in (await shop.client.get("/api/v1/payments?size=100")).json()["items"]
             for c in await shop.charges(p["paymentId"])]
    assert sorted(kinds) == ["charge", "charge", "refund", "refund"]


async def test_cancel_window_is_seven_days(shop: Env) -> None:
    a = await pay(shop)
    b = await pay(shop)
    shop.svc.clock.advance(timedelta(days=6, hours=23))
    assert ok(await user(shop, "user123").post(f"/api/shopping/payments/{a['paymentNumber']}/cancel"))[
        "status"] == "CANCELLED"
    shop.svc.clock.advance(timedelta(hours=2))
    error(await user(shop, "user123").post(f"/api/shopping/payments/{b['paymentNumber']}/cancel"), 400, "S011")
    assert ok(await user(shop, "user123").get(f"/api/shopping/payments/{b['paymentNumber']}"))["status"] == \
        "COMPLETED"
    # past the window an ADMIN can still refund
    assert ok(await user(shop, "boss", "ADMIN").post(f"/api/shopping/payments/{b['paymentNumber']}/refund"))[
        "status"] == "REFUNDED"


async def test_order_and_amount_errors(shop: Env) -> None:
    u = user(shop, "user123")
    body = {"orderNumber": "ORD-NOPE", "paymentMethod": "CARD", "amount": 70000, "cardInfo": SEED_CARD}
    error(await u.post("/api/shopping/payments", json=body), 404, "S006")
    theirs = await order_for(shop, "someone-else")
    error(await u.post("/api/shopping/payments", json={**body, "orderNumber": theirs}), 404, "S006")
    mine = await order_for(shop, "user123", 70_000)
    error(await u.post("/api/shopping/payments", json={**body, "orderNumber": mine, "amount": 69_000}), 400, "S012")
    error(await u.get("/api/shopping/payments/PAY-20260101-999"), 404, "S009")
    async with shop.svc.db.read() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM payments"))).scalar_one() == 0


async def test_declines_are_s008(shop: Env) -> None:
    for number in ("4000-0000-0000-0002", "4000000000009995", "4000 0000 0000 0119"):
        order = await order_for(shop, "user123")
        r = await user(shop, "user123").post("/api/shopping/payments", json={
            "orderNumber": order, "paymentMethod": "CARD", "amount": 70000,
            "cardInfo": {"cardNumber": number, "expiryDate": "12/30", "cvc": "123"}})
        error(r, 400, "S008")
        o = (await shop.client.get(f"/api/v1/orders/{order}")).json()
        assert o["status"] == "created"


@pytest.mark.parametrize("body, field", [
    ({"cardInfo": {"cardNumber": "1234-5678-9012-345", "expiryDate": "12/28", "cvc": "123"}}, "cardNumber"),
    ({"cardInfo": {"cardNumber": "1234-5678-9012-34567", "expiryDate": "12/28", "cvc": "123"}}, "cardNumber"),
    ({"cardInfo": {"cardNumber": "1234-5678-9012-345a", "expiryDate": "12/28", "cvc": "123"}}, "cardNumber"),
    ({"cardInfo": {"cardNumber": "1234567890123456", "expiryDate": "1228", "cvc": "123"}}, "expiryDate"),
    ({"cardInfo": {"cardNumber": "1234567890123456", "expiryDate": "13/28", "cvc": "123"}}, "expiryDate"),
    ({"cardInfo": {"cardNumber": "1234567890123456", "expiryDate": "01/20", "cvc": "123"}}, "expiryDate"),
    ({"cardInfo": {"cardNumber": "1234567890123456", "expiryDate": "12/28", "cvc": "12"}}, "cvc"),
    ({"cardInfo": {"cardNumber": "1234567890123456", "expiryDate": "12/28", "cvc": "12345"}}, "cvc"),
    ({}, "cardInfo"),
    ({"paymentMethod": "BANK"}, "bankInfo"),
    ({"paymentMethod": "BANK", "bankInfo": {}}, "bankCode"),
    ({"paymentMethod": "CASH"}, "paymentMethod"),
    ({"amount": "70000"}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": 70000.0}, "amount"),
    ({"orderNumber": ""}, "orderNumber"),
    ({"unknown": 1}, "unknown"),
])
async def test_invalid_input_is_c003(shop: Env, body: dict[str, Any], field: str) -> None:
    order = await order_for(shop, "user123")
    payload = {"orderNumber": order, "paymentMethod": "CARD", "amount": 70000, **body}
    r = await user(shop, "user123").post("/api/shopping/payments", json=payload)
    err = error(r, 400, "C003")
    assert "1234567890123456" not in r.text and "1234-5678" not in r.text
    assert field in err["message"] or field in str(r.json()), err
    async with shop.svc.db.read() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM payments"))).scalar_one() == 0


async def test_bank_transfer(shop: Env) -> None:
    data = await pay(shop, method="BANK", bankInfo={"bankCode": "004", "accountNumber": "123-456-789012",
                                                    "holderName": "홍길동"})
    assert data["status"] == "COMPLETED" and data["paymentMethod"] == "BANK" and data["transactionId"]
    assert "123-456-789012" not in str(data)
    error(await user(shop, "user123").post(f"/api/shopping/payments/{data['paymentNumber']}/cancel"), 400, "S013")
    r = ok(await user(shop, "boss", "ADMIN").post(f"/api/shopping/payments/{data['paymentNumber']}/refund"))
    assert r["status"] == "REFUNDED"
    async with shop.svc.db.read() as conn:
        stored = (await conn.execute(sa.select(payment_accounts))).mappings().one()
    assert stored["kind"] == "bank" and stored["last4"] == "9012"
    assert stored["account_number"].startswith("enc:v1:") and "789012" not in stored["account_number"]
    assert shop.svc.cipher.decrypt(stored["account_number"]) == "123-456-789012"
    assert shop.svc.cipher.decrypt(stored["holder_name"]) == "홍길동"


async def test_virtual_account_issue_and_deposit(shop: Env) -> None:
    data = await pay(shop, method="VIRTUAL_ACCOUNT")
    va = data["virtualAccount"]
    assert data["status"] == "PENDING" and data["paidAt"] is None
    assert va["bankCode"] and va["accountNumber"].isdigit() and va["holderName"] and ISO.match(va["dueDate"])
    n = data["paymentNumber"]
    o = (await shop.client.get(f"/api/v1/orders/{data['orderNumber']}")).json()
    assert o["status"] == "created"
    r = await shop.client.post(f"/api/v1/sandbox/virtual-accounts/{n}/deposit")
    assert r.status_code == 200, r.text
    got = ok(await user(shop, "user123").get(f"/api/shopping/payments/{n}"))
    assert got["status"] == "COMPLETED" and ISO.match(got["paidAt"])
    assert (await shop.client.get(f"/api/v1/orders/{data['orderNumber']}")).json()["status"] == "paid"
    # a second deposit finds nothing waiting
    assert (await shop.client.post(f"/api/v1/sandbox/virtual-accounts/{n}/deposit")).status_code == 409
    async with shop.svc.db.read() as conn:
        stored = (await conn.execute(sa.select(payment_accounts))).mappings().one()
        types = [r[0] for r in (await conn.execute(sa.select(outbox_events.c.type))).all()]
    assert stored["status"] == "deposited" and va["accountNumber"] not in stored["account_number"]
    assert "virtual_account.issued" in types and "virtual_account.deposited" in types
    assert types.count("payment.completed") == 1


async def test_virtual_account_expires_unpaid(shop: Env) -> None:
    data = await pay(shop, method="VIRTUAL_ACCOUNT")
    kept = await pay(shop, method="VIRTUAL_ACCOUNT")
    shop.svc.clock.advance(timedelta(hours=71))
    await run_once(shop.svc)
    assert ok(await user(shop, "user123").get(f"/api/shopping/payments/{data['paymentNumber']}"))["status"] == \
        "PENDING"
    r = await shop.client.post(f"/api/v1/sandbox/virtual-accounts/{kept['paymentNumber']}/deposit")
    assert r.status_code == 200, r.text
    shop.svc.clock.advance(timedelta(hours=2))
    results = await run_once(shop.svc)
    assert len(results["expire_virtual_accounts"]["expired"]) == 1
    got = ok(await user(shop, "user123").get(f"/api/shopping/payments/{data['paymentNumber']}"))
    assert got["status"] == "CANCELLED" and got["cancelledAt"]
    assert ok(await user(shop, "user123").get(f"/api/shopping/payments/{kept['paymentNumber']}"))["status"] == \
        "COMPLETED"
    # the sandbox can no longer take a deposit for the expired one
    r = await shop.client.post(f"/api/v1/sandbox/virtual-accounts/{data['paymentNumber']}/deposit")
    assert r.status_code == 409
    # and the order can be paid another way
    r = await user(shop, "user123").post("/api/shopping/payments", json={
        "orderNumber": data["orderNumber"], "paymentMethod": "CARD", "amount": 70000, "cardInfo": SEED_CARD})
    assert ok(r)["status"] == "COMPLETED"


async def test_virtual_account_cancel_before_deposit(shop: Env) -> None:
    data = await pay(shop, method="VIRTUAL_ACCOUNT")
    c = ok(await user(shop, "user123").post(f"/api/shopping/payments/{data['paymentNumber']}/cancel"))
    assert c["status"] == "CANCELLED"
    assert (await shop.client.post(f"/api/v1/sandbox/virtual-accounts/{data['paymentNumber']}/deposit")
            ).status_code == 409


async def test_payment_numbers_unique_under_50_concurrent(shop: Env) -> None:
    orders = [await order_for(shop, f"u{i}", 1000) for i in range(50)]

    async def one(i: int) -> Any:
        return await user(shop, f"u{i}").post("/api/shopping/payments", json={
            "orderNumber": orders[i], "paymentMethod": "CARD", "amount": 1000, "cardInfo": SEED_CARD})

    responses = await asyncio.gather(*(one(i) for i in range(50)))
    numbers = [ok(r)["paymentNumber"] for r in responses]
    assert len(set(numbers)) == 50 and all(NUMBER.match(n) for n in numbers)
    day = numbers[0].split("-")[1]
    assert sorted(int(n.split("-")[2]) for n in numbers) == list(range(1, 51))
    assert all(n.split("-")[1] == day for n in numbers)


async def test_numbers_restart_each_day_and_are_per_merchant(shop: Env) -> None:
    first = await pay(shop)
    shop.svc.clock.advance(timedelta(days=1))
    second = await pay(shop)
    assert first["paymentNumber"].endswith("-001") and second["paymentNumber"].endswith("-001")
    assert first["paymentNumber"] != second["paymentNumber"]


async def test_expiry_finds_a_deposit_whose_webhook_was_lost(shop: Env) -> None:
    data = await pay(shop, method="VIRTUAL_ACCOUNT")
    payment = (await shop.client.get("/api/v1/payments?size=1")).json()["items"][0]
    # the buyer deposits at the PG, but Gyeol never hears of it
    assert await shop.svc.sandbox.complete_challenge(shop.merchant_id, payment["paymentId"], approve=True)
    shop.svc.clock.advance(timedelta(hours=73))
    results = await run_once(shop.svc)
    assert results["expire_virtual_accounts"]["expired"] == []
    got = ok(await user(shop, "user123").get(f"/api/shopping/payments/{data['paymentNumber']}"))
    assert got["status"] == "COMPLETED"
    kinds = [(c["kind"], c["status"]) for c in await shop.charges(payment["paymentId"])]
    assert kinds == [("charge", "succeeded")]


async def test_idempotency_key_is_per_user(shop: Env) -> None:
    mine = await order_for(shop, "user123", 1000)
    theirs = await order_for(shop, "other", 1000)
    body = {"orderNumber": mine, "paymentMethod": "CARD", "amount": 1000, "cardInfo": SEED_CARD}
    headers = {"Idempotency-Key": "checkout-1"}
    first = await user(shop, "user123").post("/api/shopping/payments", json=body, headers=headers)
    again = await user(shop, "user123").post("/api/shopping/payments", json=body, headers=headers)
    assert ok(first)["paymentNumber"] == ok(again)["paymentNumber"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await user(shop, "other").post("/api/shopping/payments", json={**body, "orderNumber": theirs},
                                           headers=headers)
    assert ok(other)["paymentNumber"] != ok(first)["paymentNumber"]
    reused = await user(shop, "user123").post("/api/shopping/payments", json={**body, "amount": 2000},
                                              headers=headers)
    assert reused.status_code == 422 and reused.json()["code"] == "C004"
    async with shop.svc.db.read() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM payments"))).scalar_one() == 2


async def test_a_capture_between_the_read_and_the_cancel_is_held_to_the_cancel_rules(
        shop: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bank transfer is refunded, never canceled, even when its money is taken after the face read the payment:
    the face's cancel policy is checked by the core under the payment's lock. The PG's answer is forced into that
    gap, the worst interleaving of the race."""
    order = await order_for(shop, "user123", 70_000)
    r = await user(shop, "user123").post(
        "/api/shopping/payments", headers={"Gyeol-Sandbox-Fault": "timeout"},
        json={"orderNumber": order, "paymentMethod": "BANK", "amount": 70_000, "bankInfo": {"bankCode": "004"}})
    assert r.status_code == 504, r.text  # the PG took the money; its answer was lost
    payment = (await shop.client.get("/api/v1/payments?size=1")).json()["items"][0]
    assert payment["status"] == "pending"
    number = payment["paymentNumber"]
    reconciler = Reconciler(shop.svc.payments, shop.svc.refunds, shop.svc.db, shop.svc.clock)
    read = shop.svc.payments.get_by_number

    async def read_then_capture(*args: Any, **kwargs: Any) -> Any:
        found = await read(*args, **kwargs)
        if found.status == "pending":
            assert (await reconciler.run_once())["attempts"][0]["status"] == "succeeded"
        return found

    monkeypatch.setattr(shop.svc.payments, "get_by_number", read_then_capture)
    error(await user(shop, "user123").post(f"/api/shopping/payments/{number}/cancel"), 400, "S013")
    monkeypatch.undo()
    assert ok(await user(shop, "user123").get(f"/api/shopping/payments/{number}"))["status"] == "COMPLETED"
    assert [(c["kind"], c["status"]) for c in await shop.charges(payment["paymentId"])] == [("charge", "succeeded")]
    assert (await shop.client.get(f"/api/v1/orders/{order}")).json()["status"] == "paid"
