"""Helpers of the dashboard's tests: a browser-like client (cookies, forms) signed in as a staff member."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from conftest import Env, client

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_KEY = re.compile(r'name="key" value="([^"]+)"')
_AUDIT_ROW = re.compile(r"<tr><td>[^<]*</td><td>([^<]*)</td><td class=\"id\">([^<]*)</td><td class=\"id\">([^<]*)</td>"
                        r"<td>[^<]*</td><td class=\"id\">([^<]*)</td></tr>")


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def key_of(html: str) -> str:
    found = _KEY.search(html)
    assert found, "no idempotency key on the page"
    return found.group(1)


def browser(env: Env, **headers: str) -> httpx.AsyncClient:
    c = client(env.transport, headers)
    env._clients.append(c)
    return c


async def sign_in(c: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await c.get("/dashboard/login")
    assert page.status_code == 200, page.text
    return await c.post("/dashboard/login", data={"csrf": csrf_of(page.text), "email": email,
                                                  "password": password})


async def staff_browser(env: Env, role: str = "owner", email: str | None = None,
                        merchant_id: str | None = None) -> httpx.AsyncClient:
    email = email or f"{role}@acme.example"
    await env.svc.staff.create(merchant_id or env.merchant_id, email, role, PASSWORD)
    c = browser(env)
    r = await sign_in(c, email)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard", r.text
    return c


async def page_csrf(c: httpx.AsyncClient, path: str = "/dashboard") -> str:
    r = await c.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


async def post_form(c: httpx.AsyncClient, path: str, **fields: Any) -> httpx.Response:
    return await c.post(path, data={k: str(v) for k, v in fields.items()})


async def audit_rows(c: httpx.AsyncClient, action: str | None = None) -> list[dict[str, str]]:
    """The audit log's first page as the dashboard shows it, newest first: who, action, target and details."""
    r = await c.get("/dashboard/audit", params={"action": action} if action else None)
    assert r.status_code == 200, r.text
    return [{"who": who, "action": act, "target": target, "details": html.unescape(details)}
            for who, act, target, details in _AUDIT_ROW.findall(r.text)]
