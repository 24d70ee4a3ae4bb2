"""Refunds, partial or full. A refund reserves its amount on the payment before it goes to the PG,
so concurrent refunds can never together exceed what was captured."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gyeol.connectors.base import AttemptResult
from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.events import outbox
from gyeol.core.ledger import book
from gyeol.core.orders import repository as orders_repo
from gyeol.core.pagination import Page
from gyeol.core.payments import repository as payments_repo
from gyeol.core.payments import totals
from gyeol.core.payments.commands import CancelPolicy
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.payments.records import Payment
from gyeol.core.refunds import repository as repo
from gyeol.core.refunds.records import Refund
from gyeol.core.settlements import service as settlements
from gyeol.core.staff import audit
from gyeol.core.states import PAYMENT_CLOSED, PAYMENT_MONEY_TAKEN
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.ids import new_id


@dataclass(frozen=True)
class RefundCommand:
    payment_id: str
    amount: int | None = None
    reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    is_cancel: bool = False
    policy: CancelPolicy | None = None  # a cancel's limits, checked under the payment's lock


def _new_refund(refund_id: str, p: Payment, amount: int, reason: str | None, is_cancel: bool,
                metadata: dict[str, Any], now: datetime, default_pg: str) -> Refund:
    """A `pending` refund of payment `p`, not yet inserted."""
    return Refund(id=refund_id, merchant_id=p.merchant_id, livemode=p.livemode, payment_id=p.id, amount=amount,
                  currency=p.currency, status="pending", reason=reason, is_cancel=is_cancel, metadata=metadata,
                  pg_transaction_id=None, failure_reason=None, connector=p.connector or default_pg, created_at=now,
                  updated_at=now)


class RefundService:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs

    async def refund(self, caller: Caller, cmd: RefundCommand, *, fault: str | None = None,
                     note: audit.AuditNote | None = None) -> Refund:
        """Refund `amount` (default: all that is refundable) of a payment whose money was taken. `note`: a staff
        member's, recorded with the refund's reservation (whatever the PG then answers, the refund is on the
        books)."""
        resumed = idempotency.resumed("refund")
        if resumed is not None:
            # A retry of a refund whose first try was cut short: that refund, settled with the PG, never another.
            return await self.carry_on(resumed)
        now = self.clock.now()
        refund_id = new_id("re")
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "refund", refund_id)
            p = await payments_repo.get(conn, caller, cmd.payment_id, lock=True)
            if p.status in PAYMENT_CLOSED:
                raise DomainError("conflict", "ALREADY_CANCELED", f"The payment is already {p.status}.",
                                  details={"paymentId": p.id, "status": p.status})
            if p.status not in PAYMENT_MONEY_TAKEN:
                raise DomainError("conflict", "PAYMENT_NOT_CAPTURED",
                                  "Only a payment whose money was taken can be refunded.",
                                  details={"paymentId": p.id, "status": p.status})
            if cmd.policy is not None:
                cmd.policy.check(p, now)
            refundable = p.captured_amount - p.refunded_amount - p.refunding_amount
            amount = refundable if cmd.amount is None else cmd.amount
            if amount <= 0 or amount > refundable:
                raise DomainError("conflict", "REFUND_EXCEEDS_AMOUNT",
                                  "The refund exceeds the amount that can still be refunded.",
                                  details={"paymentId": p.id, "refundable": refundable, "requested": amount})
            if not await repo.reserve(conn, p.id, amount, now):
                raise DomainError("conflict", "REFUND_EXCEEDS_AMOUNT",
                                  "The refund exceeds the amount that can still be refunded.",
                                  details={"paymentId": p.id})
            r = _new_refund(refund_id, p, amount, cmd.reason, cmd.is_cancel, cmd.metadata or {}, now,
                            self.pgs.default)
            await sql.write_all(conn, [repo.inserting(r), *book.inserting(book.refund_held(r, now))])
            await audit.write(conn, note, now, refund=r.id, amount=amount)
        result = await self._send(r, p, fault)
        return self._answer(await self.apply(r.id, result), lost=result is None)

    async def _send(self, r: Refund, p: Payment, fault: str | None) -> AttemptResult | None:
        """Send the refund to its PG, under its id as the PG's idempotency key; None when the PG did not answer."""
        return await self.pgs.refund(r, p, fault)

    async def carry_on(self, refund_id: str) -> Refund:
        """Carry on a refund whose request was cut short (a crash): still pending, it is sent to the PG again
        under the same idempotency key, so the PG answers without refunding twice."""
        async with self.db.read() as conn:
            r = await repo.get(conn, refund_id)
            assert r is not None  # refunds are never deleted
            p = await payments_repo.get_any(conn, r.payment_id)
        if r.status != "pending" or p is None:
            return self._answer(r, lost=False)
        result = await self._send(r, p, None)
        return self._answer(await self.apply(r.id, result), lost=result is None)

    @staticmethod
    def _answer(r: Refund, *, lost: bool) -> Refund:
        """The refund's answer to its caller: a refusal or a lost PG answer is an error."""
        if r.status == "failed":
            raise DomainError("processing", r.failure_reason or "refund_failed", "The PG refused the refund.",
                              details={"refundId": r.id, "paymentId": r.payment_id})
        if lost and r.status == "pending":
            raise DomainError("gateway", "PG_TIMEOUT",
                              "The PG did not answer in time; the refund is pending and being reconciled.",
                              status=504, details={"refundId": r.id, "status": "pending"})
        return r

    async def apply(self, refund_id: str, result: AttemptResult | None) -> Refund:
        now = self.clock.now()
        async with self.db.tx() as conn:
            found = await repo.get(conn, refund_id)
            if found is None:
                raise LookupError(f"refund {refund_id} is gone")  # refunds are never deleted
            r = found
            if r.status != "pending" or result is None or result.outcome == "requires_action":
                return r
            p = await payments_repo.get_any(conn, r.payment_id, lock=True)
            assert p is not None
            if result.outcome == "succeeded":
                r = await self._succeed(conn, r, p, result, now)
            else:
                code = result.failure_code or ("processing_error" if result.outcome == "not_found" else None)
                r = await repo.transition(conn, r, "failed", now, failure_reason=code,
                                          pg_transaction_id=result.pg_transaction_id)
                await payments_repo.update(conn, p, now, refunding_amount=p.refunding_amount - r.amount)
                await sql.write_all(conn, book.inserting(book.refund_settled(r, None, now)))
                await outbox.add(conn, merchant_id=r.merchant_id, type="refund.failed", obj=r, resource_id=r.id,
                                 now=now)
        return r

    async def _succeed(self, conn: Conn, r: Refund, p: Payment, result: AttemptResult, now: datetime) -> Refund:
        r = await repo.transition(conn, r, "succeeded", now, pg_transaction_id=result.pg_transaction_id)
        refunded = p.refunded_amount + r.amount
        p = await payments_repo.update(conn, p, now, refunded_amount=refunded,
                                       refunding_amount=p.refunding_amount - r.amount)
        events = []
        if refunded == p.captured_amount and p.status in PAYMENT_MONEY_TAKEN:
            was_cancel = r.is_cancel or await repo.any_cancel(conn, p.id)
            event = "cancel_refund" if was_cancel else "refund_full"
            p = await payments_repo.transition(conn, p, event, now, canceled_at=now if was_cancel else None)
            events.append(outbox.Event(p.merchant_id, "payment.canceled" if was_cancel else "payment.refunded", p,
                                       p.id))
        order = await orders_repo.get_by_pk(conn, p.order_pk, lock=True)
        await orders_repo.add_refund(conn, order, r.amount, now)
        s = await settlements.book(conn, p, source_id=r.id, amount=-r.amount, now=now)
        events.append(settlements.created(s))
        events.append(outbox.Event(r.merchant_id, "refund.succeeded", r, r.id))
        await sql.write_all(conn, [*book.inserting(book.refund_settled(r, s, now)), outbox.inserting(events, now),
                                   *totals.refunded(r, p)])
        return r

    async def record_pg_cancel(self, merchant_id: str, payment_key: str, pg_balance: int,
                               pg_transaction_id: str | None) -> Refund | None:
        """A cancel made at the PG outside Gyeol (its console, another system), learnt from the PG itself:
        booked as a succeeded refund of the difference, with no PG call. Returns None when nothing is missing."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            p = await payments_repo.get_by_key(conn, merchant_id, payment_key, lock=True)
            if p is None or p.status not in PAYMENT_MONEY_TAKEN:
                return None
            # Refunds in flight are already counted: the PG's balance may or may not show them yet.
            missing = p.captured_amount - p.refunded_amount - p.refunding_amount - pg_balance
            if missing <= 0:
                return None
            p = await payments_repo.update(conn, p, now, refunding_amount=p.refunding_amount + missing)
            r = _new_refund(new_id("re"), p, missing, "canceled at the PG", True, {}, now, self.pgs.default)
            # Held and posted at once: the PG has refunded already.
            await sql.write_all(conn, [repo.inserting(r), *book.inserting(book.refund_held(r, now))])
            r = await self._succeed(conn, r, p, AttemptResult("succeeded", pg_transaction_id=pg_transaction_id), now)
        return r

    async def get(self, caller: Caller, refund_id: str) -> Refund:
        async with self.db.read() as conn:
            row = await repo.get_callers(conn, caller, refund_id)
            if row is not None and caller.user_id:
                await payments_repo.get(conn, caller, row.payment_id)  # 404 unless the user's own
        if row is None:
            raise not_found("refund", refund_id)
        return row

    async def list_page(self, caller: Caller, page: int, size: int,
                        payment_id: str | None = None) -> Page[Refund]:
        async with self.db.read() as conn:
            return await repo.list_page(conn, caller, page, size, payment_id=payment_id)

    async def succeeded(self, payment_id: str) -> list[Refund]:
        """A payment's refunds that went through, oldest first."""
        async with self.db.read() as conn:
            return await repo.succeeded(conn, payment_id)

    async def pending(self, older_than: datetime, limit: int) -> list[Refund]:
        async with self.db.read() as conn:
            return await repo.pending(conn, older_than, limit)

    async def resolve(self, r: Refund) -> Refund:
        """Ask the PG what became of a refund whose answer was lost, and apply it."""
        async with self.db.read() as conn:
            p = await payments_repo.get_any(conn, r.payment_id)
        return await self.apply(r.id, await self.pgs.ask_refund(r, p))
