"""Test and live data are kept apart on every route.

One merchant's objects of every kind are made in test mode (the sandbox is the only PG here, and it takes test keys
only), then every route of the app that names an object is called with credentials of the live mode: a live key for
the native, kiosk and shop faces, user tokens of a merchant whose users are live for the user and shopping faces.
Then every such row is turned live (as a live key would have made it) and the routes are called with test
credentials. Each call is 404 in its face's format, the database (the sandbox PG's books included) is unchanged,
and every list of one mode holds none of the other's objects. The routes come from the app itself: a route added
later is covered here, or this test fails naming it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from conftest import Env
from gyeol.core.clock import KST
from gyeol.models import metadata
from users import JWT_SECRET, enable_users, order_for, token

CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2031, "cvc": "123"}
SHOP_CARD = {"cardNumber": "4242-4242-4242-4242", "expiryDate": "12/31", "cvc": "123"}
# Tables without a livemode column, and why: each other table's rows are one merchant's data in one mode.
NO_MODE = {
    "merchants": "a merchant has both modes",
    "api_keys": "a key's `mode` is its mode",
    "idempotency_keys": "scoped by the calling key, or by the user in its mode (`Caller.scope`)",
    "inbound_events": "a PG's event ids, before Gyeol knows whose they are",
    "counters": "payment numbers are unique across a merchant's modes",
    "job_leases": "the workers' own",
    "sandbox_charges": "the sandbox PG's own books, which test keys alone reach",
    "sandbox_tokens": "the sandbox PG's own books, which test keys alone reach",
    "staff": "a merchant's staff see both modes, one at a time (their session's `livemode`)",
    "signin_failures": "the sign-in throttle's counts, before anyone is signed in",
}


@dataclass
class World:
    """Objects of every kind, all of one mode, and the merchant's ids for them."""

    paid: str  # a native payment, captured and partly refunded
    authorized: str  # authorized, to capture
    created: str  # an intent, to confirm
    challenged: str  # waiting for its 3-D Secure answer
    order: str  # an unpaid order (its orderId) of 7,000
    refund: str
    customer: str
    method: str
    settlement: str
    endpoint: str
    event: str
    kiosk_key: str  # an approved kiosk payment's paymentKey
    kiosk_order: str
    shop_order: str  # an unpaid order of 10,000, for the shop's confirm
    user_order: str  # an unpaid order of alice's, of 15,000
    user_payment: str  # alice's seed 003 payment, paid at the PG and not yet completed
    user_charge: str  # the PG's transaction id of that payment
    number: str  # alice's shopping payment (card, completed)
    va_number: str  # alice's shopping payment by virtual account, waiting for its deposit
    run: str  # a reconciliation run over an imported report
    exception: str  # what it found: a row of the report Gyeol does not know
    movement: str  # the balance's newest transaction

    def ids(self) -> list[str]:
        return list(vars(self).values())


@dataclass
class Callers:
    key: httpx.AsyncClient  # the merchant's secret key as Bearer
    kiosk: httpx.AsyncClient  # the same key as Basic, as the kiosk and Toss send it
    alice: httpx.AsyncClient  # a USER's token
    admin: httpx.AsyncClient  # an ADMIN's token


def callers(env: Env, key: str) -> Callers:
    basic = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return Callers(env.client_for(key), env.client_for(Authorization=basic),
                   env.client_for(token(env, "alice", "USER")), env.client_for(token(env, "root", "ADMIN")))


def ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


