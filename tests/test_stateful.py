"""Random sequences of create/confirm/capture/cancel/refund through HTTP; after every step the invariants hold:
statuses only move along the transition table, and refunded <= captured <= authorized <= amount. At the end of
every example, `gyeol ledger verify`'s check finds the ledger in agreement with the payments, refunds and
settlements."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from conftest import Env, make_env
from gyeol.core.states import PAYMENT
from gyeol.models import payments

# Every (from, to) the table can produce, plus "same status" (a refused or no-op request).
ALLOWED = {(s, n) for (s, _), n in PAYMENT.table.items()}


def run_machine(db_url: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    env: Env = loop.run_until_complete(make_env(db_url, tmp_path / "m", rate_limit=1e9))
    merchants = iter(range(10_000))

    class PaymentMachine(RuleBasedStateMachine):
        ids = Bundle("ids")

        def __init__(self) -> None:
            super().__init__()
            self.client, _, self.merchant_id = loop.run_until_complete(env.new_merchant(f"m{next(merchants)}"))
            self.seen: dict[str, str] = {}
            self.n = 0

        def call(self, method: str, path: str, body: Any = None) -> Any:
            return loop.run_until_complete(self.client.request(method, path, json=body))

        @initialize()
        def clean(self) -> None:
            pass

        @rule(target=ids, amount=st.integers(1, 100_000), capture=st.booleans(),
              confirm=st.sampled_from([None, "tok_visa", "tok_chargeDeclined"]))
        def create(self, amount: int, capture: bool, confirm: str | None) -> str:
            self.n += 1
            body: dict[str, Any] = {"orderId": f"sm-{id(self)}-{self.n}", "amount": amount, "currency": "KRW",
                                    "capture": capture}
            if confirm:
                body |= {"confirm": True, "methodOptions": {"token": confirm}}
            r = self.call("POST", "/api/v1/payments/intent", body)
            assert r.status_code in (200, 402), r.text
            pid = r.json()["paymentId"] if r.status_code == 200 else r.json()["error"]["details"]["paymentId"]
            self.seen[pid] = "created"
            return str(pid)

        @rule(pid=ids, token=st.sampled_from(["tok_visa", "tok_chargeDeclined"]))
        def confirm(self, pid: str, token: str) -> None:
            r = self.call("POST", f"/api/v1/payments/{pid}/confirm", {"token": token})
            assert r.status_code in (200, 402, 409), r.text

        @rule(pid=ids, part=st.floats(0.1, 1.0))
        def capture(self, pid: str, part: float) -> None:
            got = self.call("GET", f"/api/v1/payments/{pid}").json()
            amount = max(1, int(got["amount"] * part))
            r = self.call("POST", f"/api/v1/payments/{pid}/capture", {"amount": amount})
            assert r.status_code in (200, 400, 409), r.text

        @rule(pid=ids)
        def cancel(self, pid: str) -> None:
            r = self.call("POST", f"/api/v1/payments/{pid}/cancel")
            assert r.status_code in (200, 409), r.text

        @rule(pid=ids, amount=st.one_of(st.none(), st.integers(1, 100_000)))
        def refund(self, pid: str, amount: int | None) -> None:
            body: dict[str, Any] = {"paymentId": pid}
            if amount is not None:
                body["amount"] = amount
            r = self.call("POST", "/api/v1/refunds", body)
            assert r.status_code in (200, 409), r.text

        @invariant()
        def money_and_statuses(self) -> None:
            async def rows() -> list[Any]:
                async with env.svc.db.read() as conn:
                    q = sa.select(payments).where(payments.c.merchant_id == self.merchant_id)
                    return list((await conn.execute(q)).mappings())
            for p in loop.run_until_complete(rows()):
                assert 0 <= p["refunded_amount"] <= p["captured_amount"] <= p["authorized_amount"] <= p["amount"]
                assert p["refunding_amount"] == 0 and p["open_attempt_id"] is None
                before = self.seen.get(p["id"], "created")
                now = p["status"]
                if now != before:
                    assert self._reachable(before, now), (before, now)
                self.seen[p["id"]] = now

        def teardown(self) -> None:
            report = loop.run_until_complete(env.svc.ledger.verify())
            assert report.differences == [], report.differences

        @staticmethod
        def _reachable(a: str, b: str) -> bool:
            # One request may take several steps (confirm: created -> pending -> succeeded).
            frontier, seen = {a}, {a}
            for _ in range(3):
                frontier = {n for s in frontier for (x, n) in ALLOWED if x == s} - seen
                seen |= frontier
            return b in seen

    PaymentMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=12, deadline=None,
                                                suppress_health_check=list(HealthCheck))
    async def close() -> None:
        await env.close()

    try:
        PaymentMachine.TestCase().runTest()
    finally:
        loop.run_until_complete(close())
        loop.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_payment_state_machine(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if store == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        import shutil

        shutil.copy(template, tmp_path / "sm.db")
        url = f"sqlite:///{tmp_path / 'sm.db'}"
    else:
        pg: str | None = request.getfixturevalue("pg_url")
        if pg is None:
            pytest.skip("PostgreSQL unreachable")
        from conftest import truncate_all

        truncate_all(pg)
        url = pg
    run_machine(url, tmp_path)
