"""Payments that ran out of time, canceled by the worker's jobs: intents never paid, authentications never
confirmed (`authenticated.py`), and virtual accounts never deposited into."""

from __future__ import annotations

from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.payments import accounts
from gyeol.core.payments import repository as repo
from gyeol.core.payments.answers import Answers, emit
from gyeol.core.payments.authenticated import Authentications
from gyeol.core.payments.intents import Intents
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.states import PAYMENT
from gyeol.db.engine import Database


class Expiry:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, answers: Answers,
                 intents: Intents, authenticated: Authentications) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.answers = answers
        self.intents = intents
        self.authenticated = authenticated

    async def expire_due(self, limit: int = 500) -> list[str]:
        """Cancel intents past their `expiresAt` that never took money (created, or failed and not retried), and
        payments authenticated in the buyer's window that their merchant did not confirm in time."""
        now = self.clock.now()
        async with self.db.read() as conn:
            ids = await repo.due_to_expire(conn, now, limit)
        expired = []
        for payment_id in ids:
            async with self.db.tx() as conn:
                p = await repo.get_any(conn, payment_id, lock=True)
                if p is None or not PAYMENT.allows(p.status, "expire") or p.expires_at > now:
                    continue  # paid, retried or canceled since the list was read
                p = await repo.transition(conn, p, "expire", now, canceled_at=now, failure_reason=p.failure_reason)
                await emit(conn, p, "payment.canceled", now)
                expired.append(payment_id)
        return expired + await self.authenticated.expire_due(limit)

    async def expire_virtual_accounts(self, limit: int = 200) -> list[str]:
        """Virtual accounts unpaid after their due date: the waiting charge is voided and the payment canceled."""
        now = self.clock.now()
        async with self.db.read() as conn:
            due = await accounts.due_virtual_accounts(conn, now, limit)
        expired = []
        for payment_id in due:
            async with self.db.read() as conn:
                p = await repo.get_any(conn, payment_id)
            if p is None:
                continue
            if p.open_attempt_id:
                # The deposit may have reached the PG while its webhook was lost: ask before expiring.
                async with self.db.read() as conn:
                    a = await repo.get_attempt(conn, p.open_attempt_id)
                if a is not None and a.status == "requires_action":
                    found = await self.pgs.ask(a, p)
                    if found is None:
                        continue
                    if found.outcome in ("succeeded", "authorized"):
                        await self.answers.apply_result(a.id, found)
                        continue
            system = Caller(merchant_id=p.merchant_id, mode="live" if p.livemode else "test")
            try:
                charge = await self.intents.cancel(system, payment_id, "virtual account expired")
            except DomainError:
                continue  # in flight or already settled; the next pass looks again
            if charge.payment.status == "canceled":
                async with self.db.tx() as conn:
                    await accounts.set_status(conn, payment_id, "expired", now)
                    p = await repo.get_any(conn, payment_id)
                    assert p is not None
                    await emit(conn, p, "virtual_account.expired", now)
                expired.append(payment_id)
        return expired
