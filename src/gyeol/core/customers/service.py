"""Customers and their saved payment methods. Only a PG token is kept, never a card number."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.connectors.registry import Connectors
from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.orders.service import ORDER_ID
from gyeol.crypto import DataCipher
from gyeol.db.engine import Conn, Database
from gyeol.ids import new_id
from gyeol.models import customers, payment_methods

Row = dict[str, Any]


def sealed(cipher: DataCipher, details: dict[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    return {"encrypted": cipher.encrypt(orjson.dumps(details).decode())}


def unsealed(cipher: DataCipher, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    value: dict[str, Any] = orjson.loads(cipher.decrypt(stored["encrypted"]) or "null")
    return value


def method_view(m: Row) -> dict[str, Any]:
    return {
        "paymentMethodId": m["id"],
        "type": m["type"],
        "brand": m["brand"],
        "last4": m["last4"],
        "exp": f"{m['exp_month']:02d}/{m['exp_year'] % 100:02d}",
        "expMonth": m["exp_month"],
        "expYear": m["exp_year"],
        "default": bool(m["is_default"]),
    }


class CustomerService:
    def __init__(self, db: Database, clock: Clock, connectors: Connectors, cipher: DataCipher) -> None:
        self.cipher = cipher
        self.db = db
        self.clock = clock
        self.connectors = connectors

    async def attach(self, caller: Caller, customer_id: str, token: str, type: str,
                     billing_details: dict[str, Any] | None) -> dict[str, Any]:
        """Save a tokenized card for a customer; the customer is created on first use."""
        if not ORDER_ID.match(customer_id):
            raise DomainError("validation", "INVALID_CUSTOMER_ID",
                              "customerId must be 1-64 characters of letters, digits, '_' or '-'.")
        if type != "card":
            raise DomainError("validation", "UNSUPPORTED_METHOD_TYPE", "Only type 'card' can be saved.",
                              details={"field": "type"})
        pg = self.connectors.for_payment(caller.livemode, "card")
        info = await pg.describe_token(caller.merchant_id, token)
        if info is None:
            raise DomainError("validation", "INVALID_TOKEN", "No such token.", details={"field": "token"})
        now = self.clock.now()
        for tries in range(2):
            try:
                async with self.db.tx() as conn:
                    await idempotency.claim(conn)
                    cus = await self._customer(conn, caller.merchant_id, customer_id, create=True)
                    assert cus is not None
                    has_default = (await conn.execute(
                        sa.select(payment_methods.c.id).where(
                            payment_methods.c.customer_pk == cus["id"], payment_methods.c.deleted_at.is_(None),
                            payment_methods.c.is_default.is_(True)).limit(1))).first() is not None
                    row = {
                        "id": new_id("pm"), "merchant_id": caller.merchant_id, "customer_pk": cus["id"],
                        "type": "card", "pg_token": info.token, "connector": pg.name, "brand": info.brand,
                        "last4": info.last4, "exp_month": info.exp_month, "exp_year": info.exp_year,
                        "fingerprint": info.fingerprint,
                        # names, e-mail addresses and phone numbers: encrypted at rest
                        "billing_details": sealed(self.cipher, billing_details),
                        "is_default": not has_default, "deleted_at": None, "created_at": now,
                    }
                    await conn.execute(payment_methods.insert().values(**row))
                return {**method_view(row), "customerId": customer_id}
            except IntegrityError:
                if tries:
                    raise
        raise AssertionError("unreachable")

    async def list_methods(self, caller: Caller, customer_id: str) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            cus = await self._customer(conn, caller.merchant_id, customer_id, create=False)
            if cus is None:
                raise not_found("customer", customer_id)
            rows = (await conn.execute(
                sa.select(payment_methods).where(payment_methods.c.customer_pk == cus["id"],
                                                 payment_methods.c.deleted_at.is_(None))
                .order_by(payment_methods.c.created_at, payment_methods.c.id))).mappings().all()
        return [method_view(dict(r)) for r in rows]

    async def set_default(self, caller: Caller, customer_id: str, method_id: str) -> dict[str, Any]:
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            cus = await self._customer(conn, caller.merchant_id, customer_id, create=False)
            m = await self._method(conn, caller, method_id, lock=True)
            if cus is None or m["customer_pk"] != cus["id"]:
                raise not_found("paymentMethod", method_id)
            await conn.execute(payment_methods.update().where(payment_methods.c.customer_pk == cus["id"])
                               .values(is_default=False))
            await conn.execute(payment_methods.update().where(payment_methods.c.id == method_id)
                               .values(is_default=True))
        return {**method_view({**m, "is_default": True}), "customerId": customer_id}

    async def detach(self, caller: Caller, method_id: str) -> dict[str, Any]:
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            m = await self._method(conn, caller, method_id, lock=True)
            await conn.execute(payment_methods.update().where(payment_methods.c.id == method_id)
                               .values(deleted_at=self.clock.now(), is_default=False))
            if m["is_default"]:
                # The oldest remaining method becomes the default, so a customer always has one.
                nxt = (await conn.execute(
                    sa.select(payment_methods.c.id).where(payment_methods.c.customer_pk == m["customer_pk"],
                                                          payment_methods.c.deleted_at.is_(None))
                    .order_by(payment_methods.c.created_at, payment_methods.c.id).limit(1))).scalar()
                if nxt:
                    await conn.execute(payment_methods.update().where(payment_methods.c.id == nxt)
                                       .values(is_default=True))
        return {"paymentMethodId": method_id, "deleted": True}

    async def method_for_payment(self, caller: Caller, method_id: str) -> Row:
        async with self.db.read() as conn:
            return await self._method(conn, caller, method_id)

    async def _method(self, conn: Conn, caller: Caller, method_id: str, lock: bool = False) -> Row:
        q = sa.select(payment_methods).where(payment_methods.c.id == method_id,
                                             payment_methods.c.merchant_id == caller.merchant_id,
                                             payment_methods.c.deleted_at.is_(None))
        if lock:
            q = q.with_for_update()
        row = (await conn.execute(q)).mappings().first()
        if row is None:
            raise not_found("paymentMethod", method_id)
        return dict(row)

    async def _customer(self, conn: Conn, merchant_id: str, customer_id: str, *,
                        create: bool) -> Row | None:
        q = sa.select(customers).where(customers.c.merchant_id == merchant_id,
                                       customers.c.customer_id == customer_id)
        row = (await conn.execute(q)).mappings().first()
        if row is not None or not create:
            return dict(row) if row else None
        new = {"id": new_id("cus"), "merchant_id": merchant_id, "customer_id": customer_id,
               "created_at": self.clock.now()}
        await conn.execute(customers.insert().values(**new))
        return new
