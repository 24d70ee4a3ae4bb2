"""The quickest proof that the service stands up: health, auth, one payment end to end."""

from __future__ import annotations

from conftest import Env


async def test_health_and_readiness(env: Env) -> None:
    anon = env.client_for()
    assert (await anon.get("/healthz")).json() == {"status": "ok"}
    r = await anon.get("/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    assert r.headers["request-id"].startswith("req_")


async def test_missing_and_wrong_keys_get_401(env: Env) -> None:
    for headers in ({}, {"Authorization": "Bearer test_sk_nope"}, {"Authorization": "Basic dGVzdF9za19ub3BlOg=="}):
        r = await env.client_for(**headers).get("/api/v1/payments")
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication"


async def test_basic_auth_with_the_key_works(env: Env) -> None:
    import base64

    basic = base64.b64encode(f"{env.key}:".encode()).decode()
    r = await env.client_for(Authorization=f"Basic {basic}").get("/api/v1/payments")
    assert r.status_code == 200
    assert r.json() == {"items": [], "total": 0, "page": 1, "size": 20}


async def test_intent_confirm_in_one_call_succeeds_and_charges_once(env: Env) -> None:
    pay = await env.paid(10_000)
    assert pay["status"] == "succeeded"
    got = (await env.client.get(f"/api/v1/payments/{pay['paymentId']}")).json()
    assert got["status"] == "succeeded" and got["capturedAmount"] == 10_000
    charges = await env.charges(pay["paymentId"])
    assert [(c["kind"], c["amount"]) for c in charges] == [("charge", 10_000)]
    order = (await env.client.get(f"/api/v1/orders/{pay['orderId']}")).json()
    assert order["status"] == "paid" and order["paidAmount"] == 10_000
