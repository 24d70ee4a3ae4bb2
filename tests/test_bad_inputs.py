"""Bad input gets a clear 4xx in the native error format and changes nothing: every table's row count stays."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from conftest import Env, make_env
from faces import assert_face_error
from gyeol.core.clock import KST
from gyeol.models import metadata
from users import enable_users, order_for, user

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


# --- Every POST of every face -------------------------------------------------------------------------------------
# A valid body for each POST route of the app (None: the route takes no body; "form": a page's form). The test
# walks the app's routes: a POST route missing here fails by name, so a new route is covered or named.
ORDER, PID = "{order}", "{pid}"
SHOP_CARD = {"cardNumber": "1234-5678-9012-3456", "expiryDate": "12/39", "cvc": "123"}
KEYED = {"paymentKey": "pk_bad_inputs", "orderId": "bad-keyed", "amount": 1000}
VALID: dict[str, Any] = {
    "/api/v1/payments/intent": {"orderId": "bad-ok", "amount": 1000, "currency": "KRW"},
    "/api/v1/payments": {"orderId": ORDER, "amount": 1000, "paymentMethod": "CARD", "card": CARD},
    "/api/v1/payments/complete": {"paymentId": PID, "pgTransactionId": "ch_missing", "amount": 5000},
    "/api/v1/payments/{payment_id}/confirm": {"token": "tok_visa"},
    "/api/v1/payments/{payment_id}/capture": {"amount": 100},
    "/api/v1/payments/{payment_id}/cancel": {"reason": "bad input"},
    "/api/v1/orders": {"orderId": "bad-order", "amount": 1000, "currency": "KRW"},
    "/api/v1/refunds": {"paymentId": PID, "amount": 100},
    "/api/v1/customers/{customer_id}/payment-methods": {"token": "tok_visa"},
    "/api/v1/customers/{customer_id}/payment-methods/{method_id}/default": None,
    "/api/v1/sandbox/tokens": {"card": CARD},
    "/api/v1/sandbox/3ds/{payment_id}": {"result": "approve"},
    "/api/v1/sandbox/pay": {"clientToken": "ct_missing", "card": CARD},
    "/api/v1/sandbox/virtual-accounts/{payment_number}/deposit": None,
    "/api/v1/sandbox/keyed-payments": KEYED,
    "/api/v1/webhooks/payments": {"type": "payment.succeeded", "data": {"paymentId": PID}},
    "/api/v1/webhook-endpoints": {"url": "http://127.0.0.1:9/hook", "events": ["*"]},
    "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret": None,
    "/api/v1/events/{event_id}/redeliver": {},
    "/v1/payments": KEYED,
    "/v1/payments/confirm": KEYED,
    "/v1/payments/{payment_key}/cancel": {"cancelReason": "bad input"},
    "/checkout/{payment_id}": "form",
    "/checkout/{payment_id}/3ds": "form",
    "/api/payments/confirm": KEYED,
    "/api/payments/callback": {"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "pk_missing"}},
    "/api/payments/callback/{merchant_id}": {"eventType": "PAYMENT_STATUS_CHANGED",
                                             "data": {"paymentKey": "pk_missing"}},
    "/api/shopping/payments": {"orderNumber": ORDER, "paymentMethod": "CARD", "amount": 1000, "cardInfo": SHOP_CARD},
    "/api/shopping/payments/{payment_number}/cancel": None,
    "/api/shopping/payments/{payment_number}/refund": None,
    "/api/v1/reconciliation/runs": {"from": "2026-01-05", "to": "2026-01-05", "pg": "bad-pg"},
    "/api/v1/reconciliation/imports": {"pg": "bad-pg", "csv": "{report}"},
    "/api/v1/reconciliation/exceptions/{exception_id}/resolve": {"note": "checked"},
}
USER_ROUTES = {"/api/v1/payments", "/api/v1/payments/complete", "/api/shopping/payments",
               "/api/shopping/payments/{payment_number}/cancel", "/api/shopping/payments/{payment_number}/refund"}
ODD_IDS = ["\x01", "%00", "a\x7fb", "\u202eevil", "결제", "x" * 300, "%ff%fe", "..%2f..%2fetc"]


def post_routes() -> list[str]:
    from conftest import make_settings
    from gyeol.app import create_app

    app = create_app(make_settings("sqlite:///unused.db", Path("/tmp/unused-var"), key_hash_secret="x",
                                   encryption_keys=Fernet.generate_key().decode()))
    # The dashboard's forms are a signed-in browser's, not a key's: tests/test_dashboard_auth.py posts bad input
    # to each of them as staff (test_every_dashboard_post_refuses_bad_input_and_changes_nothing).
    return sorted(r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())
                  and not r.path.startswith("/dashboard/"))


def test_every_post_route_has_a_valid_body_here() -> None:
    missing = [p for p in post_routes() if p not in VALID]
    assert not missing, f"POST routes without a case in test_bad_inputs.VALID: {missing}"
    gone = [p for p in VALID if p not in post_routes()]
    assert not gone, f"cases for routes that no longer exist: {gone}"


def _mutations(route: str, valid: Any, schema: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """(what, request kwargs): each a request the route must refuse."""
    json_ct = {"content-type": J}
    out: list[tuple[str, dict[str, Any]]] = [
        ("invalid utf-8", {"content": b'{"orderId":"\xff\xfe"}', "headers": json_ct}),
        ("duplicate key", {"content": b'{"amount":1,"amount":2}', "headers": json_ct}),
        ("form body", {"content": b"orderId=x&amount=1", "headers": {"content-type":
                                                                      "application/x-www-form-urlencoded"}}),
        ("array body", {"content": b"[]", "headers": json_ct}),
        ("deep body", {"content": b'{"a":' * 70 + b"1" + b"}" * 70, "headers": json_ct}),
        ("huge body", {"content": b'{"a":"' + b"x" * (1024 * 1024 + 10) + b'"}', "headers": json_ct}),
        ("latin-1", {"content": b'{"a":"caf\xe9"}', "headers": {"content-type": "application/json; charset=latin-1"}}),
    ]
    if valid == "form":
        return [(w, k) for w, k in out if w != "form body"]
    if valid is None:  # a route that reads no body ignores a well-formed one
        return [(w, k) for w, k in out if w != "array body"]
    if schema is not None and schema.get("required"):
        out.append(("empty body", {"content": b"", "headers": json_ct}))
        out.append(("null body", {"content": b"null", "headers": json_ct}))
    raw = orjson.dumps(valid)
    if len(valid) and raw.startswith(b"{"):
        first = raw[1:raw.index(b",") if b"," in raw else -1]
        out.append(("duplicate of a real key", {"content": b"{" + first + b"," + raw[1:], "headers": json_ct}))
    if schema is None:
        return out
    for name in schema.get("required", []):
        out.append((f"missing {name}", {"json": {k: v for k, v in valid.items() if k != name}}))
    if schema.get("additionalProperties") is False:
        out.append(("extra field", {"json": {**valid, "zzUnknown": 1}}))
    for name, value in valid.items():
        wrong: list[Any] = [{"x": 1}, [value]] if not isinstance(value, dict | list) else ["x", 7]
        if isinstance(value, str):
            wrong += [12345, None if name in schema.get("required", []) else True]
            wrong += ["x\x00y", "x" * 5000]
            if name.endswith(("Id", "Key", "Number", "token", "Token")):
                wrong += ["id\u202e", "주문\x01", " "]
        elif isinstance(value, bool):
            wrong += ["yes", 1]
        elif isinstance(value, int):
            wrong += [str(value), value + 0.5, True, -1, 0, 10**30, -(2**63), 2**63]
        out += [(f"{name}={w!r:.30}", {"json": {**valid, name: w}}) for w in wrong]
    return out


async def _world(env: Env) -> dict[str, str]:
    await enable_users(env)
    pay = await env.intent(5000)
    tok = (await env.client.post("/api/v1/sandbox/tokens", json={"card": CARD})).json()["token"]
    method = (await env.client.post("/api/v1/customers/cus-bad/payment-methods", json={"token": tok})).json()
    endpoint = (await env.client.post("/api/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/h",
                                                                          "events": ["*"]})).json()
    shop_order = await order_for(env, "bad-user", 1000)
    number = (await user(env, "bad-user").post("/api/shopping/payments", json={
        "orderNumber": shop_order, "paymentMethod": "CARD", "amount": 1000, "cardInfo": SHOP_CARD})).json()
    await env.svc.relay.run_once()
    event = (await env.client.get("/api/v1/events")).json()["items"][0]["id"]
    day = env.svc.clock.now().astimezone(KST).date().isoformat()
    report = ("transaction_id,order_id,type,amount,fee,vat,net,currency,sold_date,payout_date\n"
              f"tx-bad-1,bad-order,payment,1000,25,2,975,KRW,{day},{day}\n")
    await env.client.post("/api/v1/reconciliation/imports", json={"pg": "bad-pg", "csv": report})
    await env.client.post("/api/v1/reconciliation/runs", json={"from": day, "to": day, "pg": "bad-pg"})
    exception = (await env.client.get("/api/v1/reconciliation/exceptions")).json()["items"][0]["itemId"]
    return {"payment_id": pay["paymentId"], "customer_id": "cus-bad", "method_id": method["paymentMethodId"],
            "payment_number": number["data"]["paymentNumber"], "endpoint_id": endpoint["endpointId"],
            "event_id": event, "payment_key": "pk_bad_inputs", "merchant_id": env.merchant_id,
            "order": await order_for(env, "bad-user", 1000), "pid": pay["paymentId"], "exception_id": exception,
            "report": report}


def _fill(value: Any, world: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return world[value[1:-1]]
    return value


@pytest.mark.parametrize("route", sorted(VALID))
async def test_every_post_refuses_bad_input_in_its_face_format_and_changes_nothing(
        db_url: str, tmp_path: Path, route: str) -> None:
    env = await make_env(db_url, tmp_path, rate_limit_public=1e6)
    try:
        world = await _world(env)
        client = user(env, "bad-user", "USER", "ADMIN") if route in USER_ROUTES else env.client
        openapi = env.app.openapi()
        schema = None
        body_ref = (openapi["paths"].get(route, {}).get("post", {}).get("requestBody", {}).get("content", {})
                    .get(J, {}).get("schema", {}).get("$ref"))
        if body_ref:
            schema = openapi["components"]["schemas"][body_ref.rsplit("/", 1)[-1]]
        valid = _fill(VALID[route], world)
        path = route.format(**world)
        cases = _mutations(route, valid, schema)
        for name in re.findall(r"{(\w+)}", route):
            for odd in ODD_IDS:
                odd_path = route.format(**{**world, name: quote(odd, safe="%")})
                body = {"json": valid} if isinstance(valid, dict) else {"content": b"token=x", "headers": {
                    "content-type": "application/x-www-form-urlencoded"}} if valid == "form" else {}
                cases.append((f"{name}={odd!r:.20}", {**body, "_path": odd_path}))
        assert len(cases) >= 8
        for what, kwargs in cases:
            target = kwargs.pop("_path", path)
            before = await counts(env)
            r = await client.post(target, **kwargs)
            assert 400 <= r.status_code < 500, (route, what, r.status_code, r.text[:300])
            assert_face_error(route, r)
            assert "4242424242424242" not in r.text and "1234-5678-9012-3456" not in r.text
            assert await counts(env) == before, (route, what, "changed rows")
    finally:
        await env.close()


def list_routes() -> dict[str, set[str]]:
    """GET routes that page, with the paging parameters each takes."""
    from conftest import make_settings
    from gyeol.app import create_app

    app = create_app(make_settings("sqlite:///unused.db", Path("/tmp/unused-var"), key_hash_secret="x",
                                   encryption_keys=Fernet.generate_key().decode()))
    found: dict[str, set[str]] = {}
    for path, ops in app.openapi()["paths"].items():
        names = {q.get("name") for q in ops.get("get", {}).get("parameters", [])} & {"page", "size"}
        if names:
            found[path] = names
    return found


@pytest.mark.parametrize("query", ["page=-1", "page=0", f"size={10**9}", "size=0", "size=-5", "page=x",
                                   f"page={10**30}", "size=1.5"])
async def test_every_list_refuses_bad_paging_in_its_face_format(env: Env, query: str) -> None:
    await enable_users(env)
    routes = list_routes()
    assert {"/api/v1/payments", "/api/v1/payments/me", "/api/v1/events"} <= set(routes)
    for route, takes in routes.items():
        if query.split("=")[0] not in takes:
            continue
        client = user(env, "pager") if route.endswith("/me") else env.client
        path = route.replace("{endpoint_id}", "we_missing")
        r = await client.get(f"{path}?{query}")
        assert_face_error(path, r, 400)
