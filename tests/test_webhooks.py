"""Merchant webhooks: endpoints, signed deliveries to a real receiver, retries, dead letters, disabling,
secret rotation, redelivery, the event list, and the verification example of docs/webhooks.md."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import Env
from gyeol.core.webhooks.delivery import SCHEDULE
from gyeol.db.engine import Conn, Database
from receiver import Receiver

DOCS = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"


async def endpoint(env: Env, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = await env.client.post("/api/v1/webhook-endpoints", json={"url": url, "events": events or ["*"],
                                                                  "description": "orders service"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def pump(env: Env, passes: int = 3) -> None:
    for _ in range(passes):
        await env.svc.relay.run_once()
        await env.svc.dispatcher.run_once()


def verified(secret: str, call: Any) -> dict[str, Any]:
    event: dict[str, Any] = Webhook(secret).verify(call.body, call.headers)
    return event


async def test_endpoint_management(env: Env) -> None:
    ep = await endpoint(env, "http://127.0.0.1:9/hook", ["payment.succeeded", "refund.succeeded"])
    assert ep["secret"].startswith("whsec_") and ep["enabled"] and ep["events"] == ["payment.succeeded",
                                                                                   "refund.succeeded"]
    got = (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}")).json()
    assert "secret" not in got and got["url"] == "http://127.0.0.1:9/hook"
    listed = (await env.client.get("/api/v1/webhook-endpoints")).json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    r = await env.client.patch(f"/api/v1/webhook-endpoints/{ep['endpointId']}", json={"events": ["*"],
                                                                                     "enabled": False})
    assert r.status_code == 200 and r.json()["events"] == ["*"] and not r.json()["enabled"]
    for bad in ({"url": "ftp://x/y", "events": ["*"]}, {"url": "http://127.0.0.1/x", "events": ["nope.nope"]},
                {"url": "http://127.0.0.1/x", "events": []}, {"url": "http://10.0.0.5/x", "events": ["*"]}):
        r = await env.client.post("/api/v1/webhook-endpoints", json=bad)
        assert r.status_code == 400, (bad, r.text)
    other, _, _ = await env.new_merchant("other")
    assert (await other.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}")).status_code == 404
    d = await env.client.delete(f"/api/v1/webhook-endpoints/{ep['endpointId']}")
    assert d.status_code == 200 and d.json()["deleted"] is True
    assert (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}")).status_code == 404
    assert (await env.client.get("/api/v1/webhook-endpoints")).json()["total"] == 0


async def test_signed_delivery_of_every_event(env: Env) -> None:
    async with Receiver() as rx:
        ep = await endpoint(env, rx.url)
        pay = await env.paid(5000)
        r = await env.client.post("/api/v1/refunds", json={"paymentId": pay["paymentId"], "amount": 1000})
        assert r.status_code == 200
        await pump(env)
        events = [verified(ep["secret"], c) for c in rx.calls]
        types = [e["type"] for e in events]
        for t in ("payment.created", "payment.succeeded", "payment.completed", "order.paid", "settlement.created",
                  "refund.succeeded"):
            assert t in types, types
        first = next(e for e in events if e["type"] == "payment.succeeded")
        assert re.match(r"^evt_", first["id"]) and first["merchantId"] == env.merchant_id and first["createdAt"]
        assert first["data"]["object"]["paymentId"] == pay["paymentId"]
        assert all(c.headers["webhook-id"] == orjson.loads(c.body)["id"] for c in rx.calls)
        # the same as the event API shows
        api = (await env.client.get(f"/api/v1/events/{first['id']}")).json()
        assert api == first
        log = (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}/deliveries?size=100")).json()
        assert log["total"] == len(rx.calls) and {d["status"] for d in log["items"]} == {"succeeded"}
        assert log["items"][0]["lastStatusCode"] == 200 and log["items"][0]["attempts"] == 1
        await pump(env)
        assert len(rx.calls) == len(events), "a delivered event is not sent again"


async def test_subscriptions_filter_and_merchants_are_separate(env: Env) -> None:
    async with Receiver() as rx:
        await endpoint(env, rx.url, ["payment.completed"])
        other, _, _ = await env.new_merchant("other")
        r = await other.post("/api/v1/payments/intent", json={"orderId": "o-x", "amount": 100, "currency": "KRW",
                                                              "confirm": True, "methodOptions": {"token": "tok_visa"}})
        assert r.status_code == 200
        await env.paid(100)
        await pump(env)
        assert [orjson.loads(c.body)["type"] for c in rx.calls] == ["payment.completed"]
        assert orjson.loads(rx.calls[0].body)["merchantId"] == env.merchant_id


async def test_retries_then_success_and_dead_letter(env: Env) -> None:
    env.svc.dispatcher.retry_scale = 0.0
    answers = iter([500, 503, 200])
    async with Receiver(answer=lambda _: next(answers, 200)) as rx:
        ep = await endpoint(env, rx.url, ["payment.completed"])
        await env.paid(100)
        for _ in range(4):
            await pump(env, 1)
        assert [c.status for c in rx.calls] == [500, 503, 200]
        log = (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}/deliveries")).json()["items"]
        assert log[0]["status"] == "succeeded" and log[0]["attempts"] == 3
        assert log[0]["lastResponseExcerpt"] == '{"ok":true}'
    async with Receiver(answer=lambda _: 500) as rx:
        await env.client.patch(f"/api/v1/webhook-endpoints/{ep['endpointId']}", json={"url": rx.url})
        await env.paid(100)
        for _ in range(len(SCHEDULE) + 3):
            await pump(env, 1)
        assert len(rx.calls) == len(SCHEDULE)
        log = (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}/deliveries")).json()["items"]
        assert log[0]["status"] == "dead" and log[0]["attempts"] == len(SCHEDULE) and log[0]["lastStatusCode"] == 500


async def test_schedule_delays(env: Env) -> None:
    async with Receiver(answer=lambda _: 500) as rx:
        ep = await endpoint(env, rx.url, ["payment.completed"])
        await env.paid(100)
        await pump(env, 1)
        first = (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}/deliveries")).json()["items"][0]
        assert first["attempts"] == 1 and first["status"] == "pending"
        await pump(env, 1)
        assert len(rx.calls) == 1, "the second try waits ~5 s"
        env.svc.clock.advance(timedelta(seconds=6))
        await pump(env, 1)
        assert len(rx.calls) == 2
        env.svc.clock.advance(timedelta(seconds=200))
        await pump(env, 1)
        assert len(rx.calls) == 2, "the third waits ~5 min"
        env.svc.clock.advance(timedelta(seconds=150))
        await pump(env, 1)
        assert len(rx.calls) == 3


async def test_failing_for_five_days_disables(env: Env) -> None:
    env.svc.dispatcher.retry_scale = 0.0
    async with Receiver(answer=lambda _: 500) as rx:
        ep = await endpoint(env, rx.url, ["payment.completed"])
        await env.paid(100)
        await pump(env, 2)
        env.svc.clock.advance(timedelta(days=5, minutes=1))
        await env.paid(100)
        await pump(env, 2)
        got = (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}")).json()
        assert got["enabled"] is False and got["disabledReason"] == "failing_for_5_days"
        disabled = (await env.client.get("/api/v1/events", params={"type": "endpoint.disabled"})).json()["items"]
        assert len(disabled) == 1 and disabled[0]["data"]["object"]["endpointId"] == ep["endpointId"]
        sent = len(rx.calls)
        await env.paid(100)
        await pump(env, 2)
        assert len(rx.calls) == sent
        r = await env.client.patch(f"/api/v1/webhook-endpoints/{ep['endpointId']}", json={"enabled": True})
        assert r.json()["enabled"] and r.json()["failingSince"] is None


async def test_rotation_signs_with_both_secrets_for_a_day(env: Env) -> None:
    async with Receiver() as rx:
        ep = await endpoint(env, rx.url, ["payment.completed"])
        rotated = (await env.client.post(f"/api/v1/webhook-endpoints/{ep['endpointId']}/rotate-secret")).json()
        assert rotated["secret"] != ep["secret"]
        await env.paid(100)
        await pump(env)
        call = rx.calls[-1]
        assert len(call.headers["webhook-signature"].split(" ")) == 2
        verified(ep["secret"], call)
        verified(rotated["secret"], call)
        env.svc.clock.advance(timedelta(hours=25))
        await env.paid(100)
        await pump(env)
        call = rx.calls[-1]
        assert len(call.headers["webhook-signature"].split(" ")) == 1
        verified(rotated["secret"], call)
        with pytest.raises(WebhookVerificationError):
            verified(ep["secret"], call)


async def test_redirects_are_not_followed(env: Env) -> None:
    async with Receiver(answer=lambda _: 302) as rx:
        ep = await endpoint(env, rx.url, ["payment.completed"])
        await env.paid(100)
        await pump(env, 1)
        log = (await env.client.get(f"/api/v1/webhook-endpoints/{ep['endpointId']}/deliveries")).json()["items"]
        assert log[0]["status"] == "pending" and log[0]["lastStatusCode"] == 302 and len(rx.calls) == 1


async def test_redeliver_and_events_api(env: Env) -> None:
    async with Receiver() as rx:
        a = await endpoint(env, rx.url, ["payment.completed"])
        b = await endpoint(env, rx.url, ["*"])
        await env.paid(100)
        await pump(env)
        completed = (await env.client.get("/api/v1/events", params={"type": "payment.completed"})).json()
        assert len(completed["items"]) == 1 and completed["hasMore"] is False
        event_id = completed["items"][0]["id"]
        before = len(rx.calls)
        r = await env.client.post(f"/api/v1/events/{event_id}/redeliver", json={"endpointId": a["endpointId"]})
        assert r.status_code == 200 and len(r.json()["deliveries"]) == 1
        await pump(env)
        assert len(rx.calls) == before + 1
        r = await env.client.post(f"/api/v1/events/{event_id}/redeliver")
        assert len(r.json()["deliveries"]) == 2
        await pump(env)
        assert len(rx.calls) == before + 3
        assert b["endpointId"]
    # the cursor walks every event once, oldest first
    seen: list[str] = []
    after = None
    while True:
        page = (await env.client.get("/api/v1/events", params={"size": 2, **({"after": after} if after else {})}
                                     )).json()
        seen += [e["id"] for e in page["items"]]
        after = page["nextAfter"]
        if not page["hasMore"]:
            break
    everything = (await env.client.get("/api/v1/events", params={"size": 100})).json()["items"]
    assert seen == [e["id"] for e in everything] and len(seen) >= 5
    other, _, _ = await env.new_merchant("other")
    assert (await other.get(f"/api/v1/events/{event_id}")).status_code == 404
    assert (await other.post(f"/api/v1/events/{event_id}/redeliver")).status_code == 404


async def test_the_docs_example_verifies_a_real_delivery(env: Env) -> None:
    text = DOCS.read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(example.strip().splitlines()) <= 10
    scope: dict[str, Any] = {}
    exec(compile(example, str(DOCS), "exec"), scope)  # noqa: S102 - our own documentation
    async with Receiver() as rx:
        ep = await endpoint(env, rx.url, ["payment.completed"])
        await env.paid(100)
        await pump(env)
        call = rx.calls[0]
        event = scope["verify"](call.body, call.headers, ep["secret"])
        assert event is not None and event["type"] == "payment.completed"
        assert scope["verify"](call.body + b" ", call.headers, ep["secret"]) is None
        assert scope["verify"](call.body, call.headers, "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY") is None


async def lost_payment(env: Env, order_id: str) -> str:
    """A payment whose PG answer was lost (a timeout), at a PG that stays down: its attempt stays unknown."""
    from gyeol.connectors.base import ConnectorUnavailable

    r = await env.client.post("/api/v1/payments/intent", json={
        "orderId": order_id, "amount": 1000, "currency": "KRW", "confirm": True,
        "methodOptions": {"token": "tok_visa"}},
        headers={"Gyeol-Sandbox-Fault": "timeout"})
    assert r.status_code == 504

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectorUnavailable("still down")

    env.svc.connectors.default.lookup = down  # type: ignore[method-assign]
    payment_id: str = r.json()["error"]["details"]["paymentId"]
    return payment_id


async def test_unknown_outcome_for_a_day_raises_one_alert(env: Env) -> None:
    from gyeol.core.reconcile import Reconciler

    payment_id = await lost_payment(env, "o-lost")
    reconciler = Reconciler(env.svc.payments, env.svc.refunds, env.svc.db, env.svc.clock)
    await reconciler.run_once()
    assert (await env.client.get("/api/v1/events", params={"type": "attempt.unresolved"})).json()["items"] == []
    env.svc.clock.advance(timedelta(hours=25))
    assert (await reconciler.run_once())["alerts"] == 1
    assert (await reconciler.run_once())["alerts"] == 0
    alerts = (await env.client.get("/api/v1/events", params={"type": "attempt.unresolved"})).json()["items"]
    assert len(alerts) == 1 and alerts[0]["data"]["object"]["paymentId"] == payment_id


def begin_together(db: Database, barrier: asyncio.Barrier) -> None:
    """Each write transaction of `db` begins when another worker's does (or after a second alone): the two workers
    then look for what to write at the same moment, each before the other has committed."""
    tx = db.tx

    @asynccontextmanager
    async def together() -> AsyncIterator[Conn]:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await barrier.wait()
        async with tx() as conn:
            yield conn

    db.tx = together  # type: ignore[method-assign]


async def test_two_reconcilers_at_once_raise_one_alert_per_attempt(env: Env) -> None:
    """Two workers, each with its own connections, find the same day-old unknown attempts at the same moment."""
    from gyeol.core.reconcile import Reconciler
    from gyeol.services import build_services

    lost = {await lost_payment(env, f"o-lost-{i}") for i in range(6)}
    other = build_services(env.settings, clock=env.svc.clock)
    try:
        other.connectors.default.lookup = env.svc.connectors.default.lookup  # type: ignore[method-assign]
        together = asyncio.Barrier(2)
        for s in (env.svc, other):
            begin_together(s.db, together)
        workers = [Reconciler(s.payments, s.refunds, s.db, s.clock) for s in (env.svc, other)]
        env.svc.clock.advance(timedelta(hours=25))
        results = await asyncio.gather(*(w.run_once() for w in workers))
    finally:
        await other.close()
    assert sum(r["alerts"] for r in results) == len(lost)
    alerts = (await env.client.get("/api/v1/events", params={"type": "attempt.unresolved"})).json()["items"]
    assert sorted(a["data"]["object"]["paymentId"] for a in alerts) == sorted(lost)
