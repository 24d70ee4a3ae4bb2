"""Orders: what the merchant sells. A payment is checked against the order's unpaid total."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.money import check_currency
from gyeol.core.orders import repository as repo
from gyeol.core.orders.records import Order
from gyeol.core.pagination import Page, paginate
from gyeol.db.engine import Database
from gyeol.ids import new_id
from gyeol.models import orders

ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class CreateOrder:
    order_id: str
    amount: int
    currency: str = "KRW"
    customer_id: str | None = None
    user_id: str | None = None
    order_name: str | None = None
    items: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def check_order_id(order_id: str) -> None:
    if not ORDER_ID.match(order_id):
        raise DomainError("validation", "INVALID_ORDER_ID",
                          "orderId must be 1-64 characters of letters, digits, '_' or '-'.",
                          details={"field": "orderId"})


class OrderService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def new_order(self, caller: Caller, cmd: CreateOrder) -> Order:
        """A `created` order, not yet inserted."""
        check_order_id(cmd.order_id)
        currency = check_currency(cmd.currency)
        if cmd.items is not None:
            total = sum(int(i["amount"]) * int(i.get("quantity", 1)) for i in cmd.items)
            if total != cmd.amount:
                raise DomainError("validation", "ITEMS_TOTAL_MISMATCH",
                                  "The items do not add up to the order amount.",
                                  details={"itemsTotal": total, "amount": cmd.amount})
        now = self.clock.now()
        return Order(
            id=new_id("ord"), merchant_id=caller.merchant_id, livemode=caller.livemode, order_id=cmd.order_id,
            amount=cmd.amount, currency=currency, status="created", paid_amount=0, refunded_amount=0,
            customer_id=cmd.customer_id, user_id=cmd.user_id, order_name=cmd.order_name, items=cmd.items,
            metadata=cmd.metadata or {}, payment_id=None, payment_key=None, paid_at=None, created_at=now,
            updated_at=now,
        )

    async def create(self, caller: Caller, cmd: CreateOrder) -> Order:
        order = self.new_order(caller, cmd)
        try:
            async with self.db.tx() as conn:
                await idempotency.claim(conn)
                await repo.insert(conn, order)
        except IntegrityError:
            raise DomainError("conflict", "ORDER_ALREADY_EXISTS", f"Order '{cmd.order_id}' already exists.",
                              details={"orderId": cmd.order_id}) from None
        return order

    async def get(self, caller: Caller, order_id: str) -> Order:
        async with self.db.read() as conn:
            order = await repo.get(conn, caller, order_id)
        if order is None or (caller.user_id and order.user_id != caller.user_id):
            raise not_found("order", order_id)
        return order

    async def list_page(self, caller: Caller, page: int, size: int, status: str | None = None) -> Page[Order]:
        q = sa.select(orders).where(orders.c.merchant_id == caller.merchant_id, orders.c.livemode == caller.livemode)
        if caller.user_id:
            q = q.where(orders.c.user_id == caller.user_id)
        if status:
            q = q.where(orders.c.status == status)
        async with self.db.read() as conn:
            return await paginate(conn, q, orders.c.created_at.desc(), page, size, Order.from_row)

