"""What a merchant asks of a payment: create it (and confirm it at once, if asked), confirm, capture, cancel.

Every money move has the same three steps, and no transaction is ever open during a PG call:
  1. a short transaction that checks the rules under row locks and records a `started` attempt (`rows.new_attempt`)
     as the payment's open attempt; the request's idempotency key is claimed in it (`idempotency.claim`), and a
     staff member's audit note written (`audit.write`);
  2. the PG call (`PgCalls.send`), with the attempt's id as the PG's idempotency key;
  3. the PG's answer applied (`answers.apply_result`), in a short transaction of its own.
A timeout leaves the attempt `unknown` and the payment `pending`; the reconciler asks the PG later. Nobody is charged
twice. A retry of a request that was cut short (`idempotency.resumed`) first carries on what the first try left
open (`answers.carry_on`), and never starts a second charge beside it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.customers.service import CustomerService
from gyeol.core.errors import DomainError
from gyeol.core.events import outbox
from gyeol.core.money import MAX_AMOUNT, check_currency
from gyeol.core.orders import repository as orders_repo
from gyeol.core.orders.records import Order
from gyeol.core.orders.service import CreateOrder, OrderService
from gyeol.core.payments import accounts, methods, rows
from gyeol.core.payments import repository as repo
from gyeol.core.payments.answers import Answers, emit, raise_for
from gyeol.core.payments.commands import CancelPolicy, CreateIntent, MethodSpec, ResolvedMethod
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.payments.records import Attempt, Charge, Created, Payment
from gyeol.core.refunds.service import RefundCommand, RefundService
from gyeol.core.staff import audit
from gyeol.core.states import PAYMENT, PAYMENT_CLOSED, PAYMENT_MONEY_TAKEN
from gyeol.crypto import DataCipher
from gyeol.db import sql
from gyeol.db.engine import Conn, Database


def refuse_closed(p: Payment) -> None:
    if p.status in PAYMENT_CLOSED:
        raise DomainError("conflict", "ALREADY_CANCELED", f"The payment is already {p.status}.",
                          details={"paymentId": p.id, "status": p.status})


def _refuse_in_progress(p: Payment, allow: Attempt | None = None) -> None:
    """One PG request at a time per payment: its open attempt (other than `allow`) must be answered first."""
    if p.open_attempt_id and (allow is None or p.open_attempt_id != allow.id):
        raise DomainError("conflict", "PAYMENT_IN_PROGRESS",
                          "A PG request for this payment is in progress; try again shortly.",
                          details={"paymentId": p.id, "status": p.status})


def _next_action(p: Payment) -> str | None:
    """Where a pending payment sends its buyer (a 3-D Secure page), if anywhere."""
    return p.next_action_url if p.status == "pending" and p.next_action_url else None


class Intents:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, orders: OrderService,
                 customers: CustomerService, refunds: RefundService, answers: Answers, *, base_url: str,
                 intent_ttl: timedelta, cipher: DataCipher) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.orders = orders
        self.customers = customers
        self.refunds = refunds
        self.answers = answers
        self.base_url = base_url
        self.intent_ttl = intent_ttl
        self.cipher = cipher

    def checkout_url(self, p: Payment) -> str:
        return f"{self.base_url}/checkout/{p.id}?token={p.client_token}"

    # --- create -------------------------------------------------------------------------------
    async def create_intent(self, caller: Caller, cmd: CreateIntent, *, fault: str | None = None) -> Created:
        """Create a payment for an order (creating the order if it is new); confirm it too if asked."""
        if cmd.amount <= 0 or cmd.amount > MAX_AMOUNT:
            raise DomainError("validation", "INVALID_AMOUNT", "amount must be a positive integer.")
        currency = check_currency(cmd.currency)
        if cmd.confirm and (cmd.method is None or not cmd.method.given):
            raise DomainError("validation", "PAYMENT_METHOD_REQUIRED",
                              "confirm: true needs a payment method in methodOptions.")
        resumed = idempotency.resumed("payment")
        if resumed is not None:
            # A retry of a create whose first try was cut short: that payment, its open attempt settled.
            charge = raise_for(await self.answers.carry_on(resumed))
            redirect = _next_action(charge.payment)
            if not redirect:
                async with self.db.read() as conn:
                    redirect = self.checkout_url(await repo.get(conn, caller, resumed))
            return Created(charge, redirect, None)
        method = await methods.resolve_named(self.db, self.pgs, self.customers, caller, cmd.method,
                                             order_id=cmd.order_id) if cmd.confirm and cmd.method else None
        now = self.clock.now()
        row = rows.new_payment(
            merchant_id=caller.merchant_id, livemode=caller.livemode, channel=cmd.channel, order_id=cmd.order_id,
            amount=cmd.amount, currency=currency, expires_at=now + self.intent_ttl, now=now, connector=cmd.connector,
            capture_method="automatic" if cmd.capture else "manual", description=cmd.description,
            customer_id=cmd.customer_id, user_id=cmd.user_id or caller.user_id, payment_key=cmd.payment_key,
            method_type=cmd.method.type if cmd.method else None, return_url=cmd.return_url,
            cancel_url=cmd.cancel_url, metadata=cmd.metadata or {}, next_action_url=cmd.window_url)
        try:
            row, attempt = await self._insert_intent(caller, cmd, currency, row, method, now,
                                                     new_order=not cmd.order_must_exist)
        except orders_repo.OrderExists:
            # The merchant knows this order: again, with the order read, locked and checked.
            row, attempt = await self._insert_intent(caller, cmd, currency, row, method, now, new_order=False)
        charge = await self.answers.send(row, attempt, fault) if attempt is not None else Charge(row)
        redirect = _next_action(charge.payment) or self.checkout_url(row)
        return Created(charge, redirect, row.client_token)

    async def _insert_intent(self, caller: Caller, cmd: CreateIntent, currency: str, row: Payment,
                             method: ResolvedMethod | None, now: datetime, *,
                             new_order: bool) -> tuple[Payment, Attempt | None]:
        """The payment's transaction: its order (a new one, when `new_order`, in the same statement as the rest on
        PostgreSQL), the payment, and its attempt when it is confirmed at once. A second run (`OrderExists`)
        starts from the payment as the caller made it: records are never changed in place."""
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", row.id)
            if new_order:
                order = self.orders.new_order(caller, CreateOrder(
                    order_id=cmd.order_id, amount=cmd.amount, currency=currency, customer_id=cmd.customer_id,
                    user_id=cmd.user_id or caller.user_id, order_name=cmd.order_name))
                await orders_repo.insert_new(conn, order)
            else:
                order = await self._known_order(conn, caller, cmd, currency)
            row = replace(row, order_pk=order.id)
            if cmd.assign_payment_number:
                row = replace(row, payment_number=await accounts.next_payment_number(conn, caller.merchant_id, now))
            created = outbox.Event(row.merchant_id, "payment.created", row, row.id)
            if method is None:
                await sql.write_all(conn, [*repo.inserting(row), outbox.inserting([created], now)])
                return row, None
            return await self.start_authorize(conn, row, order, method, now, new_order=new_order, created=created)

    async def _known_order(self, conn: Conn, caller: Caller, cmd: CreateIntent, currency: str) -> Order:
        """The order to pay, which the merchant has already: locked, and checked against the intent."""
        order = await orders_repo.get(conn, caller, cmd.order_id, lock=True)
        if order is None or (cmd.order_must_exist and caller.is_user and order.user_id != caller.user_id):
            raise DomainError("not_found", "ORDER_NOT_FOUND", f"No such order: '{cmd.order_id}'.",
                              details={"orderId": cmd.order_id})
        if caller.user_id and order.user_id not in (None, caller.user_id):
            raise DomainError("not_found", "NOT_FOUND", f"No such order: '{cmd.order_id}'.")
        if order.status != "created":
            raise DomainError("conflict", "ORDER_ALREADY_PAID", "The order has already been paid.",
                              details={"orderId": cmd.order_id, "orderStatus": order.status})
        if order.currency != currency or order.amount - order.paid_amount != cmd.amount:
            raise DomainError("conflict", "AMOUNT_MISMATCH", "Amount does not match order total.",
                              details={"orderId": cmd.order_id, "orderAmount": order.amount,
                                       "orderCurrency": order.currency})
        return order

    # --- confirm ------------------------------------------------------------------------------
    async def confirm(self, caller: Caller, payment_id: str, spec: MethodSpec, *, fault: str | None = None,
                      resume: bool = False) -> Charge:
        """Authorize (and, for automatic capture, capture) the payment with the given method."""
        if resume or idempotency.resumed("payment") == payment_id:
            # A retry whose first try was cut short, or a kiosk's confirm of a pending payment: settle what the
            # first try started, never a second charge.
            charge = await self.answers.carry_on(payment_id)
            if charge.payment.status != "created" and charge.payment.status != "failed":
                return raise_for(charge)
        if not spec.given:
            raise DomainError("validation", "PAYMENT_METHOD_REQUIRED",
                              "Give one of paymentMethodId, token or card.")
        method = await methods.resolve_named(self.db, self.pgs, self.customers, caller, spec,
                                             payment_id=payment_id)
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            order = await orders_repo.get_by_pk(conn, p.order_pk, lock=True)
            p, attempt = await self.start_authorize(conn, p, order, method, now)
        return await self.answers.send(p, attempt, fault)

    async def start_authorize(self, conn: Conn, p: Payment, order: Order, method: ResolvedMethod, now: datetime, *,
                              new_order: bool = False, created: outbox.Event | None = None,
                              pg_transaction_id: str | None = None,
                              attempt_status: str = "started") -> tuple[Payment, Attempt]:
        """Step 1 of a confirm: open an authorize attempt on `p` and move it to pending. `created`: `p` is new, and
        inserted moved, with this event of its creation; `pg_transaction_id`: the charge the PG made already
        (seed 003's complete); `attempt_status` authenticated: sent at the merchant's confirm (`authenticated.py`)."""
        PAYMENT.next(p.status, "confirm")  # refuse early, before any other check
        if p.expires_at <= now:
            raise DomainError("conflict", "PAYMENT_EXPIRED", "The payment intent has expired.",
                              details={"paymentId": p.id, "status": p.status})
        # An order this transaction created has no other payment to look for.
        if order.status != "created" or (
                not new_order and await repo.other_holding_payment(conn, order.id, p.id)):
            raise DomainError("conflict", "ORDER_ALREADY_PAID",
                              "The order is already paid, or another payment for it is in progress.",
                              details={"orderId": order.order_id, "orderStatus": order.status})
        if order.amount - order.paid_amount != p.amount:
            raise DomainError("conflict", "AMOUNT_MISMATCH", "Amount does not match order total.",
                              details={"orderId": order.order_id, "orderAmount": order.amount})
        connector = method.connector or self.pgs.for_method(p.livemode, method.type).name
        attempt = rows.new_attempt(p, "authorize", now, amount=p.amount, connector=connector,
                                   method_type=method.type, pg_token=method.token,
                                   pg_transaction_id=pg_transaction_id, status=attempt_status)
        changes = dict(
            open_attempt_id=attempt.id, connector=connector, method_type=method.type,
            payment_method_id=method.payment_method_id, card_brand=method.brand, card_last4=method.last4,
            failure_reason=None, failure_message=None, next_action_url=None,
            payment_key=p.payment_key or method.payment_key,
        )
        if created is not None:
            p = repo.with_status_after(p, "confirm", now, **changes)
            await sql.write_all(conn, [*repo.inserting(p), repo.inserting_attempt(attempt),
                                       outbox.inserting([created], now)])
        else:  # the attempt and the move, one statement on PostgreSQL
            p, moved = repo.moving(p, "confirm", now, **changes)
            await sql.write_all(conn, [repo.inserting_attempt(attempt), *moved])
        if method.bank is not None and await accounts.get(conn, p.id) is None:
            await accounts.record(conn, self.cipher, p, kind="bank", bank_code=method.bank.bank_code,
                                  account_number=method.bank.account_number, holder_name=method.bank.holder_name,
                                  now=now)
        return p, attempt

    # --- capture, cancel ----------------------------------------------------------------------
    async def capture(self, caller: Caller, payment_id: str, amount: int | None, *,
                      fault: str | None = None, note: audit.AuditNote | None = None) -> Charge:
        """Capture an authorized payment, wholly or in part; a partial capture releases the rest."""
        if idempotency.resumed("payment") == payment_id:
            charge = await self.answers.carry_on(payment_id)
            if charge.payment.status in PAYMENT_MONEY_TAKEN:
                return charge  # the first try's capture went through
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            PAYMENT.next(p.status, "capture")
            _refuse_in_progress(p)
            amount = p.authorized_amount if amount is None else amount
            if amount <= 0 or amount > p.authorized_amount:
                raise DomainError("validation", "INVALID_CAPTURE_AMOUNT",
                                  "The capture amount must be positive and at most the authorized amount.",
                                  details={"authorizedAmount": p.authorized_amount})
            p, a = await self._start_follow_up(conn, p, "capture", amount, now)
            await audit.write(conn, note, now, amount=amount)
        return await self.answers.send(p, a, fault)

    async def cancel(self, caller: Caller, payment_id: str, reason: str | None = None, *,
                     fault: str | None = None, policy: CancelPolicy | None = None,
                     note: audit.AuditNote | None = None) -> Charge:
        """Cancel: an unpaid payment is canceled, an authorization voided, a taken payment refunded, within the
        caller's `policy` (checked with the refund, under the payment's lock)."""
        if idempotency.resumed("payment") == payment_id:
            charge = await self.answers.carry_on(payment_id)
            if charge.payment.status in PAYMENT_CLOSED:
                return charge  # the first try's void or cancel went through
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            refuse_closed(p)
            money_taken = p.status in ("succeeded", "captured")
            if not money_taken:
                open_attempt = await repo.get_attempt(conn, p.open_attempt_id) if p.open_attempt_id else None
                if p.status == "authorized" or (open_attempt and open_attempt.status == "requires_action"):
                    # Release the hold (or the waiting 3-D Secure charge) at the PG first.
                    _refuse_in_progress(p, allow=open_attempt)
                    p, a = await self._start_follow_up(conn, p, "void", p.amount, now, parent=open_attempt)
                    await audit.write(conn, note, now)
                elif open_attempt is not None and open_attempt.status != "authenticated":
                    _refuse_in_progress(p)
                else:
                    if open_attempt is not None:  # authenticated only: no PG holds anything to release
                        await repo.settle_attempt(conn, open_attempt, "canceled", now)
                    p = await repo.transition(conn, p, "cancel", now, canceled_at=now, open_attempt_id=None)
                    await emit(conn, p, "payment.canceled", now)
                    await audit.write(conn, note, now)
                    return Charge(p)
        if money_taken:
            await self.refunds.refund(caller, RefundCommand(payment_id, None, reason or "canceled", {},
                                                            is_cancel=True, policy=policy), fault=fault,
                                    note=note)
            async with self.db.read() as conn:
                return await repo.get_with_last_attempt(conn, caller, payment_id)
        return await self.answers.send(p, a, fault)

    async def _start_follow_up(self, conn: Conn, p: Payment, kind: str, amount: int, now: datetime,
                               parent: Attempt | None = None) -> tuple[Payment, Attempt]:
        """Step 1 of a capture or a void: its attempt, as the payment's open one; `parent`, a 3-D Secure charge
        still waiting on the buyer, is canceled by it."""
        a = rows.new_attempt(p, kind, now, amount=amount, connector=p.connector or self.pgs.default,
                             method_type=p.method_type, pg_transaction_id=p.pg_transaction_id)
        await repo.insert_attempt(conn, a)
        if parent is not None:
            await repo.settle_attempt(conn, parent, "canceled", now)
        p = await repo.update(conn, p, now, open_attempt_id=a.id)
        return p, a
