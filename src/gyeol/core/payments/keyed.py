"""Payments addressed by a paymentKey (Toss's convention), for the kiosk and shop faces.

They are the native API's payments (one table, one transition table); this module adds what a paymentKey flow
means: create-or-return by key, a confirm that repeats its first approval, a cancel that is full unless the
merchant allows partial cancels, and the receipt address. A native payment is found by its paymentId too.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
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

    async def _exists(self, caller: Caller, key: str) -> bool:
        try:
            await self.find(caller, key)
        except DomainError:
            return False
        return True

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
        for _ in range(2):
            try:
                existing = await self.find(caller, key)
            except DomainError:
                existing = None
            if existing is not None:
                if (existing.order_id, existing.amount) != (order_id, amount):
                    raise _mismatch()
                return existing
            try:
                await self.core.create_intent(caller, CreateIntent(order_id=order_id, amount=amount, currency="KRW",
                                                                   channel=channel, payment_key=key,
                                                                   return_url=return_url, cancel_url=cancel_url))
            except IntegrityError:
                continue  # a concurrent create of the same key won; read it
            except DomainError as err:
                # The PG's webhook may have recorded this very key's approval meanwhile: then it is the answer.
                if err.code == "ORDER_ALREADY_PAID" and await self._exists(caller, key):
                    continue
                raise
            return await self.find(caller, key)
        raise _mismatch()

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
