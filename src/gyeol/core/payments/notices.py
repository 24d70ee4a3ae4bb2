"""Unsigned PG webhooks (Toss's): the body only says where to look, and the PG's own answer decides.

A notice names a payment (its paymentKey) or, for a deposit, an order and the secret its payment carries. The PG
is asked what became of it, and its answer goes down the core's one path for it: an approval to
`Approvals.process_payment_after_approval`, a cancel made at the PG to `RefundService.record_pg_cancel`. The
inbox (`events.inbox`) remembers each state of each payment, and each delivery, so a retry changes nothing and is
answered as a duplicate. Both paths are idempotent by themselves (a second approval finds the money taken, a
second cancel finds nothing missing), so the inbox row is written after them, not in their transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gyeol.connectors.base import PgPayment
from gyeol.core.clock import Clock
from gyeol.core.errors import DomainError
from gyeol.core.events import inbox
from gyeol.core.payments import repository as repo
from gyeol.core.payments.answers import EXPIRED, EXPIRED_MESSAGE, emit
from gyeol.core.payments.approvals import Approvals
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.refunds.service import RefundService
from gyeol.core.states import PAYMENT
from gyeol.db.engine import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PgNotice:
    """What an unsigned webhook says: which payment to look up, never what happened to it."""

    source: str  # who sent it: the inbox's namespace for its states and deliveries
    payment_key: str | None = None  # a payment's status changed
    order_id: str | None = None  # a deposit arrived for this order's payment ...
    secret: str | None = None  # ... which must carry this secret
    delivery_id: str | None = None  # the PG's id of this delivery, the same on each of its retries


@dataclass(frozen=True, slots=True)
class NoticeOutcome:
    applied: bool  # the PG's answer changed a payment
    duplicate: bool = False  # this state, or this delivery, was applied before


class Notices:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, approvals: Approvals,
                 refunds: RefundService) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.approvals = approvals
        self.refunds = refunds

    async def apply(self, merchant_id: str, notice: PgNotice) -> NoticeOutcome:
        """Ask the merchant's PG about the payment a notice names, and apply what it says."""
        connector: str
        fetched: PgPayment | None
        if notice.payment_key is not None:
            connector, fetched = await self.pgs.find_payment(merchant_id, False, payment_key=notice.payment_key)
        elif notice.order_id is not None and notice.secret is not None:
            connector, fetched = await self.pgs.find_payment(merchant_id, False, order_id=notice.order_id)
            if fetched is not None and fetched.secret != notice.secret:
                log.warning("pg_notice_secret_mismatch", merchant_id=merchant_id, source=notice.source)
                return NoticeOutcome(applied=False)
        else:
            raise DomainError("validation", "INVALID_EVENT", "A notice names a paymentKey, or an orderId and its "
                                                             "secret.")
        if fetched is None:
            log.info("pg_notice_unknown_payment", merchant_id=merchant_id, source=notice.source)
            return NoticeOutcome(applied=False)
        state = (f"{notice.source}-state",
                 f"{merchant_id}:{fetched.payment_key}:{fetched.status}:{fetched.last_transaction_key}")
        seen = [state] + ([(f"{notice.source}-tx", notice.delivery_id)] if notice.delivery_id else [])
        async with self.db.read() as conn:
            for source, event_id in seen:
                if await inbox.seen(conn, source, event_id):
                    return NoticeOutcome(applied=False, duplicate=True)
        applied = False
        if fetched.status == "approved":
            try:
                await self.approvals.process_payment_after_approval(merchant_id, fetched, connector=connector)
                applied = True
            except DomainError as err:  # not one of this merchant's orders, or not its amount: change nothing
                log.warning("pg_notice_not_applied", merchant_id=merchant_id, code=err.code)
                return NoticeOutcome(applied=False)
        elif fetched.status == "expired":
            applied = await self._expire(merchant_id, fetched.payment_key)
        elif fetched.status in ("canceled", "partial_canceled"):
            applied = await self.refunds.record_pg_cancel(merchant_id, fetched.payment_key, fetched.balance_amount,
                                                          fetched.last_transaction_key) is not None
        now = self.clock.now()
        async with self.db.tx() as conn:
            for source, event_id in seen:
                await inbox.accept(conn, source, event_id, now)
        return NoticeOutcome(applied=applied)

    async def _expire(self, merchant_id: str, payment_key: str) -> bool:
        """The PG's window session ran out before the buyer paid or the merchant confirmed: the payment, if it took
        no money and no confirm is at the PG, is canceled as Gyeol's own window's would be (`payment.expired`)."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            p = await repo.get_by_key(conn, merchant_id, payment_key, lock=True)
            if p is None or p.open_attempt_id is not None or not PAYMENT.allows(p.status, "expire"):
                return False
            p = await repo.transition(conn, p, "expire", now, canceled_at=now, failure_reason=EXPIRED,
                                      failure_message=EXPIRED_MESSAGE)
            await emit(conn, p, "payment.expired", now)
        return True
