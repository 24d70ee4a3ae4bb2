"""The audit log is written with the change it records, in the change's transaction, through HTTP on SQLite and
PostgreSQL: a refused change leaves no entry, a committed one has exactly one, even when the server dies right
after the change's commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from conftest import Env
from dashboard import PASSWORD, audit_rows, csrf_of, key_of, page_csrf, post_form, sign_in, staff_browser
from procs import Server, gyeol_env, run_cli

KEY = "test_sk_audit"


async def _refund(c: httpx.AsyncClient, payment_id: str, amount: str) -> httpx.Response:
    """A refund asked for and confirmed on the dashboard, as a browser does."""
    token = await page_csrf(c, f"/dashboard/payments/{payment_id}")
    confirm = await post_form(c, f"/dashboard/payments/{payment_id}/refund/confirm", csrf=token, amount=amount,
                              reason="damaged")
    assert confirm.status_code == 200, confirm.text
    return await post_form(c, f"/dashboard/payments/{payment_id}/refund", csrf=token, key=key_of(confirm.text),
                           amount=amount, reason="damaged")


async def test_each_staff_change_has_one_entry_and_a_refused_change_none(env: Env) -> None:
    paid = await env.paid(10_000)
    await env.new_merchant("globex")
    c = await staff_browser(env, "owner")

    refused = await _refund(c, paid["paymentId"], "20000")
    assert "problem=REFUND_EXCEEDS_AMOUNT" in refused.headers["location"]
    assert await audit_rows(c, "payment.refund") == []
    done = await _refund(c, paid["paymentId"], "3000")
    assert "done=refund" in done.headers["location"]
    refunds = (await env.client.get("/api/v1/refunds", params={"paymentId": paid["paymentId"]})).json()["items"]
    [entry] = await audit_rows(c, "payment.refund")
    assert entry["who"] == "owner@acme.example" and entry["target"] == paid["paymentId"]
    assert f"refund={refunds[0]['refundId']}" in entry["details"] and "amount=3000" in entry["details"]

    token = await page_csrf(c, "/dashboard/webhooks")
    bad = await post_form(c, "/dashboard/webhooks", csrf=token, url="ftp://hooks.example/x", events="*")
    assert bad.status_code == 400
    assert await audit_rows(c, "webhook.created") == []
    made = await post_form(c, "/dashboard/webhooks", csrf=token, url="http://127.0.0.1:9/hook", events="*")
    assert made.status_code == 200
    [created] = await audit_rows(c, "webhook.created")
    endpoint_id = created["target"]
    assert endpoint_id.startswith("we_") and "url=http://127.0.0.1:9/hook" in created["details"]
    off = await post_form(c, f"/dashboard/webhooks/{endpoint_id}", csrf=token, enabled="0")
    assert off.status_code == 303
    assert [e["target"] for e in await audit_rows(c, "webhook.disabled")] == [endpoint_id]

    token = await page_csrf(c, "/dashboard/settings")
    taken = await post_form(c, "/dashboard/settings/name", csrf=token, name="globex")
    assert "problem=MERCHANT_EXISTS" in taken.headers["location"]
    junk = await post_form(c, "/dashboard/settings/fees", csrf=token, card_bps="lots")
    assert "problem=" in junk.headers["location"]
    assert await audit_rows(c, "settings.name") == [] and await audit_rows(c, "settings.fees") == []
    renamed = await post_form(c, "/dashboard/settings/name", csrf=token, name="Acme Coffee")
    assert renamed.headers["location"].endswith("done=1")
    [name] = await audit_rows(c, "settings.name")
    assert "name=Acme Coffee" in name["details"]

    token = await page_csrf(c, "/dashboard/developers")
    key = await post_form(c, "/dashboard/developers/keys", csrf=token, mode="test")
    assert key.status_code == 201
    [key_entry] = await audit_rows(c, "key.created")
    key_id = key_entry["target"]
    for expected in (303, 409):  # revoked once: the second is refused and recorded nowhere
        r = await post_form(c, f"/dashboard/developers/keys/{key_id}/revoke", csrf=token)
        assert r.status_code == expected, r.text
    assert [e["target"] for e in await audit_rows(c, "key.revoked")] == [key_id]


async def test_a_refund_cut_right_after_its_commit_has_its_entry_and_its_retry_adds_none(
        db_url: str, tmp_path: Path) -> None:
    """The server is killed (as by kill -9) right after the refund's first commit, before the PG is called: the
    refund is on the books, and so is its entry. Resent under the same key, the refund is carried on, once."""
    var = tmp_path / "var"
    env = gyeol_env(db_url, var, GYEOL_TEST_SECRET_KEY=KEY, GYEOL_IDEMPOTENCY_LEASE_SECONDS="3")
    with Server(env) as plain:
        plain.wait_ready()
        async with httpx.AsyncClient(base_url=plain.url, headers={"Authorization": f"Bearer {KEY}"}) as api:
            r = await api.post("/api/v1/payments/intent", json={
                "orderId": "cut-refund", "amount": 10_000, "currency": "KRW", "confirm": True,
                "methodOptions": {"token": "tok_visa"}})
            assert r.status_code == 200, r.text
            payment_id = r.json()["paymentId"]
    run_cli(["staff", "create", "--merchant", "default", "--email", "ops@acme.example", "--role", "admin",
             "--password-stdin"], env, stdin=PASSWORD)

    cut = Server({**env, "GYEOL_TEST_KILL_AFTER_COMMIT": "1"})
    try:
        cut.wait_ready()
        async with httpx.AsyncClient(base_url=cut.url, timeout=30) as c:
            assert (await sign_in(c, "ops@acme.example")).status_code == 303
            token = await page_csrf(c, f"/dashboard/payments/{payment_id}")
            confirm = await post_form(c, f"/dashboard/payments/{payment_id}/refund/confirm", csrf=token,
                                      amount="4000", reason="damaged")
            form = {"csrf": token, "key": key_of(confirm.text), "amount": "4000", "reason": "damaged"}
            try:
                await post_form(c, f"/dashboard/payments/{payment_id}/refund", **form)
                raise AssertionError("the server answered instead of stopping")
            except httpx.TransportError:
                pass
        assert cut.proc.wait(timeout=30) == -9
    finally:
        cut.stop()

    with Server(env) as again:
        again.wait_ready()
        async with httpx.AsyncClient(base_url=again.url, timeout=30) as c:
            assert (await sign_in(c, "ops@acme.example")).status_code == 303
            [entry] = await audit_rows(c, "payment.refund")
            assert entry["who"] == "ops@acme.example" and "amount=4000" in entry["details"]
            form["csrf"] = csrf_of((await c.get("/dashboard")).text)
            for _ in range(100):  # the key is the dead request's until its lease runs out
                r = await post_form(c, f"/dashboard/payments/{payment_id}/refund", **form)
                if "busy=1" not in r.headers["location"]:
                    break
                await asyncio.sleep(0.2)
            assert "done=refund" in r.headers["location"], r.headers["location"]
            assert len(await audit_rows(c, "payment.refund")) == 1
        async with httpx.AsyncClient(base_url=again.url, headers={"Authorization": f"Bearer {KEY}"}) as api:
            refunds = (await api.get("/api/v1/refunds", params={"paymentId": payment_id})).json()["items"]
            assert [(x["amount"], x["status"]) for x in refunds] == [(4000, "succeeded")], refunds
            assert f"refund={refunds[0]['refundId']}" in entry["details"]
