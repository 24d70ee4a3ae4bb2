"""Abuse and limits (issue 28, part 3): rate limits per key and per address, slow and oversized requests, the
input that once answered 500, and users' tokens without a role. Each refusal is a 4xx in the face's own format,
and changes nothing."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Env, make_env
from faces import assert_face_error
from procs import Server, gyeol_env
from test_bad_inputs import counts
from users import enable_users, order_for, token, user

CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2040, "cvc": "123"}
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def intent(order_id: str, **extra: Any) -> dict[str, Any]:
    return {"orderId": order_id, "amount": 1000, "currency": "KRW", **extra}


async def test_a_nul_in_a_path_id_is_a_4xx_in_the_face_format(env: Env) -> None:
    await enable_users(env)
    shopper = user(env, "u-nul")
    before = await counts(env)
    for method, path in [("GET", "/api/v1/payments/%00"), ("GET", "/v1/payments/%00"), ("GET", "/receipts/%00"),
                         ("GET", "/checkout/%00"), ("GET", "/api/shopping/payments/%00"),
                         ("GET", "/api/v1/payments/pay%00x"), ("POST", "/api/v1/payments/%00/cancel"),
                         ("POST", "/v1/payments/%00/cancel"), ("POST", "/api/shopping/payments/%00/cancel"),
                         ("GET", "/checkout/pay_x?token=%00"), ("GET", "/api/v1/payments?status=%00")]:
        client = shopper if path.startswith("/api/shopping") else env.client
        r = await client.request(method, path, json={"cancelReason": "x"} if method == "POST" else None)
        assert_face_error(path, r)
    r = await env.client.post("/checkout/pay_x", content=b"token=%00&method=card", headers=FORM)
    assert_face_error("/checkout/pay_x", r)
    assert await counts(env) == before


async def test_json_nested_deeper_than_64_is_400(env: Env) -> None:
    def body(order_id: str, levels: int) -> bytes:  # the body is one level, metadata the rest
        inner = b'{"a":' * levels + b'"x"' + b"}" * levels
        return b'{"orderId":"%s","amount":1000,"currency":"KRW","metadata":%s}' % (order_id.encode(), inner)

    before = await counts(env)
    for levels in (64, 500, 5000):
        r = await env.client.post("/api/v1/payments/intent", content=body("deep-1", levels), headers=JSON)
        assert_face_error("/api/v1/payments/intent", r, 400)
        assert r.json()["error"]["code"] == "JSON_TOO_DEEP"
    deep_list = b'{"orderId":"deep-2","amount":1000,"currency":"KRW","metadata":{"a":' + b"[" * 70 + b"]" * 70 + b"}}"
    r = await env.client.post("/api/v1/payments/intent", content=deep_list, headers=JSON)
    assert r.json()["error"]["code"] == "JSON_TOO_DEEP"
    assert await counts(env) == before
    r = await env.client.post("/api/v1/payments/intent", content=body("deep-3", 63), headers=JSON)
    assert r.status_code == 200, r.text


async def test_a_duplicate_key_is_refused_not_read_as_the_last(env: Env) -> None:
    before = await counts(env)
    raw = b'{"orderId":"dup-1","amount":100,"amount":999999999,"currency":"KRW"}'
    r = await env.client.post("/api/v1/payments/intent", content=raw, headers=JSON)
    assert_face_error("/api/v1/payments/intent", r, 400)
    assert r.json()["error"]["code"] == "DUPLICATE_KEY"
    nested_dup = b'{"orderId":"dup-2","amount":100,"currency":"KRW","metadata":{"k":1,"k":2}}'
    r = await env.client.post("/api/v1/payments/intent", content=nested_dup, headers=JSON)
    assert r.status_code == 400 and r.json()["error"]["code"] == "DUPLICATE_KEY"
    assert await counts(env) == before


async def test_json_in_another_charset_is_415_and_utf8_is_fine(env: Env) -> None:
    before = await counts(env)
    body = b'{"orderId":"cs-1","amount":1000,"currency":"KRW","description":"caf\xe9"}'
    for charset in ("latin-1", "ISO-8859-1", "utf-16", '"windows-1252"'):
        r = await env.client.post("/api/v1/payments/intent", content=body,
                                  headers={"content-type": f"application/json; charset={charset}"})
        assert_face_error("/api/v1/payments/intent", r, 415)
    r = await env.client.post("/api/v1/payments/intent", content=body, headers=JSON)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_JSON"  # \xe9 alone is not UTF-8
    assert await counts(env) == before
    r = await env.client.post("/api/v1/payments/intent", content='{"orderId":"cs-2","amount":1000,'
                              '"currency":"KRW","description":"café"}'.encode(),
                              headers={"content-type": "application/json; charset=UTF-8"})
    assert r.status_code == 200, r.text


async def test_nul_and_half_surrogates_in_json_strings_are_400(env: Env) -> None:
    before = await counts(env)
    for raw in (b'{"orderId":"n-1","amount":1000,"currency":"KRW","description":"a\\u0000b"}',
                b'{"orderId":"n-1","amount":1000,"currency":"KRW","metadata":{"k\\u0000":1}}',
                b'{"orderId":"n-1","amount":1000,"currency":"KRW","description":"\\ud800"}'):
        r = await env.client.post("/api/v1/payments/intent", content=raw, headers=JSON)
        assert_face_error("/api/v1/payments/intent", r, 400)
    assert await counts(env) == before
    emoji = b'{"orderId":"n-2","amount":1000,"currency":"KRW","description":"\\ud83d\\ude00 \\\\u0000"}'
    r = await env.client.post("/api/v1/payments/intent", content=emoji, headers=JSON)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("url", ["http://[::1/x", "http://127.0.0.1:99999/x", "http://127.0.0.1:0/x",
                                 "http://[::169.254.169.254]/", "http://[::ffff:0:a9fe:a9fe]/"])
async def test_malformed_or_unsafe_webhook_urls_are_400(env: Env, url: str) -> None:
    before = await counts(env)
    r = await env.client.post("/api/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
    assert_face_error("/api/v1/webhook-endpoints", r, 400)
    assert await counts(env) == before


async def test_a_malformed_return_url_is_refused_before_the_checkout_needs_it(env: Env) -> None:
    r = await env.client.post("/api/v1/payments/intent", json=intent("url-1", returnUrl="http://[::1/x"))
    assert_face_error("/api/v1/payments/intent", r, 400)
    r = await env.client.post("/v1/payments", json={"paymentKey": "pk_url", "orderId": "url-2", "amount": 1000,
                                                    "successUrl": "https://shop.example:99999/ok"})
    assert_face_error("/v1/payments", r, 400)


async def test_a_user_token_without_a_role_is_refused_alike_on_both_faces(env: Env) -> None:
    await enable_users(env)
    order = await order_for(env, "u-norole", 1000)
    for claims in ({"roles": None}, {"roles": []}, {"roles": ["GUEST"]}):
        roleless = env.client_for(token(env, "u-norole", **claims))
        r = await roleless.get("/api/v1/payments/me")
        assert_face_error("/api/v1/payments/me", r, 403)
        r = await roleless.post("/api/v1/payments", json={"orderId": order, "amount": 1000, "paymentMethod": "CARD",
                                                          "card": CARD})
        assert_face_error("/api/v1/payments", r, 403)
        r = await roleless.get("/api/shopping/payments/PAY-20260101-001")
        assert assert_face_error("/api/shopping/payments/x", r, 403)["code"] == "C002"
    ok = await user(env, "u-norole").get("/api/v1/payments/me")
    assert ok.status_code == 200, ok.text


async def test_unauthenticated_routes_are_limited_per_address(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path, rate_limit_public=0.5)  # a bucket of one request
    try:
        anon = env.client_for()
        assert (await anon.get("/receipts/rcpt_nope")).status_code == 404
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/receipts/rcpt_nope", {}),
            ("POST", "/checkout/pay_nope", {"content": b"token=t&method=card", "headers": FORM}),
            ("POST", "/checkout/pay_nope/3ds", {"content": b"token=t&result=approve", "headers": FORM}),
            ("POST", "/api/v1/sandbox/pay", {"json": {"clientToken": "ct_nope", "card": CARD}}),
        ]
        for method, path, kwargs in calls:
            r = await anon.request(method, path, **kwargs)
            assert_face_error(path, r, 429)
            assert int(r.headers["retry-after"]) >= 1
        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app, client=("10.9.8.7", 4321)),
                                  base_url="http://testserver")
        async with other:
            assert (await other.get("/receipts/rcpt_nope")).status_code == 404  # another address, its own bucket
    finally:
        await env.close()


async def test_every_face_limits_per_key_with_retry_after(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path, rate_limit=0.5)
    try:
        await enable_users(env)
        cases: list[tuple[str, Any]] = [
            ("/api/v1/refunds", {"paymentId": "pay_nope"}),
            ("/v1/payments/pk_nope/cancel", {"cancelReason": "x"}),
            ("/api/payments/confirm", {"paymentKey": "pk_nope", "orderId": "nope", "amount": 1000}),
            ("/api/shopping/payments/PAY-20260101-001/cancel", None),
        ]
        for i, (path, body) in enumerate(cases):
            if path.startswith("/api/shopping"):
                client = user(env, f"limited-{i}")
            else:
                _, key = await env.svc.merchants.create_key(env.merchant_id, "test")
                client = env.client_for(key)
            first = await client.post(path, json=body)
            assert first.status_code != 429, first.text
            r = await client.post(path, json=body)
            assert_face_error(path, r, 429)
            assert int(r.headers["retry-after"]) >= 1
    finally:
        await env.close()


async def test_the_body_limit_holds_on_pages_before_they_parse(env: Env) -> None:
    big = b"token=" + b"x" * (env.settings.max_body_bytes + 1)
    for path in ("/checkout/pay_x", "/checkout/pay_x/3ds"):
        r = await env.client.post(path, content=big, headers=FORM)
        assert_face_error(path, r, 413)


def _exchange(port: int, data: bytes, *, pause: float = 0.0, more: bytes = b"", wait: float = 8.0) -> bytes:
    """Send `data`, maybe `more` after `pause`, and read what the server answers until it closes (or `wait`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        if pause:
            time.sleep(pause)
            if more:
                try:
                    s.sendall(more)
                except OSError:
                    pass
        chunks = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_slow_and_oversized_requests_against_a_real_server(tmp_path: Path) -> None:
    env = gyeol_env(f"sqlite:///{tmp_path / 'g.db'}", tmp_path / "var", GYEOL_TEST_SECRET_KEY="test_sk_slow",
                    GYEOL_HEADER_TIMEOUT_SECONDS="1", GYEOL_BODY_TIMEOUT_SECONDS="1")
    with Server(env) as server:
        server.wait_ready()
        port = server.port
        started = time.monotonic()
        assert _exchange(port, b"").startswith(b"HTTP/1.1 408")  # connected, said nothing
        assert _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a", pause=0.5,
                         more=b"b\r\n").startswith(b"HTTP/1.1 408")  # headers trickle in
        assert time.monotonic() - started < 6
        head = (b"POST /api/v1/payments/intent HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test_sk_slow\r\n"
                b"Content-Type: application/json\r\nContent-Length: 60\r\n\r\n")
        slow_body = _exchange(port, head + b'{"orderId":', pause=2.0, more=b'"slow"}')
        assert slow_body.startswith(b"HTTP/1.1 408") and b'"REQUEST_TIMEOUT"' in slow_body, slow_body[:300]
        many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200))
        assert _exchange(port, many + b"\r\n").startswith(b"HTTP/1.1 431")
        huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 20_000 + b"\r\n\r\n"
        assert _exchange(port, huge).startswith(b"HTTP/1.1 431")
        long_target = b"GET /healthz?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        assert _exchange(port, long_target).startswith(b"HTTP/1.1 431")
        fine = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(50))
        assert _exchange(port, fine + b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 200")
        r = httpx.post(server.url + "/api/v1/payments/intent", headers={"Authorization": "Bearer test_sk_slow"},
                       json={"orderId": "after-abuse", "amount": 1000, "currency": "KRW"})
        assert r.status_code == 200, r.text
