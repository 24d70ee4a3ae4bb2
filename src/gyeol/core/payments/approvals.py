"""Payments the PG approved before Gyeol applied it: the buyer paid in the PG's own window or app.

Seed 003's `complete` (the app hands Gyeol the PG's transaction id to verify) and seed 004's post-approval step
(`process_payment_after_approval`, for the PG's approval that a shop's webhook reports) take the PG's word in one
transaction, under the payment's and the order's row locks: the authorize attempt that stands for the charge, and
the PG's answer applied to it by the one path, `answers.apply`, as for any other answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from gyeol.connectors.base import AttemptResult, PgPayment
from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.orders import repository as orders_repo
from gyeol.core.payments import repository as repo
from gyeol.core.payments import rows
from gyeol.core.payments.answers import AWAITING, Answers, emit, raise_for
from gyeol.core.payments.commands import ResolvedMethod
from gyeol.core.payments.intents import Intents, refuse_closed
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.payments.records import Channel, Charge, Payment
from gyeol.core.settlements import service as settlements
from gyeol.core.settlements.records import Settlement
from gyeol.core.states import PAYMENT_MONEY_TAKEN
from gyeol.db.engine import Conn, Database


class _RowAppeared(Exception):
    """The payment row appeared between two lock steps; the transaction is rolled back and run again."""


class Approvals:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, answers: Answers, intents: Intents, *,
                 intent_ttl: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.answers = answers
        self.intents = intents
        self.intent_ttl = intent_ttl

    async def complete(self, caller: Caller, payment_id: str, pg_transaction_id: str, amount: int) -> Charge:
        """Verify a payment the buyer made at the PG (looked up by its transaction id) and apply it."""
        try:
            self.pgs.for_method(caller.livemode, "card")  # a live key never reaches the default PG
        except DomainError:
            async with self.db.read() as conn:
                await repo.get(conn, caller, payment_id)  # a payment the caller cannot see is 404 first
            raise
        if idempotency.resumed("payment") == payment_id:
            await self.answers.carry_on(payment_id)
        connector, found = await self.pgs.find_charge(caller, payment_id, pg_transaction_id, amount)
        if found is None:
            raise DomainError("gateway", "PG_TIMEOUT", "The PG did not answer in time; try again.", status=504,
                              details={"paymentId": payment_id})
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            refuse_closed(p)
            if amount != p.amount:
                raise DomainError("validation", "AMOUNT_MISMATCH", "amount does not match the payment's amount.",
                                  details={"paymentId": payment_id, "amount": p.amount})
            if found.outcome == "not_found":
                raise DomainError("validation", "PG_TRANSACTION_MISMATCH",
                                  "The PG has no such transaction for this payment.",
                                  details={"pgTransactionId": pg_transaction_id})
            if found.amount is not None and found.amount != p.amount:
                raise DomainError("validation", "AMOUNT_MISMATCH", "The PG charged another amount.",
                                  details={"paymentId": payment_id, "pgAmount": found.amount})
            if p.status in PAYMENT_MONEY_TAKEN:
                if p.pg_transaction_id == pg_transaction_id:
                    return Charge(p)  # completed already by this transaction: the same answer
                raise DomainError("conflict", "ALREADY_COMPLETED", "The payment was completed by another transaction.",
                                  details={"paymentId": payment_id, "status": p.status})
            order = await orders_repo.get_by_pk(conn, p.order_pk, lock=True)
            method = ResolvedMethod(type=p.method_type or "card", brand=found.brand, last4=found.last4,
                                    connector=connector)
            # The attempt records the PG's transaction id: a charge still waiting on the buyer (3-D Secure) is
            # looked up by it later (`PgCalls.ask`).
            p, attempt = await self.intents.start_authorize(conn, p, order, method, now,
                                                            pg_transaction_id=pg_transaction_id)
            p, attempt = await self.answers.apply(conn, await repo.lock_for_answer(conn, attempt.id),
                                                  found, now)
        return raise_for(Charge(p, attempt))

    async def process_payment_after_approval(self, merchant_id: str, pg: PgPayment, *,
                                             connector: str) -> tuple[Payment, Settlement]:
        """Seed 004's shared step, for a PG's approval however it arrived (the confirm's answer or a webhook).

        One transaction under the order's and the payment's row locks: the payment row (created here when the
        PG approved a payment Gyeol had not yet seen), the approval applied to its authorize attempt (opened here
        when none awaits it), and with it the order marked paid, the settlement and the outbox events. Whoever
        comes second finds the money taken and changes nothing. A payment created here is of its order's mode: the
        PG names the merchant's paymentKey and orderId, which are unique across its two modes. Returns (payment,
        settlement).
        """
        for _ in range(3):
            try:
                return await self._after_approval(merchant_id, pg, connector)
            except (IntegrityError, _RowAppeared):
                continue  # a concurrent request created the payment row first; run again and find it
        raise DomainError("conflict", "CONCURRENT_UPDATE", "The payment changed under this request; retry.")

    async def _after_approval(self, merchant_id: str, pg: PgPayment, connector: str) -> tuple[Payment, Settlement]:
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            # Lock order as everywhere in the core: the payment first, then its order.
            p = await repo.get_by_key(conn, merchant_id, pg.payment_key, lock=True)
            order = await orders_repo.get_any(conn, merchant_id, pg.order_id, lock=True)
            if order is None:
                raise DomainError("not_found", "ORDER_NOT_FOUND", f"No such order: '{pg.order_id}'.")
            if p is None and await repo.get_by_key(conn, merchant_id, pg.payment_key) is not None:
                raise _RowAppeared()  # created between our two locks: start over, locking it first
            if order.amount != pg.total_amount or order.currency != pg.currency:
                raise DomainError("validation", "AMOUNT_MISMATCH", "The amount does not match the order's total.",
                                  details={"orderAmount": order.amount, "amount": pg.total_amount})
            if p is not None and p.status in PAYMENT_MONEY_TAKEN:
                return p, await settlements.for_payment(conn, p.id)
            if order.status != "created":
                raise DomainError("conflict", "ORDER_ALREADY_PAID", "The order has already been paid.",
                                  details={"orderId": pg.order_id, "orderStatus": order.status})
            if p is None:
                p = rows.new_payment(
                    merchant_id=merchant_id, livemode=order.livemode, channel=Channel.TOSS_CONFIRM,
                    order_id=order.order_id, amount=order.amount, currency=order.currency,
                    expires_at=now + self.intent_ttl, now=now, order_pk=order.id, customer_id=order.customer_id,
                    user_id=order.user_id,
                    payment_key=pg.payment_key, method_type=pg.method or "card")
                await repo.insert(conn, p)
                await emit(conn, p, "payment.created", now)
            attempt_id = await self._attempt_for_approval(conn, p, connector, now)
            approval = AttemptResult("succeeded", pg_transaction_id=pg.pg_transaction_id)
            p, _ = await self.answers.apply(conn, await repo.lock_for_answer(conn, attempt_id), approval, now)
            return p, await settlements.for_payment(conn, p.id)

    async def _attempt_for_approval(self, conn: Conn, p: Payment, connector: str, now: datetime) -> str:
        """The authorize attempt the PG's approval answers: the payment's open one while it awaits its answer (the
        shop's confirm, or a deposit awaited); else one opened here, the payment moving to pending with it, since
        the buyer paid in the PG's own window and no request of Gyeol's started the charge."""
        a = await repo.get_attempt(conn, p.open_attempt_id) if p.open_attempt_id else None
        if a is not None and a.kind == "authorize" and a.status in AWAITING:
            return a.id
        a = rows.new_attempt(p, "authorize", now, amount=p.amount, connector=connector,
                             method_type=p.method_type)
        await repo.insert_attempt(conn, a)
        # The confirm's move refuses a payment that is neither created nor failed (a void in flight, a closed one).
        await repo.transition(conn, p, "confirm", now, connector=connector, open_attempt_id=a.id,
                              failure_reason=None, failure_message=None, next_action_url=None)
        return a.id
