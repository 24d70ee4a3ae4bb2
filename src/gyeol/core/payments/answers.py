"""Applying a PG's answer to an attempt: one path, whatever brought the answer.

The answer to the PG call a request just made (`apply_result`), a PG's webhook (`apply_pg_event`), the PG's
approval a shop's webhook reports or an app completes (`approvals.py`), the reconciler's look-up
(`resolve_attempt`) and the resend of a crashed request's attempt (`carry_on`) all end in `apply`, in a transaction
that holds the payment's and the order's row locks (`repository.lock_for_answer`). `apply` settles the attempt
through the attempt's transition table and, when the attempt is the payment's open one, moves the payment through
the payment's table, with its outbox events, its ledger transfers (`core.ledger.book`: the authorization's hold,
its capture or void) and, when money was taken, the order and the settlement.

No answer (None) is not a failure: the attempt is `unknown`, the payment stays `pending`, and the PG is asked
again later. An attempt already settled ignores a late or repeated answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from gyeol.connectors.base import AttemptResult
from gyeol.core.clock import Clock
from gyeol.core.errors import DomainError
from gyeol.core.events import inbox, outbox
from gyeol.core.ledger import book
from gyeol.core.orders import repository as orders_repo
from gyeol.core.payments import accounts, receipts
from gyeol.core.payments import repository as repo
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.payments.records import Attempt, Charge, Payment
from gyeol.core.payments.repository import LockedAttempt
from gyeol.core.settlements import repository as settlements_repo
from gyeol.core.settlements import service as settlements
from gyeol.core.states import PAYMENT, IllegalTransition
from gyeol.crypto import DataCipher
from gyeol.db import sql
from gyeol.db.engine import Conn, Database

# The statuses of an attempt whose answer is still awaited; any other has had its answer.
AWAITING = ("started", "unknown", "requires_action")
# A payment whose buyer's window session ran out before its merchant confirmed: canceled, nothing charged.
EXPIRED = "EXPIRED_PAYMENT"
EXPIRED_MESSAGE = "The merchant did not confirm the payment in time; nothing was charged."


async def emit(conn: Conn, p: Payment, type: str, now: datetime) -> None:
    """A payment event, in the caller's transaction: it is published only if the change it tells of commits."""
    await outbox.add_all(conn, [_event(p, type)], now)


def raise_for(charge: Charge, kind: str = "authorize") -> Charge:
    """The one mapping from a PG's outcome to an error: `charge` is the payment after the answer to a request's
    `kind` of attempt (authorize, capture or void); returned as it is when the outcome is not an error."""
    p, last = charge.payment, charge.attempt
    last_status = last.status if last is not None else None
    details = {"paymentId": p.id, "status": p.status}
    if kind == "authorize" and p.status == "failed":
        raise DomainError("processing", p.failure_reason or "processing_error",
                          p.failure_message or "The payment was declined.", details=details)
    # An unanswered authorization keeps its payment pending; the charge a resumed create or confirm gets may show
    # a later capture's or void's unanswered attempt instead, which is not this request's to report.
    if last_status == "unknown" and (kind != "authorize" or p.status == "pending"):
        raise DomainError("gateway", "PG_TIMEOUT", "The PG did not answer in time; the outcome is being reconciled.",
                          status=504, details=details)
    if kind != "authorize" and last is not None and last.status == "failed":
        raise DomainError("processing", last.error_code or "processing_error", f"The PG refused the {kind}.",
                          details=details)
    return charge


