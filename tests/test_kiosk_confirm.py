"""A kiosk confirm does its work in one pass: the receipt id is written by the transaction that applies the PG's
approval, and the confirm answers with the payment as that transaction left it, without reading it again."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg.prepared_stmt import PreparedStatement

from conftest import Env
from test_checkout_pages import GOOD, Buyer
from test_kiosk import kiosk  # noqa: F401  (the fixture)

Kiosk = tuple[Env, httpx.AsyncClient]


async def test_an_approval_carries_its_receipt_whatever_approved_it(kiosk: Kiosk) -> None:  # noqa: F811
    env, c = kiosk
    r = await c.post("/api/v1/payments/intent", json={"orderId": "n-receipt", "amount": 700, "currency": "KRW",
                                                      "confirm": True, "methodOptions": {"token": "tok_visa"}})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    got = (await c.get(f"/v1/payments/{r.json()['paymentId']}")).json()
    assert got["status"] == "APPROVED" and got["receipt"]["url"].startswith("http://testserver/receipts/rcpt_")
    page = await env.client_for().get(got["receipt"]["url"].removeprefix("http://testserver"))
    assert page.status_code == 200 and "₩700" in page.text


@pytest.fixture
def round_trips(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Each call that goes to PostgreSQL and waits for its answer, counted while `[0]` is not negative; BEGIN and
    COMMIT are statements on the connection too."""
    if not db_url.startswith("postgres"):
        pytest.skip("a statement on SQLite is no round trip")
    count = [-1]

    def counting(cls: type, name: str) -> None:
        original: Callable[..., Any] = getattr(cls, name)

        async def counted(self: Any, *args: Any, **kw: Any) -> Any:
            if count[0] >= 0:
                count[0] += 1
            return await original(self, *args, **kw)

        monkeypatch.setattr(cls, name, counted)

    for name in ("execute", "fetch", "fetchrow", "fetchval", "prepare"):
        counting(asyncpg.Connection, name)
    for name in ("fetch", "fetchrow", "fetchval", "executemany"):
        counting(PreparedStatement, name)
    yield count


async def _confirm_trips(c: httpx.AsyncClient, count: list[int], triple: dict[str, Any]) -> int:
    count[0] = 0
    r = await c.post("/v1/payments/confirm", json=triple)
    trips, count[0] = count[0], -1
    assert r.status_code == 200 and r.json()["status"] == "APPROVED", r.text
    assert r.json()["receipt"]["url"].startswith("http://testserver/receipts/rcpt_")
    return trips


async def test_a_confirm_reads_the_payment_once(kiosk: Kiosk, round_trips: list[int]) -> None:  # noqa: F811
    env, c = kiosk
    seed, window = [], []
    for _ in range(3):  # the first of each warms the connections' prepared statements
        key = uuid.uuid4().hex
        triple = {"paymentKey": key, "orderId": "o" + key, "amount": 10_000}
        assert (await c.post("/v1/payments", json=triple)).status_code == 200
        seed.append(await _confirm_trips(c, round_trips, triple))

        key = uuid.uuid4().hex
        triple = {"paymentKey": key, "orderId": "o" + key, "amount": 10_000}
        created = (await c.post("/v1/payments", json={**triple, "successUrl": "https://kiosk.example/ok"})).json()
        assert (await Buyer(env, created["checkout"]["url"]).pay_card(GOOD)).status_code == 303
        window.append(await _confirm_trips(c, round_trips, triple))
    # Seed 001's create -> confirm: the payment read, the merchant's PG chosen, the attempt's transaction (BEGIN,
    # the payment and its order locked, the order's other payments looked at, the attempt written with the move,
    # COMMIT), the sandbox PG's own three, and the answer's transaction (BEGIN, the locked read, one write, COMMIT).
    assert min(seed) <= 15, seed
    # A payment the buyer authenticated: the payment read, the authentication taken (BEGIN, one UPDATE, COMMIT),
    # the sandbox PG's own two (the card behind its token, the charge), and the answer's transaction.
    assert min(window) <= 10, window
