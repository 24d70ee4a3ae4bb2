"""Payments addressed by a paymentKey (Toss's convention), for the kiosk and shop faces.

They are the native API's payments (one table, one transition table); this module adds what a paymentKey flow
means: create-or-return by key, a confirm that repeats its first approval, a cancel that is full unless the
merchant allows partial cancels, and the receipt address. A native payment is found by its paymentId too.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.payments import windows
from gyeol.core.payments.authenticated import expired, session_gone
from gyeol.core.payments.commands import CreateIntent, MethodSpec
from gyeol.core.payments.records import Channel, Payment
from gyeol.core.payments.service import PaymentService
from gyeol.core.refunds.records import Refund
from gyeol.core.refunds.service import RefundCommand
from gyeol.core.states import PAYMENT_CLOSED, PAYMENT_MONEY_TAKEN
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.models import payments

BY_KEY = (sa.select(payments).where(
    payments.c.merchant_id == sa.bindparam("merchant_id"),
    sa.or_(payments.c.payment_key == sa.bindparam("key"), payments.c.id == sa.bindparam("key"))))


def _not_found(key: str) -> DomainError:
    return DomainError("not_found", "NOT_FOUND", f"No payment with paymentKey '{key}'.")


def _mismatch() -> DomainError:
    return DomainError("conflict", "AMOUNT_MISMATCH",
                       "The orderId or amount differs from the payment created with this paymentKey.")


def _same(p: Payment, order_id: str, amount: int) -> Payment:
    """`p`, the payment a create finds under its paymentKey, if it is for the same order and amount."""
    if (p.order_id, p.amount) != (order_id, amount):
        raise _mismatch()
    return p


class KeyedPayments:
    def __init__(self, db: Database, payments_service: PaymentService, base_url: str) -> None:
        self.db = db
        self.core = payments_service
        self.base_url = base_url

    async def find(self, caller: Caller, key: str) -> Payment:
        async with self.db.read() as conn:
            found = await sql.rows(conn, BY_KEY, {"merchant_id": caller.merchant_id, "key": key})
        # The mode is checked on the rows (at most two), as `Caller.owns` says: the statement keeps its one plan.
        rows = [r for r in found if caller.owns(r["merchant_id"], r["livemode"])]
        if not rows:
            raise _not_found(key)
        # A merchant's paymentKey wins over a coincidental paymentId.
        return Payment(**next((r for r in rows if r["payment_key"] == key), rows[0]))

    async def _approved_soon(self, caller: Caller, key: str) -> bool:
        """Whether a confirm already at the PG for this key ends in approval within a moment (no lock is held)."""
        for _ in range(20):
            p = await self.find(caller, key)
            if p.status in PAYMENT_MONEY_TAKEN:
                return True
            if p.status != "pending":
                return False
            await asyncio.sleep(0.1)
        return False

    async def _maybe(self, caller: Caller, key: str) -> Payment | None:
        try:
            return await self.find(caller, key)
        except DomainError:
            return None

    async def find_by_order(self, caller: Caller, order_id: str) -> Payment:
        q = (sa.select(payments).where(payments.c.merchant_id == caller.merchant_id,
                                       payments.c.livemode == caller.livemode, payments.c.order_id == order_id)
             .order_by(payments.c.created_at.desc()).limit(1))
        async with self.db.read() as conn:
            row = (await conn.execute(q)).mappings().first()
        if row is None:
            raise DomainError("not_found", "NOT_FOUND", f"No payment for orderId '{order_id}'.")
        return Payment(**row)

    async def create(self, caller: Caller, key: str, order_id: str, amount: int, *, channel: Channel,
                     return_url: str | None = None, cancel_url: str | None = None) -> Payment:
        """Create the payment for a paymentKey, or return the one that exists with the same order and amount.
        The return and cancel addresses are where Gyeol's hosted checkout sends the buyer (Toss's successUrl and
        failUrl)."""
        existing = await self._maybe(caller, key)
        if existing is not None:
            return _same(existing, order_id, amount)
        return await self._insert(caller, CreateIntent(order_id=order_id, amount=amount, currency="KRW",
                                                       channel=channel, payment_key=key, return_url=return_url,
                                                       cancel_url=cancel_url))

    async def open(self, caller: Caller, key: str, order_id: str, amount: int, *, channel: Channel,
                   success_url: str | None, fail_url: str | None) -> Payment:
        """The kiosk's create (`create`, where the buyer's window is Gyeol's checkout). A merchant whose own PG
        takes the buyer's payment in a window of its own (`windows.py`) has the payment opened there when the
        kiosk says where the window returns to (`success_url`): the PG names the payment, so it is recorded under
        the PG's key, with the window's address. Without `success_url` the kiosk opened the PG's window itself
        (the PG's SDK), and `key` is the one the PG named."""
        existing = await self._maybe(caller, key)
        if existing is not None:
            return _same(existing, order_id, amount)
        host = await self.core.pgs.window_host(caller.merchant_id)
        cmd = CreateIntent(order_id=order_id, amount=amount, currency="KRW", channel=channel, payment_key=key,
                           return_url=success_url, cancel_url=fail_url, connector=host[0].name if host else None)
        if host is None or success_url is None:
            return await self._insert(caller, cmd)
        name = await self._order_name(caller, order_id)
        pg_key, url = await windows.open_at_pg(self.core.pgs, caller, host, cmd, name)
        existing = await self._maybe(caller, pg_key)  # a retry: the first try recorded it already
        if existing is not None:
            return _same(existing, order_id, amount)
        return await self._insert(caller, replace(cmd, payment_key=pg_key, window_url=url))

    async def _order_name(self, caller: Caller, order_id: str) -> str:
        """The name the merchant registered the order under, or its id: what the PG's window shows the buyer."""
        try:
            return (await self.core.intents.orders.get(caller, order_id)).order_name or order_id
        except DomainError:
            return order_id

    async def _insert(self, caller: Caller, cmd: CreateIntent) -> Payment:
        """Record the payment `cmd` asks for under its paymentKey; or answer the one recorded under the key meanwhile
        (a concurrent create, or the PG's webhook of this very key's approval)."""
        key = cmd.payment_key or ""
        try:
            return (await self.core.create_intent(caller, cmd)).charge.payment
        except IntegrityError:
            pass  # a concurrent create of the same key won; read it
        except DomainError as err:
            if err.code != "ORDER_ALREADY_PAID" or (recorded := await self._maybe(caller, key)) is None:
                raise
            return _same(recorded, cmd.order_id, cmd.amount)
        found = await self._maybe(caller, key)
        if found is None:
            raise _mismatch()  # the key is taken in the other mode
        return _same(found, cmd.order_id, cmd.amount)

    async def confirm(self, caller: Caller, key: str, order_id: str, amount: int, *,
                      fault: str | None = None) -> Payment:
        p = await self.find(caller, key)
        if (p.order_id, p.amount) != (order_id, amount):
            raise _mismatch()
        if expired(p):
            raise session_gone(p.id)
        if p.status in PAYMENT_CLOSED:
            raise DomainError("conflict", "ALREADY_CANCELED", "The payment has been canceled.", status=422)
        if p.status not in PAYMENT_MONEY_TAKEN:
            try:
                # The buyer authenticated in the window: this confirm is what charges.
                charge = await self.core.charge_authenticated(caller, p, fault=fault) if p.status == "pending" else None
                if charge is None:
                    # A retry after a lost PG answer settles the open attempt first (resume): never a second charge.
                    charge = await self.core.confirm(caller, p.id, MethodSpec(payment_key=p.payment_key or p.id),
                                                     fault=fault, resume=p.status == "pending")
                p = charge.payment  # as the answer's transaction left it, its receipt id included
                if expired(p):  # the PG's window session ran out before this confirm
                    raise session_gone(p.id)
            except DomainError as err:
                # A concurrent confirm or the PG's webhook may have approved it meanwhile: that is success.
                if err.kind != "conflict" or not await self._approved_soon(caller, key):
                    raise
                p = await self.find(caller, key)
        return p

    async def cancel(self, caller: Caller, key: str, reason: str, amount: int | None, *,
                     allow_partial: bool, fault: str | None = None) -> Payment:
        p = await self.find(caller, key)
        if p.status in PAYMENT_CLOSED:
            raise DomainError("conflict", "ALREADY_CANCELED", "The payment has already been canceled.", status=422)
        if p.status not in PAYMENT_MONEY_TAKEN:
            raise DomainError("conflict", "NOT_APPROVED", "The payment has not been approved yet.", status=422)
        remaining = p.captured_amount - p.refunded_amount - p.refunding_amount
        amount = remaining if amount is None else amount
        if amount > remaining or (amount != remaining and not allow_partial):
            raise DomainError("conflict", "PARTIAL_MISMATCH",
                              f"cancelAmount must be the whole remaining amount ({remaining}).",
                              details={"remainingAmount": remaining})
        if amount == p.captured_amount:
            await self.core.cancel(caller, p.id, reason, fault=fault)
        else:
            await self.core.refunds.refund(caller, RefundCommand(p.id, amount, reason, {}, is_cancel=True),
                                           fault=fault)
        return await self.find(caller, key)

    async def cancels(self, payment_id: str) -> list[Refund]:
        return await self.core.refunds.succeeded(payment_id)

    def receipt_url(self, p: Payment) -> str | None:
        return f"{self.base_url}/receipts/{p.receipt_id}" if p.receipt_id else None
