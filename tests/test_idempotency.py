"""Idempotency-Key: replay, reuse, in progress, takeover after a crash, purge, scope, and what is never stored."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import Env, make_env
from gyeol import worker
from gyeol.models import idempotency_keys

CARD = {"number": "4000056655665556", "expMonth": 10, "expYear": 2039, "cvc": "8642"}


async def key_rows(env: Env) -> list[dict[str, Any]]:
    async with env.svc.db.read() as conn:
        return [dict(r) for r in (await conn.execute(sa.select(idempotency_keys))).mappings()]


async def test_replay_and_reuse(env: Env) -> None:
    body = {"orderId": "idem-a", "amount": 1000, "currency": "KRW", "confirm": True,
            "methodOptions": {"token": "tok_visa"}}
    h = {"Idempotency-Key": "key-1"}
    first = await env.client.post("/api/v1/payments/intent", json=body, headers=h)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = await env.client.post("/api/v1/payments/intent", json=body, headers=h)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other_body = await env.client.post("/api/v1/payments/intent", json={**body, "amount": 2000}, headers=h)
    assert other_body.status_code == 422
    assert other_body.json()["error"] == {**other_body.json()["error"], "type": "idempotency",
                                          "code": "IDEMPOTENCY_KEY_REUSED"}
    other_path = await env.client.post("/api/v1/orders", json={"orderId": "x", "amount": 5, "currency": "KRW"},
                                       headers=h)
    assert other_path.status_code == 422
    # The key is claimed in the route's own transaction: the order that request began is rolled back with it.
    assert (await env.client.get("/api/v1/orders/x")).status_code == 404
    assert len(await env.charges(first.json()["paymentId"])) == 1


async def test_a_known_order_is_paid_on_the_second_try_and_the_key_claimed_once(env: Env) -> None:
    """A new order goes in the payment's own statement; when the merchant has it already, that statement fails
    whole, claim included, and the payment is made again with the order read and locked. One payment, one key."""
    assert (await env.client.post("/api/v1/orders", json={"orderId": "idem-known", "amount": 1500,
                                                          "currency": "KRW"})).status_code == 200
    body = {"orderId": "idem-known", "amount": 1500, "currency": "KRW", "confirm": True,
            "methodOptions": {"token": "tok_visa"}}
    h = {"Idempotency-Key": "key-known"}
    first = await env.client.post("/api/v1/payments/intent", json=body, headers=h)
    assert first.status_code == 200 and first.json()["status"] == "succeeded", first.text
    again = await env.client.post("/api/v1/payments/intent", json=body, headers=h)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert [(r["key"], r["status"]) for r in await key_rows(env)] == [("key-known", "completed")]
    order = (await env.client.get("/api/v1/orders/idem-known")).json()
    assert order["status"] == "paid" and order["paymentId"] == first.json()["paymentId"], order
    listed = (await env.client.get("/api/v1/payments")).json()
    assert [p["paymentId"] for p in listed["items"]] == [first.json()["paymentId"]]


async def test_errors_are_replayed_too_but_not_401_or_validation(env: Env) -> None:
    h = {"Idempotency-Key": "key-2"}
    bad = await env.client.post("/api/v1/payments/intent", json={"orderId": "v", "amount": "1", "currency": "KRW"},
                                headers=h)
    assert bad.status_code == 400
    anon = env.client_for("test_sk_wrong")
    assert (await anon.post("/api/v1/payments/intent", json={"orderId": "v", "amount": 1, "currency": "KRW"}, headers=h)
            ).status_code == 401
    assert await key_rows(env) == []
    ok = await env.client.post("/api/v1/payments/intent", json={"orderId": "v", "amount": 100, "currency": "KRW"},
                               headers=h)
    assert ok.status_code == 200
    declined = await env.client.post(f"/api/v1/payments/{ok.json()['paymentId']}/confirm",
                                     json={"token": "tok_chargeDeclined"}, headers={"Idempotency-Key": "key-3"})
    assert declined.status_code == 402
    replay = await env.client.post(f"/api/v1/payments/{ok.json()['paymentId']}/confirm",
                                   json={"token": "tok_chargeDeclined"}, headers={"Idempotency-Key": "key-3"})
    assert replay.status_code == 402 and replay.headers["idempotent-replayed"] == "true"


async def test_keys_are_scoped_per_merchant(env: Env) -> None:
    other, _, _ = await env.new_merchant("other")
    h = {"Idempotency-Key": "shared"}
    a = await env.client.post("/api/v1/payments/intent", json={"orderId": "s1", "amount": 100, "currency": "KRW"},
                              headers=h)
    b = await other.post("/api/v1/payments/intent", json={"orderId": "s1", "amount": 100, "currency": "KRW"}, headers=h)
    assert a.status_code == b.status_code == 200
    assert "idempotent-replayed" not in b.headers and a.json()["paymentId"] != b.json()["paymentId"]


async def test_stored_request_holds_no_card_data(env: Env) -> None:
    pay = await env.intent(1000)
    r = await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm", json={"card": CARD},
                              headers={"Idempotency-Key": "card-key"})
    assert r.status_code == 200, r.text
    rows = await key_rows(env)
    assert len(rows) == 1
    dumped = repr(rows)
    assert CARD["number"] not in dumped and CARD["cvc"] not in dumped
    assert len(rows[0]["request_hash"]) == 64


class Crash(BaseException):
    """A process dying mid-request: nothing after this point runs, not even cleanup."""


async def test_key_left_by_a_crashed_process_is_taken_over(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    pay = await env.intent(6000)
    url = f"/api/v1/payments/{pay['paymentId']}/confirm"
    h = {"Idempotency-Key": "crash-key"}
    pg = env.svc.connectors.default
    real_authorize = pg.authorize

    async def authorize_then_die(req: Any) -> Any:
        await real_authorize(req)  # the PG charged the card...
        raise Crash()  # ...and the process died before recording it

    async def no_release(*args: Any) -> None:  # a dead process releases nothing
        return None

    monkeypatch.setattr(pg, "authorize", authorize_then_die)
    monkeypatch.setattr(env.svc.idempotency, "release", no_release)
    with pytest.raises(Crash):
        await env.client.post(url, json={"token": "tok_visa"}, headers=h)
    monkeypatch.undo()

    # The request that held the key is gone: the retry resumes its work at once, without waiting out the lease.
    taken = await env.client.post(url, json={"token": "tok_visa"}, headers=h)
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "succeeded"
    charges = await env.charges(pay["paymentId"])
    assert [(c["kind"], c["status"]) for c in charges] == [("charge", "succeeded")]
    replay = await env.client.post(url, json={"token": "tok_visa"}, headers=h)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == taken.json()


async def test_keys_are_purged_after_the_ttl(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path, idempotency_ttl_hours=24)
    try:
        h = {"Idempotency-Key": "old"}
        r = await env.client.post("/api/v1/payments/intent", json={"orderId": "p1", "amount": 100, "currency": "KRW"},
                                  headers=h)
        assert r.status_code == 200
        env.svc.clock.advance(timedelta(hours=23))
        assert (await worker.run_once(env.svc))["purge_idempotency"] == {"purged": 0}
        env.svc.clock.advance(timedelta(hours=2))
        assert (await worker.run_once(env.svc))["purge_idempotency"] == {"purged": 1}
        assert await key_rows(env) == []
    finally:
        await env.close()


async def test_rate_limit_per_key(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path, rate_limit=0.5)
    try:
        other, _, _ = await env.new_merchant("calm")
        codes = []
        for i in range(3):
            r = await env.client.post("/api/v1/payments/intent", json={"orderId": f"rl{i}", "amount": 100,
                                                                       "currency": "KRW"},
                                      headers={"Idempotency-Key": f"rl-{i}"})
            codes.append(r.status_code)
        assert codes[-1] == 429, codes
        limited = r
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["type"] == "rate_limit"
        assert all(row["key"] != "rl-2" for row in await key_rows(env))
        assert (await env.client.get("/api/v1/payments")).status_code == 200  # reads are not limited
        assert (await other.post("/api/v1/payments/intent", json={"orderId": "calm1", "amount": 100, "currency": "KRW"})
                ).status_code == 200
    finally:
        await env.close()


async def test_a_key_is_1_to_255_printable_ascii_characters(env: Env) -> None:
    body = {"orderId": "idem-format", "amount": 1000, "currency": "KRW"}
    for bad in (b"", b"k" * 256, b"tab\there", b"bell\x07", b"caf\xe9", b"del\x7f"):
        r = await env.client.post("/api/v1/payments/intent", json=body, headers=[(b"Idempotency-Key", bad)])
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert (await env.client.get("/api/v1/orders/idem-format")).status_code == 404
    assert await key_rows(env) == []
    for good in ("key with ~ spaces!", "k" * 255):
        r = await env.client.post("/api/v1/payments/intent", json={**body, "orderId": f"idem-{len(good)}"},
                                  headers={"Idempotency-Key": good})
        assert r.status_code == 200, (good, r.text)
    assert sorted(row["key"] for row in await key_rows(env)) == sorted(["key with ~ spaces!", "k" * 255])