async def make_world(env: Env) -> World:
    c = env.client
    paid = await env.paid(10_000)
    ok(await c.post("/api/v1/refunds", json={"paymentId": paid["paymentId"], "amount": 1000}))
    refund = ok(await c.get("/api/v1/refunds", params={"paymentId": paid["paymentId"]}))["items"][0]["refundId"]
    authorized = await env.intent(5000, capture=False, confirm=True, methodOptions={"token": "tok_visa"})
    created = await env.intent(3000)
    challenged = await env.intent(4000)
    ok(await c.post(f"/api/v1/payments/{challenged['paymentId']}/confirm",
                    json={"card": {**CARD, "number": "4000000000003220"}}))
    order = f"ord-{secrets.token_hex(5)}"
    ok(await c.post("/api/v1/orders", json={"orderId": order, "amount": 7000, "currency": "KRW"}))
    shop_order = f"shop-{secrets.token_hex(5)}"
    ok(await c.post("/api/v1/orders", json={"orderId": shop_order, "amount": 10_000, "currency": "KRW"}))
    tok = ok(await c.post("/api/v1/sandbox/tokens", json={"card": CARD}))["token"]
    method = ok(await c.post("/api/v1/customers/cus_modes/payment-methods", json={"token": tok}))
    settlement = ok(await c.get("/api/v1/settlements"))["items"][0]["settlementId"]
    endpoint = ok(await c.post("/api/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook",
                                                                   "events": ["*"]}))["endpointId"]
    event = ok(await c.get("/api/v1/events"))["items"][0]["id"]
    ok(await c.post(f"/api/v1/events/{event}/redeliver"))  # a delivery in the endpoint's log
    kiosk = callers(env, env.key).kiosk
    kiosk_key, kiosk_order = f"tpk_{secrets.token_hex(6)}", f"kiosk-{secrets.token_hex(5)}"
    body = {"paymentKey": kiosk_key, "orderId": kiosk_order, "amount": 8000}
    ok(await kiosk.post("/v1/payments", json=body))
    ok(await kiosk.post("/v1/payments/confirm", json=body))

    await enable_users(env)
    alice = env.client_for(token(env, "alice", "USER"))
    user_order = await order_for(env, "alice", 15_000)
    seed3 = ok(await alice.post("/api/v1/payments", json={"orderId": await order_for(env, "alice", 12_000),
                                                          "amount": 12_000, "paymentMethod": "CARD"}))
    charge = ok(await env.client_for().post("/api/v1/sandbox/pay", json={"clientToken": seed3["clientToken"],
                                                                         "card": CARD}))
    number = ok(await alice.post("/api/shopping/payments", json={
        "orderNumber": await order_for(env, "alice", 20_000), "paymentMethod": "CARD", "amount": 20_000,
        "cardInfo": SHOP_CARD}))["data"]["paymentNumber"]
    va = ok(await alice.post("/api/shopping/payments", json={
        "orderNumber": await order_for(env, "alice", 9000), "paymentMethod": "VIRTUAL_ACCOUNT",
        "amount": 9000}))["data"]["paymentNumber"]
    day = env.svc.clock.now().astimezone(KST).date().isoformat()
    ok(await c.post(f"{P}/reconciliation/imports", json={"pg": "modes-pg", "csv": (
        "transaction_id,order_id,type,amount,fee,vat,net,currency,sold_date,payout_date\n"
        f"tx-modes-1,o-modes,payment,1000,25,2,975,KRW,{day},{day}\n")}))
    run = ok(await c.post(f"{P}/reconciliation/runs", json={"from": day, "to": day, "pg": "modes-pg"}))["runId"]
    exception = ok(await c.get(f"{P}/reconciliation/exceptions"))["items"][0]["itemId"]
    movement = ok(await c.get("/api/v1/balance/transactions"))["items"][0]["balanceTransactionId"]
    return World(paid["paymentId"], authorized["paymentId"], created["paymentId"], challenged["paymentId"], order,
                 refund, "cus_modes", method["paymentMethodId"], settlement, endpoint, event, kiosk_key, kiosk_order,
                 shop_order, user_order, seed3["paymentId"], charge["pgTransactionId"], number, va, run, exception,
                 movement)


Call = Callable[[Callers, World], Awaitable[list[httpx.Response]]]


def each(*calls: Callable[[Callers, World], Awaitable[httpx.Response]]) -> Call:
    async def run(c: Callers, w: World) -> list[httpx.Response]:
        return [await call(c, w) for call in calls]
    return run


