"""The payment core: intents, confirm, capture, cancel, and applying what the PG said.

Every money move has the same three steps, and no transaction is ever open during a PG call:
  1. a short transaction that checks the rules under row locks and records a `started` attempt;
  2. the PG call, with the attempt id as the PG's idempotency key;
  3. a short transaction that applies the PG's answer through the transition table, with its
     outbox events. A timeout leaves the attempt `unknown` and the payment `pending`; the
     reconciler (`gyeol reconcile`) asks the PG later. Nobody is charged twice.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.connectors.base import (
    AttemptResult,
    AuthorizeRequest,
    ConnectorUnavailable,
    FollowUpRequest,
    Outcome,
    PgPayment,
)
from gyeol.connectors.registry import Connectors
from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.customers.service import CustomerService
from gyeol.core.errors import DomainError
from gyeol.core.events import outbox
from gyeol.core.money import MAX_AMOUNT, check_currency
from gyeol.core.orders import repository as orders_repo
from gyeol.core.orders.service import CreateOrder, OrderService
from gyeol.core.pagination import Page, paginate
from gyeol.core.payments import accounts
from gyeol.core.payments import repository as repo
from gyeol.core.payments.commands import CreateIntent, MethodSpec, ResolvedMethod
from gyeol.core.payments.views import order_view, payment_view
from gyeol.core.refunds.service import RefundCommand, RefundService
from gyeol.core.settlements import service as settlements
from gyeol.core.states import PAYMENT, PAYMENT_CLOSED, PAYMENT_MONEY_TAKEN, IllegalTransition
from gyeol.crypto import DataCipher
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.ids import new_id
from gyeol.models import inbound_events, payments

Row = dict[str, Any]


class _RowAppeared(Exception):
    """The payment row appeared between two lock steps; the transaction is rolled back and run again."""


def _refuse_closed(p: Row) -> None:
    if p["status"] in PAYMENT_CLOSED:
        raise DomainError("conflict", "ALREADY_CANCELED", f"The payment is already {p['status']}.",
                          details={"paymentId": p["id"], "status": p["status"]})


class PaymentService:
    def __init__(self, db: Database, clock: Clock, connectors: Connectors, orders: OrderService,
                 customers: CustomerService, refunds: RefundService, *, base_url: str,
                 intent_ttl: timedelta, cipher: DataCipher, va_ttl: timedelta = timedelta(hours=72)) -> None:
        self.db = db
        self.clock = clock
        self.connectors = connectors
        self.orders = orders
        self.customers = customers
        self.refunds = refunds
        self.base_url = base_url
        self.intent_ttl = intent_ttl
        self.cipher = cipher
        self.va_ttl = va_ttl

    # --- reads --------------------------------------------------------------------------------
    async def get(self, caller: Caller, payment_id: str) -> Row:
        async with self.db.read() as conn:
            p, a = await repo.get_with_last_attempt(conn, caller, payment_id)
        return payment_view(p, a)

    async def account(self, payment_id: str) -> Row | None:
        """The bank or virtual account behind a payment, decrypted for its owner's view."""
        async with self.db.read() as conn:
            row = await accounts.get(conn, payment_id)
        return accounts.view(row, self.cipher) if row else None

    async def get_row_by_number(self, caller: Caller, payment_number: str) -> Row:
        async with self.db.read() as conn:
            return await repo.get_by_number(conn, caller, payment_number)

    async def get_row(self, caller: Caller, payment_id: str) -> Row:
        async with self.db.read() as conn:
            return await repo.get(conn, caller, payment_id)

    async def list_page(self, caller: Caller, page: int, size: int, status: str | None = None, *,
                        mine: bool = False) -> Page:
        q = sa.select(payments).where(*repo.scoped(caller))
        if mine:
            q = q.where(payments.c.user_id == caller.user_id)
        if status:
            q = q.where(payments.c.status == status)
        async with self.db.read() as conn:
            return await paginate(conn, q, payments.c.created_at.desc(), page, size, payment_view)

    # --- create -------------------------------------------------------------------------------
    async def create_intent(self, caller: Caller, cmd: CreateIntent, *, fault: str | None = None) -> Row:
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
            view = self._raise_for(await self.carry_on(resumed))
            return {**view, "redirectUrl": view.get("redirectUrl") or self.checkout_url(await self.get_row(
                caller, resumed))}
        method = await self._resolve_method(caller, cmd.method) if cmd.confirm and cmd.method else None
        now = self.clock.now()
        payment_id = new_id("pay")
        client_token = f"{payment_id}_secret_{secrets.token_urlsafe(18)}"
        row: Row = {
            "id": payment_id, "merchant_id": caller.merchant_id, "order_id": cmd.order_id,
            "livemode": caller.livemode, "face": cmd.face, "status": "created", "amount": cmd.amount,
            "currency": currency, "capture_method": "automatic" if cmd.capture else "manual",
            "authorized_amount": 0, "captured_amount": 0, "refunded_amount": 0, "refunding_amount": 0,
            "open_attempt_id": None, "description": cmd.description, "customer_id": cmd.customer_id,
            "user_id": cmd.user_id or caller.user_id, "payment_key": cmd.payment_key,
            "payment_number": None, "method_type": cmd.method.type if cmd.method else None,
            "payment_method_id": None, "card_brand": None, "card_last4": None, "connector": None,
            "pg_transaction_id": None, "failure_reason": None, "failure_message": None,
            "next_action_url": None, "client_token": client_token, "return_url": cmd.return_url,
            "cancel_url": cmd.cancel_url, "metadata": cmd.metadata or {}, "expires_at": now + self.intent_ttl,
            "authorized_at": None, "captured_at": None, "canceled_at": None, "created_at": now,
            "updated_at": now,
        }
        try:
            row, attempt = await self._insert_intent(caller, cmd, currency, row, method, now,
                                                     new_order=not cmd.require_order)
        except orders_repo.OrderExists:
            # The merchant knows this order: again, with the order read, locked and checked.
            row, attempt = await self._insert_intent(caller, cmd, currency, row, method, now, new_order=False)
        view = await self._authorize(caller, row, attempt, fault) if attempt is not None else payment_view(row)
        redirect = view.get("redirectUrl") or self.checkout_url(row)
        return {**view, "clientToken": client_token, "redirectUrl": redirect}

    async def _insert_intent(self, caller: Caller, cmd: CreateIntent, currency: str, row: Row,
                             method: ResolvedMethod | None, now: datetime, *,
                             new_order: bool) -> tuple[Row, Row | None]:
        """The payment's transaction: its order (a new one, when `new_order`, in the same statement as the rest on
        PostgreSQL), the payment, and its attempt when it is confirmed at once."""
        row = dict(row)
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", row["id"])
            if new_order:
                order = self.orders.new_row(caller, CreateOrder(
                    order_id=cmd.order_id, amount=cmd.amount, currency=currency, customer_id=cmd.customer_id,
                    user_id=cmd.user_id or caller.user_id, order_name=cmd.order_name))
                await orders_repo.insert_new(conn, order)
            else:
                order = await self._known_order(conn, caller, cmd, currency)
            row["order_pk"] = order["id"]
            if cmd.numbered:
                row["payment_number"] = await accounts.next_payment_number(conn, caller.merchant_id, now)
            await outbox.add(conn, merchant_id=caller.merchant_id, type="payment.created",
                             obj=payment_view(row), resource_id=row["id"], now=now)
            if method is None:
                await repo.insert(conn, row)
                return row, None
            return await self._start_authorize(conn, row, order, method, now, new_order=new_order, unsaved=True)

    def checkout_url(self, p: Row) -> str:
        return f"{self.base_url}/checkout/{p['id']}?token={p['client_token']}"

    async def _known_order(self, conn: Conn, caller: Caller, cmd: CreateIntent, currency: str) -> Row:
        """The order to pay, which the merchant has already: locked, and checked against the intent."""
        order = await orders_repo.get(conn, caller.merchant_id, cmd.order_id, lock=True)
        if order is None or (cmd.require_order and caller.is_user and order["user_id"] != caller.user_id):
            raise DomainError("not_found", "ORDER_NOT_FOUND", f"No such order: '{cmd.order_id}'.",
                              details={"orderId": cmd.order_id})
        if caller.user_id and order["user_id"] not in (None, caller.user_id):
            raise DomainError("not_found", "NOT_FOUND", f"No such order: '{cmd.order_id}'.")
        if order["status"] != "created":
            raise DomainError("conflict", "ORDER_ALREADY_PAID", "The order has already been paid.",
                              details={"orderId": cmd.order_id, "orderStatus": order["status"]})
        if order["currency"] != currency or order["amount"] - order["paid_amount"] != cmd.amount:
            raise DomainError("conflict", "AMOUNT_MISMATCH", "Amount does not match order total.",
                              details={"orderId": cmd.order_id, "orderAmount": order["amount"],
                                       "orderCurrency": order["currency"]})
        return order

    # --- confirm ------------------------------------------------------------------------------
    async def confirm(self, caller: Caller, payment_id: str, spec: MethodSpec, *, fault: str | None = None,
                      resume: bool = False) -> Row:
        """Authorize (and, for automatic capture, capture) the payment with the given method."""
        if resume or idempotency.resumed("payment") == payment_id:
            # A retry whose first try was cut short, or a kiosk's confirm of a pending payment: settle what the
            # first try started, never a second charge.
            view = await self.carry_on(payment_id)
            if view["status"] != "created" and view["status"] != "failed":
                return self._raise_for(view)
        if not spec.given:
            raise DomainError("validation", "PAYMENT_METHOD_REQUIRED",
                              "Give one of paymentMethodId, token or card.")
        method = await self._resolve_method(caller, spec)
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            order = await orders_repo.get_by_pk(conn, p["order_pk"], lock=True)
            p, attempt = await self._start_authorize(conn, p, order, method, now)
        return await self._authorize(caller, p, attempt, fault)

    async def _start_authorize(self, conn: Conn, p: Row, order: Row, method: ResolvedMethod,
                               now: datetime, *, new_order: bool = False, unsaved: bool = False) -> tuple[Row, Row]:
        """Open an authorize attempt on `p` and move it to pending; `unsaved`: `p` is new, and inserted moved."""
        PAYMENT.next(p["status"], "confirm")  # refuse early, before any other check
        if p["expires_at"] <= now:
            raise DomainError("conflict", "PAYMENT_EXPIRED", "The payment intent has expired.",
                              details={"paymentId": p["id"], "status": p["status"]})
        # An order this transaction created has no other payment to look for.
        if order["status"] != "created" or (
                not new_order and await repo.other_holding_payment(conn, order["id"], p["id"])):
            raise DomainError("conflict", "ORDER_ALREADY_PAID",
                              "The order is already paid, or another payment for it is in progress.",
                              details={"orderId": order["order_id"], "orderStatus": order["status"]})
        if order["amount"] - order["paid_amount"] != p["amount"]:
            raise DomainError("conflict", "AMOUNT_MISMATCH", "Amount does not match order total.",
                              details={"orderId": order["order_id"], "orderAmount": order["amount"]})
        connector = method.connector or self.connectors.for_payment(p["livemode"], method.type).name
        attempt = {
            "id": new_id("att"), "payment_id": p["id"], "merchant_id": p["merchant_id"], "kind": "authorize",
            "status": "started", "amount": p["amount"], "connector": connector, "method_type": method.type,
            "pg_token": method.token, "pg_transaction_id": None, "error_code": None, "error_message": None,
            "next_check_at": None, "checks": 0, "created_at": now, "updated_at": now,
        }
        changes = dict(
            open_attempt_id=attempt["id"], connector=connector, method_type=method.type,
            payment_method_id=method.payment_method_id, card_brand=method.brand, card_last4=method.last4,
            failure_reason=None, failure_message=None, next_action_url=None,
            payment_key=p["payment_key"] or method.payment_key,
        )
        if unsaved:
            p = repo.moved(p, "confirm", now, **changes)
            await repo.insert(conn, p)
            await repo.insert_attempt(conn, attempt)
        else:
            await repo.insert_attempt(conn, attempt)
            p = await repo.transition(conn, p, "confirm", now, **changes)
        if method.bank is not None and await accounts.get(conn, p["id"]) is None:
            await accounts.record(conn, self.cipher, p, kind="bank", bank_code=method.bank.bank_code,
                                  account_number=method.bank.account_number, holder_name=method.bank.holder_name,
                                  now=now)
        return p, attempt

    async def _authorize(self, caller: Caller, p: Row, attempt: Row, fault: str | None) -> Row:
        return self._raise_for(await self.apply_result(attempt["id"], await self._send(p, attempt, fault)))

    async def _send(self, p: Row, attempt: Row, fault: str | None) -> AttemptResult | None:
        """Send an attempt to its PG, under its id as the PG's idempotency key; None when the PG did not answer."""
        if attempt["kind"] != "authorize":
            return await self._send_follow_up(p, attempt, fault)
        req = AuthorizeRequest(
            reference=attempt["id"], merchant_id=p["merchant_id"], payment_id=p["id"], amount=p["amount"],
            currency=p["currency"], capture=p["capture_method"] == "automatic", token=attempt["pg_token"],
            payment_key=p["payment_key"], order_id=p["order_id"], method_type=attempt["method_type"],
            fault=fault,
        )
        try:
            return await self.connectors.by_name(attempt["connector"]).authorize(req)
        except ConnectorUnavailable:
            return None

    def _raise_for(self, view: Row) -> Row:
        """Turn an outcome the caller must see as an error into one; return the view otherwise."""
        status = view["status"]
        last = view.get("lastAttempt") or {}
        if status == "failed":
            raise DomainError("processing", view["failureReason"] or "processing_error",
                              view["failureMessage"] or "The payment was declined.",
                              details={"paymentId": view["paymentId"], "status": status})
        if status == "pending" and last.get("status") == "unknown":
            raise DomainError("gateway", "PG_TIMEOUT",
                              "The PG did not answer in time; the outcome is being reconciled.",
                              status=504, details={"paymentId": view["paymentId"], "status": status})
        return view

    # --- applying a PG answer -----------------------------------------------------------------
    async def apply_result(self, attempt_id: str, result: AttemptResult | None) -> Row:
        now = self.clock.now()
        async with self.db.tx() as conn:
            p, a = await self._apply(conn, await repo.lock_for_answer(conn, attempt_id), result, now)
        return payment_view(p, a)

    async def _apply(self, conn: Conn, locked: repo.Answering, result: AttemptResult | None,
                     now: datetime) -> tuple[Row, Row]:
        p, a = locked.payment, locked.attempt
        if a["status"] not in ("started", "unknown", "requires_action"):
            return p, a  # already settled: a late or duplicate answer changes nothing
        if result is None:
            if a["status"] == "unknown":  # still no answer: look again later, backing off
                return p, await repo.recheck_later(conn, a, now)
            a = await repo.settle_attempt(conn, a, "unknown", now, checks=a["checks"] + 1)
            return p, a
        if result.outcome == "requires_action":
            if a["status"] != "requires_action":
                a = await repo.settle_attempt(conn, a, "requires_action", now,
                                              pg_transaction_id=result.pg_transaction_id)
                p = await repo.update(conn, p, now, next_action_url=result.next_action_url,
                                      pg_transaction_id=result.pg_transaction_id)
                issued = result.extra.get("virtualAccount")
                if isinstance(issued, dict) and await accounts.get(conn, p["id"]) is None:
                    # The deposit is what is awaited; the account waits until its due date.
                    await accounts.record(conn, self.cipher, p, kind="virtual_account",
                                          bank_code=str(issued["bankCode"]),
                                          account_number=str(issued["accountNumber"]),
                                          holder_name=str(issued.get("holderName") or ""), now=now,
                                          due_at=now + self.va_ttl)
                    await self._emit(conn, p, "virtual_account.issued", now)
            return p, a
        ok = result.outcome in ("succeeded", "authorized")
        if result.outcome == "not_found":
            result = AttemptResult("failed", failure_code="processing_error",
                                   failure_message="The PG has no record of this request.")
        assert result is not None
        a = await repo.settle_attempt(
            conn, a, "succeeded" if ok else "failed", now,
            pg_transaction_id=result.pg_transaction_id or a["pg_transaction_id"],
            error_code=result.failure_code, error_message=result.failure_message,
        )
        if p["open_attempt_id"] != a["id"]:
            return p, a
        handler = {"authorize": self._apply_authorize, "capture": self._apply_capture, "void": self._apply_void}
        p = await handler[a["kind"]](conn, p, a, result, ok, now, locked.order, locked.terms)
        return p, a

    async def _apply_authorize(self, conn: Conn, p: Row, a: Row, result: AttemptResult, ok: bool,
                               now: datetime, order: Row, terms: dict[str, Any]) -> Row:
        if p["status"] != "pending":
            return await repo.update(conn, p, now, open_attempt_id=None)
        common = {"open_attempt_id": None, "next_action_url": None}
        if not ok:
            p = await repo.transition(conn, p, "failed", now, failure_reason=result.failure_code,
                                      failure_message=result.failure_message,
                                      pg_transaction_id=result.pg_transaction_id, **common)
            await self._emit(conn, p, "payment.failed", now)
            return p
        pg_tx = result.pg_transaction_id or p["pg_transaction_id"]
        if p["capture_method"] == "manual" or result.outcome == "authorized":
            p = await repo.transition(conn, p, "authorized", now, authorized_amount=p["amount"],
                                      authorized_at=now, pg_transaction_id=pg_tx, **common)
            await self._emit(conn, p, "payment.authorized", now)
            return p
        p = await repo.transition(conn, p, "succeeded", now, authorized_amount=p["amount"],
                                  captured_amount=p["amount"], authorized_at=now, captured_at=now,
                                  pg_transaction_id=pg_tx, **common)
        if p["method_type"] == "virtual_account":
            await accounts.set_status(conn, p["id"], "deposited", now, deposited_at=now)
            await self._emit(conn, p, "virtual_account.deposited", now)
        await self._emit(conn, p, "payment.succeeded", now)
        await self._money_taken(conn, p, now, order, terms)
        return p

    async def _apply_capture(self, conn: Conn, p: Row, a: Row, result: AttemptResult, ok: bool,
                             now: datetime, order: Row, terms: dict[str, Any]) -> Row:
        if not ok or p["status"] != "authorized":
            return await repo.update(conn, p, now, open_attempt_id=None)
        p = await repo.transition(conn, p, "capture", now, captured_amount=a["amount"], captured_at=now,
                                  open_attempt_id=None)
        await self._emit(conn, p, "payment.captured", now)
        await self._money_taken(conn, p, now, order, terms)
        return p

    async def _apply_void(self, conn: Conn, p: Row, a: Row, result: AttemptResult, ok: bool,
                          now: datetime, order: Row, terms: dict[str, Any]) -> Row:
        if not ok:
            return await repo.update(conn, p, now, open_attempt_id=None)
        event = "void" if p["status"] == "authorized" else "cancel"
        if not PAYMENT.allows(p["status"], event):
            return await repo.update(conn, p, now, open_attempt_id=None)
        p = await repo.transition(conn, p, event, now, open_attempt_id=None, canceled_at=now,
                                  next_action_url=None)
        await self._emit(conn, p, "payment.voided" if event == "void" else "payment.canceled", now)
        return p

    async def _money_taken(self, conn: Conn, p: Row, now: datetime, order: Row,
                           terms: dict[str, Any] | None) -> None:
        """The order (locked by the caller) paid, the events, the settlement (`terms`: the merchant's settings,
        when the caller read them with the order)."""
        order = await orders_repo.mark_paid(conn, order, amount=p["captured_amount"], payment_id=p["id"],
                                            payment_key=p["payment_key"], now=now)
        await self._emit(conn, p, "payment.completed", now)
        await outbox.add(conn, merchant_id=p["merchant_id"], type="order.paid", obj=order_view(order),
                         resource_id=order["order_id"], now=now)
        await settlements.book(conn, p, source_id=p["id"], amount=p["captured_amount"], now=now, settings=terms)

    async def process_payment_after_approval(self, merchant_id: str, livemode: bool, pg: PgPayment, *,
                                             connector: str, face: str = "shop") -> tuple[Row, Row]:
        """Seed 004's shared step, for a PG's approval however it arrived (the confirm's answer or a webhook).

        One transaction under the order's and the payment's row locks: the payment row (created here when the
        PG approved a payment Gyeol had not yet seen), its move to succeeded, the order marked paid, the
        settlement and the outbox events. Whoever comes second finds the money taken and changes nothing.
        Returns (payment, settlement).
        """
        for _ in range(3):
            try:
                return await self._after_approval(merchant_id, livemode, pg, connector, face)
            except (IntegrityError, _RowAppeared):
                continue  # a concurrent request created the payment row first; run again and find it
        raise DomainError("conflict", "CONCURRENT_UPDATE", "The payment changed under this request; retry.")

    async def _after_approval(self, merchant_id: str, livemode: bool, pg: PgPayment, connector: str,
                              face: str) -> tuple[Row, Row]:
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            # Lock order as everywhere in the core: the payment first, then its order.
            p = await repo.get_by_key(conn, merchant_id, pg.payment_key, lock=True)
            order = await orders_repo.get(conn, merchant_id, pg.order_id, lock=True)
            if order is None:
                raise DomainError("not_found", "ORDER_NOT_FOUND", f"No such order: '{pg.order_id}'.")
            if p is None and await repo.get_by_key(conn, merchant_id, pg.payment_key) is not None:
                raise _RowAppeared()  # created between our two locks: start over, locking it first
            if order["amount"] != pg.total_amount or order["currency"] != pg.currency:
                raise DomainError("validation", "AMOUNT_MISMATCH", "The amount does not match the order's total.",
                                  details={"orderAmount": order["amount"], "amount": pg.total_amount})
            if p is not None and p["status"] in PAYMENT_MONEY_TAKEN:
                return p, await settlements.for_payment(conn, p["id"])
            if order["status"] != "created":
                raise DomainError("conflict", "ORDER_ALREADY_PAID", "The order has already been paid.",
                                  details={"orderId": pg.order_id, "orderStatus": order["status"]})
            if p is None:
                p = self._keyed_row(merchant_id, livemode, order, pg, face, now)
                await repo.insert(conn, p)
                await self._emit(conn, p, "payment.created", now)
            if p["status"] in ("created", "failed"):
                p = await repo.transition(conn, p, "confirm", now, connector=connector)
            if p["open_attempt_id"]:
                a = await repo.get_attempt(conn, p["open_attempt_id"])
                if a is not None and a["status"] in ("started", "unknown", "requires_action"):
                    await repo.settle_attempt(conn, a, "succeeded", now, pg_transaction_id=pg.last_transaction_key)
            p = await repo.transition(conn, p, "succeeded", now, authorized_amount=p["amount"],
                                      captured_amount=p["amount"], authorized_at=now, captured_at=now,
                                      # the id the PG's cancel takes: Toss's paymentKey, the sandbox's charge
                                      pg_transaction_id=str(pg.raw.get("chargeId") or pg.payment_key),
                                      open_attempt_id=None, next_action_url=None, failure_reason=None,
                                      failure_message=None)
            await self._emit(conn, p, "payment.succeeded", now)
            await self._money_taken(conn, p, now, order, None)
            return p, await settlements.for_payment(conn, p["id"])

    def _keyed_row(self, merchant_id: str, livemode: bool, order: Row, pg: PgPayment, face: str,
                   now: datetime) -> Row:
        payment_id = new_id("pay")
        return {
            "id": payment_id, "merchant_id": merchant_id, "order_pk": order["id"], "order_id": order["order_id"],
            "livemode": livemode, "face": face, "status": "created", "amount": order["amount"],
            "currency": order["currency"], "capture_method": "automatic", "authorized_amount": 0,
            "captured_amount": 0, "refunded_amount": 0, "refunding_amount": 0, "open_attempt_id": None,
            "description": None, "customer_id": order["customer_id"], "user_id": order["user_id"],
            "payment_key": pg.payment_key, "payment_number": None,
            "method_type": {"CARD": "card", "TRANSFER": "bank", "VIRTUAL_ACCOUNT": "virtual_account"}.get(
                (pg.method or "CARD").upper(), "card"),
            "payment_method_id": None, "card_brand": None, "card_last4": None, "connector": None,
            "pg_transaction_id": None, "failure_reason": None, "failure_message": None, "next_action_url": None,
            "client_token": f"{payment_id}_secret_{secrets.token_urlsafe(18)}", "return_url": None,
            "cancel_url": None, "metadata": {}, "expires_at": now + self.intent_ttl, "authorized_at": None,
            "captured_at": None, "canceled_at": None, "created_at": now, "updated_at": now,
        }

    async def _emit(self, conn: Conn, p: Row, type: str, now: datetime) -> None:
        await outbox.add(conn, merchant_id=p["merchant_id"], type=type, obj=payment_view(p), resource_id=p["id"],
                         now=now)

    # --- capture, cancel ----------------------------------------------------------------------
    async def capture(self, caller: Caller, payment_id: str, amount: int | None, *,
                      fault: str | None = None) -> Row:
        """Capture an authorized payment, wholly or in part; a partial capture releases the rest."""
        if idempotency.resumed("payment") == payment_id:
            view = await self.carry_on(payment_id)
            if view["status"] in PAYMENT_MONEY_TAKEN:
                return view  # the first try's capture went through
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            PAYMENT.next(p["status"], "capture")
            self._no_open_attempt(p)
            amount = p["authorized_amount"] if amount is None else amount
            if amount <= 0 or amount > p["authorized_amount"]:
                raise DomainError("validation", "INVALID_CAPTURE_AMOUNT",
                                  "The capture amount must be positive and at most the authorized amount.",
                                  details={"authorizedAmount": p["authorized_amount"]})
            p, a = await self._start_follow_up(conn, p, "capture", amount, now)
        return await self._follow_up(p, a, "capture", fault)

    async def cancel(self, caller: Caller, payment_id: str, reason: str | None = None, *,
                     fault: str | None = None) -> Row:
        """Cancel: an unpaid payment is canceled, an authorization voided, a taken payment refunded."""
        if idempotency.resumed("payment") == payment_id:
            view = await self.carry_on(payment_id)
            if view["status"] in PAYMENT_CLOSED:
                return view  # the first try's void or cancel went through
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            _refuse_closed(p)
            if p["status"] in ("succeeded", "captured"):
                money_taken = True
            else:
                money_taken = False
                open_attempt = await repo.get_attempt(conn, p["open_attempt_id"]) if p["open_attempt_id"] else None
                if p["status"] == "authorized" or (open_attempt and open_attempt["status"] == "requires_action"):
                    # Release the hold (or the waiting 3-D Secure charge) at the PG first.
                    self._no_open_attempt(p, allow=open_attempt)
                    p, a = await self._start_follow_up(conn, p, "void", p["amount"], now,
                                                       parent=open_attempt)
                elif open_attempt is not None:
                    raise DomainError("conflict", "PAYMENT_IN_PROGRESS",
                                      "A PG request for this payment is in progress; try again shortly.",
                                      details={"paymentId": payment_id, "status": p["status"]})
                else:
                    p = await repo.transition(conn, p, "cancel", now, canceled_at=now)
                    await self._emit(conn, p, "payment.canceled", now)
                    return payment_view(p)
        if money_taken:
            await self.refunds.refund(caller, RefundCommand(payment_id, None, reason or "canceled", {},
                                                            is_cancel=True), fault=fault)
            return await self.get(caller, payment_id)
        return await self._follow_up(p, a, "void", fault)

    def _no_open_attempt(self, p: Row, allow: Row | None = None) -> None:
        if p["open_attempt_id"] and (allow is None or p["open_attempt_id"] != allow["id"]):
            raise DomainError("conflict", "PAYMENT_IN_PROGRESS",
                              "A PG request for this payment is in progress; try again shortly.",
                              details={"paymentId": p["id"], "status": p["status"]})

    async def _start_follow_up(self, conn: Conn, p: Row, kind: str, amount: int, now: datetime,
                               parent: Row | None = None) -> tuple[Row, Row]:
        a = {
            "id": new_id("att"), "payment_id": p["id"], "merchant_id": p["merchant_id"], "kind": kind,
            "status": "started", "amount": amount, "connector": p["connector"] or "sandbox",
            "method_type": p["method_type"], "pg_token": None, "pg_transaction_id": p["pg_transaction_id"],
            "error_code": None,
            "error_message": None, "next_check_at": None, "checks": 0, "created_at": now, "updated_at": now,
        }
        await repo.insert_attempt(conn, a)
        if parent is not None:
            await repo.settle_attempt(conn, parent, "canceled", now)
        p = await repo.update(conn, p, now, open_attempt_id=a["id"])
        return p, a

    async def _send_follow_up(self, p: Row, a: Row, fault: str | None) -> AttemptResult | None:
        connector = self.connectors.by_name(a["connector"])
        req = FollowUpRequest(reference=a["id"], merchant_id=p["merchant_id"], payment_id=p["id"],
                              pg_transaction_id=p["pg_transaction_id"] or "", amount=a["amount"],
                              currency=p["currency"], fault=fault)
        call = {"capture": connector.capture, "void": connector.void}[a["kind"]]
        try:
            return await call(req)
        except ConnectorUnavailable:
            return None

    async def _follow_up(self, p: Row, a: Row, kind: str, fault: str | None) -> Row:
        view = await self.apply_result(a["id"], await self._send_follow_up(p, a, fault))
        last = view.get("lastAttempt") or {}
        if last.get("status") == "unknown":
            raise DomainError("gateway", "PG_TIMEOUT",
                              "The PG did not answer in time; the outcome is being reconciled.",
                              status=504, details={"paymentId": p["id"], "status": view["status"]})
        if last.get("status") == "failed":
            raise DomainError("processing", last.get("errorCode") or "processing_error",
                              f"The PG refused the {kind}.", details={"paymentId": p["id"],
                                                                       "status": view["status"]})
        return view

    # --- resolution of in-flight attempts -----------------------------------------------------
    async def carry_on(self, payment_id: str) -> Row:
        """Carry on the work of a request that was cut short (a crash): an attempt it never heard back about is
        sent to the PG again, under the same idempotency key, so the PG answers without charging twice; one that
        timed out is looked up. Returns the payment's view."""
        async with self.db.read() as conn:
            p = await repo.get_any(conn, payment_id)
            a = await repo.get_attempt(conn, p["open_attempt_id"]) if p and p["open_attempt_id"] else None
        if p is not None and a is not None and a["status"] == "started":
            return await self.apply_result(a["id"], await self._send(p, a, None))
        if a is not None and a["status"] == "unknown":
            return await self.resolve_attempt(a)
        async with self.db.read() as conn:
            return payment_view(*await repo.get_with_last_attempt(conn, None, payment_id))

    async def resolve_attempt(self, a: Row) -> Row:
        """Ask the PG what became of an attempt whose answer was lost, and apply it."""
        async with self.db.read() as conn:
            p = await repo.get_any(conn, a["payment_id"])
        assert p is not None
        return await self.apply_result(a["id"], await self._ask_pg(a, p))

    async def _ask_pg(self, a: Row, p: Row) -> AttemptResult | None:
        """The PG's current answer for an attempt; None when it cannot be reached."""
        try:
            if a["kind"] == "authorize" and a["connector"] == "sandbox" and a["pg_transaction_id"]:
                # A charge the buyer made at the PG (seed 003's complete): found by its transaction id.
                found = await self.connectors.sandbox.transaction(a["merchant_id"], a["pg_transaction_id"])
                return found.result if found is not None and found.payment_id == p["id"] else \
                    AttemptResult("not_found")
            return await self.connectors.by_name(a["connector"]).lookup(
                a["merchant_id"], a["id"], order_id=p["order_id"], payment_key=p["payment_key"], amount=a["amount"],
                kind=a["kind"])
        except ConnectorUnavailable:
            return None

    async def apply_pg_event(self, source: str, event_id: str, type: str, data: dict[str, Any]) -> bool:
        """A PG told us of an asynchronous outcome. Returns False for a duplicate delivery."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            if not await sql.insert_new(conn, inbound_events, {"source": source, "event_id": event_id,
                                                                "received_at": now}):
                return False
            p = await repo.get_any(conn, str(data.get("paymentId")), lock=True)
            if p is None or not p["open_attempt_id"]:
                return True
            locked = await repo.lock_for_answer(conn, p["open_attempt_id"])  # the payment's lock is held already
            a = locked.attempt
            if type == "payment.succeeded":
                outcome: Outcome = "authorized" if p["capture_method"] == "manual" else "succeeded"
                result = AttemptResult(outcome, pg_transaction_id=data.get("pgTransactionId"))
            elif type == "payment.failed":
                code = str(data.get("failureReason") or "processing_error")
                result = AttemptResult("failed", pg_transaction_id=data.get("pgTransactionId"),
                                       failure_code=code, failure_message=data.get("failureMessage"))
            else:
                return True
            if data.get("amount") is not None and data.get("amount") != a["amount"]:
                return True  # not the attempt this event speaks of
            try:
                await self._apply(conn, locked, result, now)
            except IllegalTransition:
                pass  # a late event after a final state is ignored
        return True

    async def expire_due(self, limit: int = 500) -> list[str]:
        """Cancel intents past their `expiresAt` that never took money (created, or failed and not retried)."""
        now = self.clock.now()
        async with self.db.read() as conn:
            q = sa.select(payments.c.id).where(payments.c.status.in_(("created", "failed")),
                                               payments.c.expires_at <= now).limit(limit)
            ids = [r[0] for r in (await conn.execute(q)).all()]
        expired = []
        for payment_id in ids:
            async with self.db.tx() as conn:
                p = await repo.get_any(conn, payment_id, lock=True)
                if p is None or not PAYMENT.allows(p["status"], "expire") or p["expires_at"] > now:
                    continue
                p = await repo.transition(conn, p, "expire", now, canceled_at=now, failure_reason=p["failure_reason"])
                await self._emit(conn, p, "payment.canceled", now)
                expired.append(payment_id)
        return expired

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
            if p["open_attempt_id"]:
                # The deposit may have reached the PG while its webhook was lost: ask before expiring.
                async with self.db.read() as conn:
                    a = await repo.get_attempt(conn, p["open_attempt_id"])
                if a is not None and a["status"] == "requires_action":
                    found = await self._ask_pg(a, p)
                    if found is None:
                        continue
                    if found.outcome in ("succeeded", "authorized"):
                        await self.apply_result(a["id"], found)
                        continue
            system = Caller(merchant_id=p["merchant_id"], mode="live" if p["livemode"] else "test")
            try:
                view = await self.cancel(system, payment_id, "virtual account expired")
            except DomainError:
                continue  # in flight or already settled; the next pass looks again
            if view["status"] == "canceled":
                async with self.db.tx() as conn:
                    await accounts.set_status(conn, payment_id, "expired", now)
                    p = await repo.get_any(conn, payment_id)
                    assert p is not None
                    await self._emit(conn, p, "virtual_account.expired", now)
                expired.append(payment_id)
        return expired

    # --- seed 003: the buyer paid at the PG; the app asks Gyeol to verify and complete ----------
    async def complete(self, caller: Caller, payment_id: str, pg_transaction_id: str, amount: int) -> Row:
        """Verify a payment the buyer made at the PG (looked up by its transaction id) and apply it."""
        self.connectors.for_payment(caller.livemode, "card")  # a live key never reaches the sandbox
        if idempotency.resumed("payment") == payment_id:
            await self.carry_on(payment_id)
        found = await self.connectors.sandbox.transaction(caller.merchant_id, pg_transaction_id)
        now = self.clock.now()
        async with self.db.tx() as conn:
            await idempotency.claim(conn, "payment", payment_id)
            p = await repo.get(conn, caller, payment_id, lock=True)
            _refuse_closed(p)
            if amount != p["amount"]:
                raise DomainError("validation", "AMOUNT_MISMATCH", "amount does not match the payment's amount.",
                                  details={"paymentId": payment_id, "amount": p["amount"]})
            if found is None or found.payment_id != p["id"]:
                raise DomainError("validation", "PG_TRANSACTION_MISMATCH",
                                  "The PG has no such transaction for this payment.",
                                  details={"pgTransactionId": pg_transaction_id})
            if found.amount != p["amount"]:
                raise DomainError("validation", "AMOUNT_MISMATCH", "The PG charged another amount.",
                                  details={"paymentId": payment_id, "pgAmount": found.amount})
            if p["status"] in PAYMENT_MONEY_TAKEN:
                if p["pg_transaction_id"] == pg_transaction_id:
                    return payment_view(p)  # completed already by this transaction: the same answer
                raise DomainError("conflict", "ALREADY_COMPLETED", "The payment was completed by another transaction.",
                                  details={"paymentId": payment_id, "status": p["status"]})
            order = await orders_repo.get_by_pk(conn, p["order_pk"], lock=True)
            method = ResolvedMethod(type=p["method_type"] or "card", brand=found.brand, last4=found.last4,
                                    connector=self.connectors.sandbox.name)
            p, attempt = await self._start_authorize(conn, p, order, method, now)
            await repo.settle_attempt(conn, attempt, "unknown", now, pg_transaction_id=pg_transaction_id)
        view = await self.apply_result(attempt["id"], found.result)
        return self._raise_for(view)

    # --- payment methods ----------------------------------------------------------------------
    async def _resolve_method(self, caller: Caller, spec: MethodSpec) -> ResolvedMethod:
        if spec.type in ("bank", "virtual_account"):
            pg = self.connectors.for_payment(caller.livemode, spec.type)
            return ResolvedMethod(type=spec.type, bank=spec.bank, connector=pg.name)
        if spec.payment_key and not (spec.card or spec.token or spec.payment_method_id):
            keyed = await self.connectors.keyed_for(caller.merchant_id, caller.livemode)
            return ResolvedMethod(type=spec.type, payment_key=spec.payment_key, connector=keyed.name)
        pg = self.connectors.for_payment(caller.livemode, "card")
        if spec.payment_method_id:
            pm = await self.customers.method_for_payment(caller, spec.payment_method_id)
            token, brand, last4 = pm["pg_token"], pm["brand"], pm["last4"]
            pm_id: str | None = pm["id"]
        elif spec.card is not None:
            info = await pg.tokenize(caller.merchant_id, spec.card)
            token, brand, last4, pm_id = info.token, info.brand, info.last4, None
        else:
            assert spec.token is not None
            described = await pg.describe_token(caller.merchant_id, spec.token)
            if described is None:
                raise DomainError("validation", "INVALID_TOKEN", "No such token.", details={"field": "token"})
            token, brand, last4, pm_id = spec.token, described.brand, described.last4, None
        return ResolvedMethod(type="card", token=token, payment_method_id=pm_id, brand=brand, last4=last4)