class Answers:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, *, cipher: DataCipher,
                 va_ttl: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.cipher = cipher
        self.va_ttl = va_ttl

    async def apply_result(self, attempt_id: str, result: AttemptResult | None) -> Charge:
        """Apply the PG's answer (None: no answer) to an attempt, in a transaction of its own; the payment after
        it."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            p, a = await self.apply(conn, await repo.lock_for_answer(conn, attempt_id), result, now)
        return Charge(p, a)

    async def send(self, p: Payment, a: Attempt, fault: str | None) -> Charge:
        """Steps 2 and 3 of a request's money move (intents.py): the PG call, then its answer applied; the payment
        after it, or the error its outcome is."""
        return raise_for(await self.apply_result(a.id, await self.pgs.send(p, a, fault)), a.kind)

    async def apply(self, conn: Conn, locked: LockedAttempt, result: AttemptResult | None,
                    now: datetime) -> tuple[Payment, Attempt]:
        """THE way a PG's answer changes an attempt and its payment, in the caller's transaction, which holds the
        locks `repository.lock_for_answer` took. Returns the payment and the attempt after it."""
        p, a = locked.payment, locked.attempt
        if a.status not in AWAITING:
            return p, a  # already settled: a late or duplicate answer changes nothing
        if result is None:
            if a.status == "unknown":  # still no answer: look again later, backing off
                return p, await repo.recheck_later(conn, a, now)
            return p, await repo.settle_attempt(conn, a, "unknown", now, checks=a.checks + 1)
        if result.outcome == "requires_action":
            if a.status != "requires_action":
                p, a = await self._requires_action(conn, p, a, result, now)
            return p, a
        ok = result.outcome in ("succeeded", "authorized")
        if result.outcome == "not_found":
            result = AttemptResult("failed", failure_code="processing_error",
                                   failure_message="The PG has no record of this request.")
        a, settled = repo.settling(a, "succeeded" if ok else "failed", now,
                                   pg_transaction_id=result.pg_transaction_id or a.pg_transaction_id,
                                   error_code=result.failure_code, error_message=result.failure_message)
        writes: list[sql.Write] = [settled]
        if p.open_attempt_id == a.id:  # else an attempt the payment has moved on from (a canceled 3-D Secure charge)
            decide = {"authorize": _authorized, "capture": _captured, "void": _voided}[a.kind]
            p, more = decide(p, a, result, ok, now, locked)
            writes += more
        await sql.write_all(conn, writes)  # the answer's writes, as one statement on PostgreSQL
        return p, a

    async def _requires_action(self, conn: Conn, p: Payment, a: Attempt, result: AttemptResult,
                               now: datetime) -> tuple[Payment, Attempt]:
        """The PG waits on the buyer: a 3-D Secure challenge, or the deposit into a virtual account it issued."""
        a = await repo.settle_attempt(conn, a, "requires_action", now, pg_transaction_id=result.pg_transaction_id)
        issued = result.virtual_account
        # An issued account's receipt says what is awaited ("입금 대기") until the deposit.
        receipt = {"receipt_id": p.receipt_id or receipts.new_id()} if issued is not None else {}
        p = await repo.update(conn, p, now, next_action_url=result.next_action_url,
                              pg_transaction_id=result.pg_transaction_id, **receipt)
        if issued is not None and await accounts.get(conn, p.id) is None:
            # The deposit is what is awaited; the account waits until its due date.
            await accounts.record(conn, self.cipher, p, kind="virtual_account", bank_code=issued.bank_code,
                                  account_number=issued.account_number, holder_name=issued.holder_name, now=now,
                                  due_at=now + self.va_ttl)
            await emit(conn, p, "virtual_account.issued", now)
        return p, a

    async def apply_pg_event(self, source: str, event_id: str, type: str, data: dict[str, Any]) -> bool:
        """A PG told us of an asynchronous outcome. Returns False for a duplicate delivery."""
        now = self.clock.now()
        event = self.pgs.event(source, type, data)
        async with self.db.tx() as conn:
            if not await inbox.accept(conn, source, event_id, now):
                return False
            p = await repo.get_any(conn, event.payment_id, lock=True) if event is not None else None
            if event is None or p is None or not p.open_attempt_id:
                return True
            locked = await repo.lock_for_answer(conn, p.open_attempt_id)  # the payment's lock is held already
            result = event.result
            if result.outcome == "succeeded" and p.capture_method == "manual":
                result = replace(result, outcome="authorized")  # the PG held the money: the capture is asked later
            if event.amount is not None and event.amount != locked.attempt.amount:
                return True  # not the attempt this event speaks of
            try:
                await self.apply(conn, locked, result, now)
            except IllegalTransition:
                pass  # a late event after a final state is ignored
        return True

    async def carry_on(self, payment_id: str) -> Charge:
        """Carry on the work of a request that was cut short (a crash): an attempt it never heard back about is
        sent to the PG again, under the same idempotency key, so the PG answers without charging twice; one that
        timed out is looked up. Returns the payment after it."""
        async with self.db.read() as conn:
            p = await repo.get_any(conn, payment_id)
            a = await repo.get_attempt(conn, p.open_attempt_id) if p and p.open_attempt_id else None
        if p is not None and a is not None and a.status == "started":
            return await self.apply_result(a.id, await self.pgs.send(p, a, None))
        if a is not None and a.status == "unknown":
            return await self.resolve_attempt(a)
        async with self.db.read() as conn:
            return await repo.get_with_last_attempt(conn, None, payment_id)

    async def resolve_attempt(self, a: Attempt) -> Charge:
        """Ask the PG what became of an attempt whose answer was lost, and apply it."""
        async with self.db.read() as conn:
            p = await repo.get_any(conn, a.payment_id)
        assert p is not None
        return await self.apply_result(a.id, await self.pgs.ask(a, p))


# What an answer does to the payment of the attempt it settles, by the attempt's kind: the payment after it and
# the writes that record it, which `Answers.apply` makes with the attempt's own, in one statement.
Writes = list[sql.Write]


def _authorized(p: Payment, a: Attempt, result: AttemptResult, ok: bool, now: datetime,
                locked: LockedAttempt) -> tuple[Payment, Writes]:
    if p.status != "pending":
        p, moved = repo.changing(p, now, open_attempt_id=None)
        return p, moved
    common = {"open_attempt_id": None, "next_action_url": None}
    if result.outcome == "expired":  # the PG's window session ran out: as Gyeol's own window's does
        p, moved = repo.moving(p, "expire_unconfirmed", now, canceled_at=now, failure_reason=EXPIRED,
                               failure_message=EXPIRED_MESSAGE, **common)
        return p, [*moved, outbox.inserting([_event(p, "payment.expired")], now)]
    if not ok:
        p, moved = repo.moving(p, "failed", now, failure_reason=result.failure_code,
                               failure_message=result.failure_message, pg_transaction_id=result.pg_transaction_id,
                               **common)
        return p, [*moved, outbox.inserting([_event(p, "payment.failed")], now)]
    pg_tx = result.pg_transaction_id or p.pg_transaction_id
    if p.capture_method == "manual" or result.outcome == "authorized":
        p, moved = repo.moving(p, "authorized", now, authorized_amount=p.amount, authorized_at=now,
                               pg_transaction_id=pg_tx, receipt_id=p.receipt_id or receipts.new_id(), **common)
        return p, [*moved, *book.inserting(book.authorized(p, now)),
                   outbox.inserting([_event(p, "payment.authorized")], now)]
    p, moved = repo.moving(p, "succeeded", now, authorized_amount=p.amount, captured_amount=p.amount,
                           authorized_at=now, captured_at=now, pg_transaction_id=pg_tx,
                           receipt_id=p.receipt_id or receipts.new_id(), **common)
    writes: Writes = moved
    events = []
    if p.method_type == "virtual_account":
        writes.append(accounts.setting_status(p.id, "deposited", now, deposited_at=now))
        events.append(_event(p, "virtual_account.deposited"))
    events.append(_event(p, "payment.succeeded"))
    return p, writes + _money_taken(p, now, locked, events, held=False)


def _captured(p: Payment, a: Attempt, result: AttemptResult, ok: bool, now: datetime,
              locked: LockedAttempt) -> tuple[Payment, Writes]:
    if not ok or p.status != "authorized":
        p, moved = repo.changing(p, now, open_attempt_id=None)
        return p, moved
    p, moved = repo.moving(p, "capture", now, captured_amount=a.amount, captured_at=now, open_attempt_id=None)
    return p, [*moved, *_money_taken(p, now, locked, [_event(p, "payment.captured")], held=True)]


def _voided(p: Payment, a: Attempt, result: AttemptResult, ok: bool, now: datetime,
            locked: LockedAttempt) -> tuple[Payment, Writes]:
    event = "void" if p.status == "authorized" else "cancel"
    if not ok or not PAYMENT.allows(p.status, event):
        p, moved = repo.changing(p, now, open_attempt_id=None)
        return p, moved
    p, moved = repo.moving(p, event, now, open_attempt_id=None, canceled_at=now, next_action_url=None)
    # A void releases the authorization's hold; a pending payment canceled (3-D Secure, a deposit awaited) held
    # nothing.
    released = book.inserting(book.released(p, now)) if event == "void" else []
    return p, [*moved, *released,
               outbox.inserting([_event(p, "payment.voided" if event == "void" else "payment.canceled")], now)]


def _money_taken(p: Payment, now: datetime, locked: LockedAttempt, events: list[outbox.Event], *,
                 held: bool) -> Writes:
    """The order (locked with the answer) paid, the settlement booked at the merchant's fees and its transfers
    (posting the authorization's hold, when `held`), with `events` and theirs."""
    order, paid = orders_repo.paying(locked.order, amount=p.captured_amount, payment_id=p.id,
                                     payment_key=p.payment_key, now=now)
    s = settlements.booking(p, source_id=p.id, amount=p.captured_amount, now=now,
                            settings=locked.merchant_settings)
    events = [*events, _event(p, "payment.completed"), outbox.Event(p.merchant_id, "order.paid", order,
                                                                    order.order_id), settlements.created(s)]
    return [paid, settlements_repo.inserting(s), *book.inserting(book.taken(p, s, now, held=held)),
            outbox.inserting(events, now)]


def _event(p: Payment, type: str) -> outbox.Event:
    return outbox.Event(p.merchant_id, type, p, p.id)