NATIVE, KIOSK, SHOP, SHOPPING = "native", "kiosk", "shop", "shopping"
P, V1 = "/api/v1", "/v1/payments"

# Every route that names an object (in its path, its body or its query): the face whose error format it answers
# in, whether it is the sandbox's (a live key is refused all of it, 403, whatever the object), and the calls.
NAMED: dict[tuple[str, str], tuple[str, bool, Call]] = {
    ("GET", P + "/payments/{payment_id}"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/payments/{w.paid}"), lambda c, w: c.admin.get(f"{P}/payments/{w.paid}"),
        lambda c, w: c.alice.get(f"{P}/payments/{w.user_payment}"))),
    ("POST", P + "/payments/{payment_id}/confirm"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/payments/{w.created}/confirm", json={"token": "tok_visa"}),
        lambda c, w: c.admin.post(f"{P}/payments/{w.created}/confirm", json={"card": CARD}))),
    ("POST", P + "/payments/{payment_id}/capture"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/payments/{w.authorized}/capture"))),
    ("POST", P + "/payments/{payment_id}/cancel"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/payments/{w.paid}/cancel"),
        lambda c, w: c.admin.post(f"{P}/payments/{w.authorized}/cancel"),
        lambda c, w: c.alice.post(f"{P}/payments/{w.user_payment}/cancel"))),
    ("POST", P + "/payments/complete"): (NATIVE, False, each(
        lambda c, w: c.alice.post(f"{P}/payments/complete", json={
            "paymentId": w.user_payment, "pgTransactionId": w.user_charge, "amount": 12_000}))),
    ("POST", P + "/payments"): (NATIVE, False, each(
        lambda c, w: c.alice.post(f"{P}/payments", json={"orderId": w.user_order, "amount": 15_000,
                                                         "card": CARD}))),
    ("POST", P + "/payments/intent"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/payments/intent", json={"orderId": w.order, "amount": 7000,
                                                              "currency": "KRW", "confirm": True,
                                                              "methodOptions": {"token": "tok_visa"}}))),
    ("GET", P + "/orders/{order_id}"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/orders/{w.order}"), lambda c, w: c.alice.get(f"{P}/orders/{w.user_order}"))),
    ("POST", P + "/refunds"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/refunds", json={"paymentId": w.paid, "amount": 500}))),
    ("GET", P + "/refunds/{refund_id}"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/refunds/{w.refund}"), lambda c, w: c.admin.get(f"{P}/refunds/{w.refund}"))),
    ("POST", P + "/customers/{customer_id}/payment-methods"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/customers/{w.customer}/payment-methods", json={"token": "tok_visa"}))),
    ("GET", P + "/customers/{customer_id}/payment-methods"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/customers/{w.customer}/payment-methods"))),
    ("POST", P + "/customers/{customer_id}/payment-methods/{method_id}/default"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/customers/{w.customer}/payment-methods/{w.method}/default"))),
    ("DELETE", P + "/payment-methods/{method_id}"): (NATIVE, False, each(
        lambda c, w: c.key.delete(f"{P}/payment-methods/{w.method}"))),
    ("GET", P + "/sandbox/charges"): (NATIVE, True, each(
        lambda c, w: c.key.get(f"{P}/sandbox/charges", params={"paymentId": w.paid}))),
    ("POST", P + "/sandbox/3ds/{payment_id}"): (NATIVE, True, each(
        lambda c, w: c.key.post(f"{P}/sandbox/3ds/{w.challenged}", json={"result": "approve"}))),
    ("POST", P + "/sandbox/virtual-accounts/{payment_number}/deposit"): (NATIVE, True, each(
        lambda c, w: c.key.post(f"{P}/sandbox/virtual-accounts/{w.va_number}/deposit"))),
    ("GET", P + "/settlements/{settlement_id}"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/settlements/{w.settlement}"))),
    ("GET", P + "/reconciliation/runs/{run_id}"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/reconciliation/runs/{w.run}"))),
    ("POST", P + "/reconciliation/exceptions/{exception_id}/resolve"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/reconciliation/exceptions/{w.exception}/resolve", json={"note": "mode"}))),
    ("GET", P + "/webhook-endpoints/{endpoint_id}"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/webhook-endpoints/{w.endpoint}"))),
    ("PATCH", P + "/webhook-endpoints/{endpoint_id}"): (NATIVE, False, each(
        lambda c, w: c.key.patch(f"{P}/webhook-endpoints/{w.endpoint}", json={"url": "http://127.0.0.1:8/x"}),
        lambda c, w: c.key.patch(f"{P}/webhook-endpoints/{w.endpoint}", json={"enabled": False}))),
    ("DELETE", P + "/webhook-endpoints/{endpoint_id}"): (NATIVE, False, each(
        lambda c, w: c.key.delete(f"{P}/webhook-endpoints/{w.endpoint}"))),
    ("POST", P + "/webhook-endpoints/{endpoint_id}/rotate-secret"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/webhook-endpoints/{w.endpoint}/rotate-secret"))),
    ("GET", P + "/webhook-endpoints/{endpoint_id}/deliveries"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/webhook-endpoints/{w.endpoint}/deliveries"))),
    ("GET", P + "/events"): (NATIVE, False, each(lambda c, w: c.key.get(f"{P}/events", params={"after": w.event}))),
    ("GET", P + "/balance/transactions"): (NATIVE, False, each(
        lambda c, w: c.key.get(f"{P}/balance/transactions", params={"startingAfter": w.movement}))),
    ("GET", P + "/events/{event_id}"): (NATIVE, False, each(lambda c, w: c.key.get(f"{P}/events/{w.event}"))),
    ("POST", P + "/events/{event_id}/redeliver"): (NATIVE, False, each(
        lambda c, w: c.key.post(f"{P}/events/{w.event}/redeliver"),
        lambda c, w: c.key.post(f"{P}/events/{w.event}/redeliver", json={"endpointId": w.endpoint}))),
    ("POST", V1): (KIOSK, False, each(lambda c, w: c.kiosk.post(V1, json={
        "paymentKey": w.kiosk_key, "orderId": w.kiosk_order, "amount": 8000}))),
    ("POST", V1 + "/confirm"): (KIOSK, False, each(lambda c, w: c.kiosk.post(f"{V1}/confirm", json={
        "paymentKey": w.kiosk_key, "orderId": w.kiosk_order, "amount": 8000}))),
    ("POST", V1 + "/{payment_key}/cancel"): (KIOSK, False, each(
        lambda c, w: c.kiosk.post(f"{V1}/{w.kiosk_key}/cancel", json={"cancelReason": "mode"}))),
    ("GET", V1 + "/orders/{order_id}"): (KIOSK, False, each(lambda c, w: c.kiosk.get(f"{V1}/orders/{w.kiosk_order}"))),
    ("GET", V1 + "/{payment_key}"): (KIOSK, False, each(lambda c, w: c.kiosk.get(f"{V1}/{w.kiosk_key}"))),
    ("POST", "/api/payments/confirm"): (SHOP, False, each(lambda c, w: c.key.post("/api/payments/confirm", json={
        "paymentKey": f"tpk_{secrets.token_hex(6)}", "orderId": w.shop_order, "amount": 10_000}))),
    ("POST", "/api/shopping/payments"): (SHOPPING, False, each(lambda c, w: c.alice.post(
        "/api/shopping/payments", json={"orderNumber": w.user_order, "paymentMethod": "CARD", "amount": 15_000,
                                        "cardInfo": SHOP_CARD}))),
    ("GET", "/api/shopping/payments/{payment_number}"): (SHOPPING, False, each(
        lambda c, w: c.alice.get(f"/api/shopping/payments/{w.number}"),
        lambda c, w: c.admin.get(f"/api/shopping/payments/{w.number}"))),
    ("POST", "/api/shopping/payments/{payment_number}/cancel"): (SHOPPING, False, each(
        lambda c, w: c.alice.post(f"/api/shopping/payments/{w.number}/cancel"))),
    ("POST", "/api/shopping/payments/{payment_number}/refund"): (SHOPPING, False, each(
        lambda c, w: c.admin.post(f"/api/shopping/payments/{w.number}/refund"))),
}

# Lists: one mode's never holds the other's objects (and its own mode's does: the check is not empty).
LISTS: dict[tuple[str, str], Callable[[Callers], Awaitable[httpx.Response]]] = {
    ("GET", P + "/payments"): lambda c: c.key.get(f"{P}/payments", params={"size": 100}),
    ("GET", P + "/payments/me"): lambda c: c.alice.get(f"{P}/payments/me", params={"size": 100}),
    ("GET", P + "/orders"): lambda c: c.key.get(f"{P}/orders", params={"size": 100}),
    ("GET", P + "/refunds"): lambda c: c.key.get(f"{P}/refunds", params={"size": 100}),
    ("GET", P + "/settlements"): lambda c: c.key.get(f"{P}/settlements", params={"size": 100}),
    ("GET", P + "/settlements.csv"): lambda c: c.key.get(f"{P}/settlements.csv"),
    ("GET", P + "/reconciliation/runs"): lambda c: c.key.get(f"{P}/reconciliation/runs", params={"size": 100}),
    ("GET", P + "/reconciliation/exceptions"): lambda c: c.key.get(f"{P}/reconciliation/exceptions",
                                                                   params={"size": 100}),
    ("GET", P + "/balance/transactions"): lambda c: c.key.get(f"{P}/balance/transactions", params={"limit": 100}),
    ("GET", P + "/webhook-endpoints"): lambda c: c.key.get(f"{P}/webhook-endpoints", params={"size": 100}),
}

# Routes that name no object of a mode, and why.
UNNAMED = {
    ("POST", P + "/orders"): "creates an order; a merchant's orderIds are unique across its modes",
    ("GET", P + "/balance"): "sums of the caller's mode only (`balances` below)",
    ("POST", P + "/webhook-endpoints"): "creates an endpoint of the caller's mode",
    ("POST", P + "/reconciliation/runs"): "reconciles the caller's mode: the other mode's range is another run",
    ("POST", P + "/reconciliation/imports"): "imports a report into the caller's mode",
    ("POST", P + "/sandbox/tokens"): "the sandbox PG's tokenization, for test keys only",
    ("POST", P + "/sandbox/pay"): "the buyer at the sandbox PG: the client token is the credential, no key",
    ("POST", P + "/sandbox/keyed-payments"): "the sandbox PG's own window: its books, not Gyeol's objects",
    ("POST", P + "/webhooks/payments"): "the sandbox PG's signed webhook: the PG, not a caller of a mode",
    ("POST", "/api/payments/callback"): "Toss's webhook: the PG, not a caller of a mode",
    ("POST", "/api/payments/callback/{merchant_id}"): "Toss's webhook: the PG, not a caller of a mode",
    ("GET", "/checkout/{payment_id}"): "the buyer's page: its client token is the credential, no key",
    ("POST", "/checkout/{payment_id}"): "the buyer's page: its client token is the credential, no key",
    ("GET", "/checkout/{payment_id}/3ds"): "the buyer's page: its client token is the credential, no key",
    ("POST", "/checkout/{payment_id}/3ds"): "the buyer's page: its client token is the credential, no key",
    ("GET", "/sandbox/3ds/{payment_id}"): "the buyer's page: its client token is the credential, no key",
    ("GET", "/receipts/{receipt_id}"): "public by its random id, as a printed receipt's address is",
    ("GET", "/assets/{name}"): "static files",
    ("GET", "/favicon.ico"): "static files",
    ("GET", "/openapi.json"): "documentation",
    ("GET", "/docs"): "documentation",
    ("GET", "/docs/oauth2-redirect"): "documentation",
    ("GET", "/redoc"): "documentation",
    ("GET", "/healthz"): "the process's health",
    ("GET", "/readyz"): "the process's health",
    ("GET", "/metrics"): "the process's metrics",
    ("MOUNT", "/static-offline-docs"): "documentation",
}
# The dashboard's routes name objects of the mode its session views (`Session.caller`), never of a key's: their
# scoping is tested in tests/test_dashboard_auth.py (another merchant's objects, the test/live switch).
UNNAMED.update({(m, p): "the dashboard: the session's merchant and mode" for m, p in [
    ("GET", "/dashboard"), ("GET", "/dashboard/account"), ("GET", "/dashboard/audit"),
    ("GET", "/dashboard/developers"), ("GET", "/dashboard/login"), ("GET", "/dashboard/login/code"),
    ("GET", "/dashboard/payments"), ("GET", "/dashboard/payments.csv"), ("GET", "/dashboard/payments/{payment_id}"),
    ("GET", "/dashboard/settings"), ("GET", "/dashboard/webhooks"), ("GET", "/dashboard/webhooks/{endpoint_id}"),
    ("GET", "/dashboard/webhooks/{endpoint_id}/deliveries/{delivery_id}"), ("POST", "/dashboard/account/totp"),
    ("POST", "/dashboard/account/totp/disable"), ("POST", "/dashboard/account/totp/enable"),
    ("POST", "/dashboard/developers/keys"), ("POST", "/dashboard/developers/keys/{key_id}/revoke"),
    ("POST", "/dashboard/login"), ("POST", "/dashboard/login/code"), ("POST", "/dashboard/logout"),
    ("POST", "/dashboard/mode"), ("POST", "/dashboard/payments/{payment_id}/{action}"),
    ("POST", "/dashboard/payments/{payment_id}/{action}/confirm"), ("POST", "/dashboard/settings/{part}"),
    ("POST", "/dashboard/staff"), ("POST", "/dashboard/staff/{staff_id}/disable"), ("POST", "/dashboard/webhooks"),
    ("POST", "/dashboard/webhooks/{endpoint_id}"),
    ("POST", "/dashboard/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend"),
    ("POST", "/dashboard/webhooks/{endpoint_id}/resend-failed"), ("POST", "/dashboard/webhooks/{endpoint_id}/rotate")]})


def app_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for r in app.routes:
        if isinstance(r, Mount):
            found.add(("MOUNT", r.path))
        elif isinstance(r, APIRoute | Route):
            found.update((m, r.path) for m in (r.methods or ()) if m != "HEAD")
    return found


# Left out of the comparison: the merchant's settings (the test itself switches its users' mode), and the sandbox's
# card tokens: a card is tokenized at the caller's own PG before the payment or order it is for is read, as for any
# create that is then refused, and a token charges nothing.
UNCOMPARED = {"merchants", "sandbox_tokens"}


async def snapshot(env: Env) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, the sandbox PG's charges included."""
    async with env.svc.db.read() as conn:
        return {t.name: sorted(tuple(map(repr, r)) for r in (await conn.execute(sa.select(t))).all())
                for t in metadata.sorted_tables if t.name not in UNCOMPARED}


async def balances(c: Callers) -> Any:
    got = ok(await c.key.get(f"{P}/balance"))
    return got["available"], got["pending"]


async def all_live(env: Env) -> None:
    """Every row of a merchant's data made live, as a live key would have written it. The ledger's transfers are
    immutable and name accounts of their mode (migration 0014): the database's guards are lifted for this one
    transaction, and the merchants' live accounts, which no transfer names here, make way for the test ones."""
    async with env.svc.db.tx() as conn:
        postgres = conn.dialect.name == "postgresql"
        guards = [] if postgres else (await conn.execute(sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'ledger_transfers'"))).all()
        if postgres:
            await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        else:
            await conn.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
            for name, _ in guards:
                await conn.execute(sa.text(f"DROP TRIGGER {name}"))
        await conn.execute(sa.text("DELETE FROM ledger_accounts WHERE livemode"))
        for table in metadata.sorted_tables:
            if "livemode" in table.c:
                await conn.execute(table.update().values(livemode=True))
        for _, ddl in guards:
            await conn.execute(sa.text(ddl))


async def users_mode(env: Env, mode: str) -> None:
    await enable_users(env, JWT_SECRET, mode=mode)


def not_found(face: str, r: httpx.Response) -> bool:
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
    if r.status_code != 404 or not isinstance(body, dict):
        return False
    if face == NATIVE:
        return isinstance(body.get("error"), dict) and body["error"].get("type") == "not_found"
    if face == KIOSK:
        return str(body.get("code", "")).startswith("NOT_FOUND")
    if face == SHOP:
        return isinstance(body.get("error"), str)
    return body.get("success") is False and body.get("code") in ("S006", "S009")


async def cross(env: Env, c: Callers, w: World, *, live_caller: bool) -> list[str]:
    """Every named route with the other mode's credentials; what answered other than 404 (or, for the sandbox's
    routes with a live key, other than its refusal of live keys)."""
    wrong = []
    for (method, path), (face, sandbox, call) in NAMED.items():
        for r in await call(c, w):
            if sandbox and live_caller:
                good = r.status_code == 403 and r.json()["error"]["code"] == "TEST_MODE_ONLY"
            else:
                good = not_found(face, r)
            if not good:
                wrong.append(f"{method} {path} -> {r.status_code} {r.text[:160]}")
    return wrong


async def lists(c: Callers, ids: list[str]) -> dict[str, list[str]]:
    """For each list, the objects of `ids` it holds."""
    held = {}
    for (method, path), call in LISTS.items():
        text = (await call(c)).text
        held[f"{method} {path}"] = [i for i in ids if i in text]
    return held


async def test_every_table_of_a_merchants_data_has_a_mode(env: Env) -> None:
    without = {t.name for t in metadata.sorted_tables if "livemode" not in t.c}
    assert without == set(NO_MODE), f"tables without livemode: {sorted(without - set(NO_MODE))}"


async def test_test_and_live_never_meet(env: Env) -> None:
    classified = set(NAMED) | set(LISTS) | set(UNNAMED)
    routes = app_routes(env.app)
    assert not routes - classified, f"routes not covered by tests/test_modes.py: {sorted(routes - classified)}"
    assert not classified - routes, f"tests/test_modes.py names routes the app lacks: {sorted(classified - routes)}"
    w = await make_world(env)
    _, live_key = await env.svc.merchants.create_key(env.merchant_id, "live")
    test, live = callers(env, env.key), callers(env, live_key)
    ids = w.ids()

    # The objects are test objects: the live mode's credentials see none of them, and change nothing.
    await users_mode(env, "live")
    before = await snapshot(env)
    assert await cross(env, live, w, live_caller=True) == []
    assert await snapshot(env) == before
    assert all(not held for held in (await lists(live, ids)).values())
    assert await balances(live) == ([], [])
    await users_mode(env, "test")
    own = await lists(test, ids)
    assert all(own.values()), f"lists that show none of their own mode's objects: {own}"
    assert ok(await test.key.get(f"{P}/payments/{w.paid}"))["livemode"] is False
    own_balance = await balances(test)
    assert own_balance[1], own_balance

    # The same objects made live: now the test mode's credentials see none of them, and change nothing.
    await all_live(env)
    before = await snapshot(env)
    assert await cross(env, test, w, live_caller=False) == []
    assert await snapshot(env) == before
    assert all(not held for held in (await lists(test, ids)).values())
    assert await balances(test) == ([], [])
    await users_mode(env, "live")
    assert (await lists(live, ids)) == own
    assert await balances(live) == own_balance
    assert ok(await live.key.get(f"{P}/payments/{w.paid}"))["livemode"] is True
    assert ok(await live.kiosk.get(f"{V1}/{w.kiosk_key}"))["status"] == "APPROVED"
    assert ok(await live.alice.get(f"/api/shopping/payments/{w.number}"))["data"]["status"] == "COMPLETED"
