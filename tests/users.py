"""Users of the test merchant: its JWT settings, tokens, clients, and orders made for them."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import jwt

from conftest import Env
from gyeol.auth.users import JwtConfig

JWT_SECRET = "test-jwt-secret-for-acme-0123456789abcdef"


async def enable_users(env: Env, secret: str = JWT_SECRET, **config: Any) -> None:
    stored = JwtConfig(hs256_secret=secret, **config).stored(env.svc.cipher)
    await env.svc.merchants.update_settings(env.merchant_id, {"jwt": stored})
    env.svc.users.forget()


def token(env: Env, sub: str, *roles: str, secret: str = JWT_SECRET, ttl: int = 3600, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"sub": sub, "roles": list(roles or ("USER",)), "iat": now, "exp": now + ttl,
                            "mid": env.merchant_id, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm="HS256")


def user(env: Env, sub: str, *roles: str) -> httpx.AsyncClient:
    return env.client_for(token(env, sub, *roles))


async def order_for(env: Env, user_id: str, amount: int = 70_000, order_id: str | None = None) -> str:
    order_id = order_id or f"ORD-{secrets.token_hex(5)}"
    r = await env.client.post("/api/v1/orders", json={"orderId": order_id, "amount": amount, "currency": "KRW",
                                                      "userId": user_id})
    assert r.status_code == 200, r.text
    return order_id
