"""The database away: PostgreSQL refusing connections, or accepting and dropping them, and PostgreSQL restarted
during traffic. While it cannot be reached, every face answers 503 with Retry-After in its own format, never 500,
and /readyz says so; when it is back the same process serves again by itself, and a request cut off is answered
as its own under its Idempotency-Key, charged once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.engine import make_url

from conftest import truncate_all
from faces import assert_face_error
from faults import Gate, until_answered
from procs import Server, gyeol_env
from stores import PrivatePostgres

KEY = "test_sk_away"
MERCHANT = {"Authorization": f"Bearer {KEY}"}
KIOSK = {"Authorization": "Basic dGVzdF9za19hd2F5Og=="}  # test_sk_away:
JWT_SECRET = "test-jwt-secret-for-the-away-tests-0123456789"


def _user(sub: str = "away-user") -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": sub, "roles": ["USER"], "iat": now, "exp": now + 3600}, JWT_SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def _env(db_url: str, var: Path) -> dict[str, str]:
    return gyeol_env(db_url, var, GYEOL_TEST_SECRET_KEY=KEY, GYEOL_JWT_SECRET=JWT_SECRET,
                     GYEOL_IDEMPOTENCY_LEASE_SECONDS="2")


def _pay(order: str, amount: int = 1000) -> dict[str, Any]:
    return {"orderId": order, "amount": amount, "currency": "KRW", "confirm": True,
            "methodOptions": {"token": "tok_visa"}}


# One request of each face, and of a caller whose key the server has not seen (looked up in the database).
FACE_REQUESTS: list[tuple[str, str, dict[str, str], dict[str, Any] | None]] = [
    ("POST", "/api/v1/payments/intent", MERCHANT, _pay("away-native")),
    ("GET", "/api/v1/payments", MERCHANT, None),
    ("GET", "/api/v1/payments", {"Authorization": "Bearer test_sk_never_seen_before_0123456789"}, None),
    ("GET", "/api/v1/payments/me", _user(), None),
    ("POST", "/v1/payments", KIOSK, {"paymentKey": "pk_away", "orderId": "away-kiosk", "amount": 5000}),
    ("GET", "/v1/payments/pk_away", KIOSK, None),
    ("POST", "/api/payments/confirm", MERCHANT, {"paymentKey": "pk_shop", "orderId": "away-shop", "amount": 5000}),
    ("GET", "/api/shopping/payments/PAY-AWAY", _user(), None),
    ("GET", "/receipts/rcpt_away", {}, None),
]


async def _all_faces_unavailable(c: httpx.AsyncClient) -> None:
    for n, (method, path, headers, body) in enumerate(FACE_REQUESTS):
        if method == "POST":
            headers = {**headers, "Idempotency-Key": f"away-face-{n}-{time.monotonic_ns()}"}
        r = await c.request(method, path, json=body, headers=headers)
        assert_face_error(path, r, 503)
        assert r.headers.get("retry-after", "").isdigit(), (path, r.headers)
    r = await c.get("/readyz")
    assert (r.status_code, r.json()["database"]) == (503, "unreachable"), r.text


async def _ready_again(c: httpx.AsyncClient) -> None:
    """The same process serves again by itself once the database is back (a few tries: it must first see it)."""
    for _ in range(100):
        if (await c.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the server did not find the database again")


async def _one_charge(c: httpx.AsyncClient, r: httpx.Response, order: str, amount: int) -> None:
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["status"], got["orderId"], got["amount"]) == ("succeeded", order, amount), got
    for _ in range(100):  # a read that meets a connection the restart ended is a 503 to retry, like any other
        got_charges = await c.get("/api/v1/sandbox/charges", params={"paymentId": got["paymentId"]})
        if got_charges.status_code != 503:
            break
        await asyncio.sleep(0.1)
    charges = got_charges.json()["items"]
    assert [(x["kind"], x["status"]) for x in charges] == [("charge", "succeeded")], (order, charges)


async def test_a_database_that_cannot_be_reached_is_a_503_in_every_face_and_the_server_recovers(
        pg_url: str | None, tmp_path: Path) -> None:
    if pg_url is None:
        pytest.skip("PostgreSQL unreachable")
    truncate_all(pg_url)
    u = make_url(pg_url)
    with Gate(u.host or "127.0.0.1", u.port or 5432) as gate:
        url = u.set(host="127.0.0.1", port=gate.port).render_as_string(hide_password=False)
        with Server(_env(url, tmp_path / "var")) as s:
            await asyncio.to_thread(s.wait_ready)
            async with httpx.AsyncClient(base_url=s.url, headers=MERCHANT, timeout=60) as c:
                r = await c.post("/api/v1/payments/intent", json=_pay("before"))
                await _one_charge(c, r, "before", 1000)
                for mode in ("refuse", "drop"):
                    gate.set(mode)
                    await _all_faces_unavailable(c)
                    # A payment under its key, refused while the database is away, then retried.
                    key = {"Idempotency-Key": f"cut-{mode}"}
                    cut = await c.post("/api/v1/payments/intent", json=_pay(f"cut-{mode}", 2000), headers=key)
                    assert_face_error("/api/v1/payments/intent", cut, 503)
                    assert cut.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
                    gate.set("open")
                    await _ready_again(c)
                    retried = await c.post("/api/v1/payments/intent", json=_pay(f"cut-{mode}", 2000), headers=key)
                    await _one_charge(c, retried, f"cut-{mode}", 2000)
                    assert (await c.get("/api/v1/payments/me", headers=_user())).status_code == 200
                await _through_an_outage(c, lambda: gate.set("refuse"), lambda: gate.set("open"))
        assert s.proc.returncode in (0, -15), s.output()[-3000:]
        assert "Traceback" not in s.output(), s.output()[-3000:]


async def _through_an_outage(c: httpx.AsyncClient, *outage: Callable[[], None], payments: int = 120) -> None:
    """Payments at concurrency 8, each retried under its own key; once a sixth are answered, each of `outage` (the
    database going away, coming back) runs in turn, a second and a half apart. Every payment ends as its own
    success, charged once; the tries the outage cut were answered 503, never a 500."""
    retried: Counter[str] = Counter()
    answered: list[int] = []
    going = asyncio.Event()
    sem = asyncio.Semaphore(8)

    async def pay(n: int) -> httpx.Response:
        async with sem:
            r = await until_answered(c, "/api/v1/payments/intent", _pay(f"flow-{n}", 1000 + n), f"flow-{n}",
                                     retried=retried)
        answered.append(n)
        if len(answered) >= payments // 6:
            going.set()
        return r

    flow = [asyncio.create_task(pay(n)) for n in range(payments)]
    await going.wait()
    for step in outage:
        await asyncio.to_thread(step)
        await asyncio.sleep(1.5)
    answers = await asyncio.gather(*flow)
    assert retried["503"] > 0 and set(retried) == {"503"}, retried
    for n, r in enumerate(answers):
        await _one_charge(c, r, f"flow-{n}", 1000 + n)


async def test_postgresql_restarted_during_traffic_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with PrivatePostgres() as pg, Server(_env(pg.url, tmp_path / "var")) as s:
        await asyncio.to_thread(s.wait_ready)
        async with httpx.AsyncClient(base_url=s.url, headers=MERCHANT, timeout=60) as c:
            await _through_an_outage(c, pg.restart, pg.restart)
            await _ready_again(c)
        assert s.proc.poll() is None, "the server died"
    assert "Traceback" not in s.output(), s.output()[-3000:]
