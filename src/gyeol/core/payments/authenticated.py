"""Toss-style payments: the buyer's window authenticates and holds no money; the merchant's confirm charges.

The window (`CheckoutService.pay`) records the buyer's method on an authorize attempt that waits, `authenticated`,
as the payment's open attempt: the payment is `pending`, with nothing authorized or captured, and no PG has been
asked for money. The merchant's confirm (`charge`) moves that attempt to `started` with one conditional update,
which only one of two racing confirms wins, then sends it to the PG and applies the answer by the one path
(`answers.apply_result`): the attempt is written before the PG call, and the PG is asked once.

An attempt the merchant did not confirm within `ttl` of the authentication expires: the payment is canceled with
`EXPIRED_PAYMENT` and `payment.expired`, and nothing was charged. The worker's expiry job does it (`expire_due`),
and a confirm refuses such a payment even when the job has not run yet.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.events import outbox
from gyeol.core.orders import repository as orders_repo
from gyeol.core.payments import repository as repo
from gyeol.core.payments.answers import EXPIRED, EXPIRED_MESSAGE, Answers, raise_for
from gyeol.core.payments.commands import ResolvedMethod
from gyeol.core.payments.intents import Intents
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.payments.records import Attempt, Channel, Charge, Payment
from gyeol.core.payments.repository import LockedAttempt
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.models import payment_attempts as att

# The merchant's confirm takes the waiting attempt, if it is still waiting and in time: the row it changed, or none.
START = (att.update()
         .where(att.c.id == sa.bindparam("w_id"), att.c.status == "authenticated",
                att.c.created_at > sa.bindparam("since"))
         .values(status="started", updated_at=sa.bindparam("now"))
         .returning(*att.c))
DUE = (sa.select(att.c.id).where(att.c.status == "authenticated", att.c.created_at <= sa.bindparam("since"))
       .order_by(att.c.created_at).limit(sa.bindparam("limit")))


def session_gone(payment_id: str) -> DomainError:
    """Toss's answer to a confirm of a payment whose window session is over."""
    return DomainError("not_found", "NOT_FOUND_PAYMENT_SESSION",
                       "The payment's time to be confirmed has passed; nothing was charged.",
                       details={"paymentId": payment_id})


def charged_at_confirm(p: Payment) -> bool:
    """Whether the buyer's window only authenticates `p`, and its merchant's confirm charges (Toss's way)."""
    return p.channel == Channel.TOSS_PAYMENT


def expired(p: Payment) -> bool:
    return p.status == "canceled" and p.failure_reason == EXPIRED


class Authentications:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, answers: Answers, intents: Intents, *,
                 ttl: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.answers = answers
        self.intents = intents
        self.ttl = ttl

    async def authenticate(self, caller: Caller, payment_id: str, method: ResolvedMethod) -> Payment:
        """The buyer authenticated with `method` in the window: the payment waits, pending, for the merchant's
        confirm, with the checks of a confirm (expiry, the order unpaid and its amount) made now."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            p = await repo.get(conn, caller, payment_id, lock=True)
            order = await orders_repo.get_by_pk(conn, p.order_pk, lock=True)
            p, _ = await self.intents.start_authorize(conn, p, order, method, now, attempt_status="authenticated")
        return p

    async def charge(self, caller: Caller, p: Payment, *, fault: str | None = None) -> Charge | None:
        """The merchant's confirm of pending payment `p`: its authenticated attempt sent to the PG and the answer
        applied. None when `p` has no attempt waiting for a confirm (a PG call of an earlier confirm is open)."""
        if p.open_attempt_id is None or not caller.owns(p.merchant_id, p.livemode):
            return None
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", p.id)
            row = await sql.one(conn, START, {"w_id": p.open_attempt_id, "since": now - self.ttl, "now": now})
            a = Attempt(**row) if row is not None else await repo.get_attempt(conn, p.open_attempt_id)
        if row is None and a is not None and a.status == "started" and idempotency.resumed("payment") != p.id:
            # Another confirm is sending it now (a retry of a request cut short carries it on instead).
            raise DomainError("conflict", "PAYMENT_IN_PROGRESS", "Another confirm of this payment is at the PG.",
                              details={"paymentId": p.id, "status": p.status})
        if a is None or (row is None and a.status != "authenticated"):
            return None  # no authentication waits: an earlier confirm's PG call is unanswered, or the payment moved on
        if row is None:  # still authenticated, so out of time
            async with self.db.tx() as conn:
                gone = await self._expire(conn, await repo.lock_for_answer(conn, a.id), now)
            if gone is None:
                return None  # the job expired it, or a confirm in time took it, meanwhile
            raise session_gone(p.id)
        return raise_for(await self.answers.apply_result(a.id, await self.pgs.send(p, a, fault)))

    async def expire_due(self, limit: int = 500) -> list[str]:
        """Cancel the payments whose buyer authenticated more than `ttl` ago and whose merchant never confirmed."""
        now = self.clock.now()
        async with self.db.read() as conn:
            due = [r["id"] for r in await sql.rows(conn, DUE, {"since": now - self.ttl, "limit": limit})]
        expired = []
        for attempt_id in due:
            async with self.db.tx() as conn:
                p = await self._expire(conn, await repo.lock_for_answer(conn, attempt_id), now)
            if p is not None:
                expired.append(p.id)
        return expired

    async def _expire(self, conn: Conn, locked: LockedAttempt, now: datetime) -> Payment | None:
        """The payment canceled with its waiting attempt, under the payment's lock; None when a confirm took the
        attempt first."""
        p, a = locked.payment, locked.attempt
        if a.status != "authenticated" or p.open_attempt_id != a.id or a.created_at > now - self.ttl:
            return None
        _, settled = repo.settling(a, "canceled", now)
        p, moved = repo.moving(p, "expire_unconfirmed", now, open_attempt_id=None, canceled_at=now,
                               failure_reason=EXPIRED, failure_message=EXPIRED_MESSAGE)
        await sql.write_all(conn, [settled, *moved, outbox.inserting([outbox.Event(p.merchant_id, "payment.expired",
                                                                                   p, p.id)], now)])
        return p
