"""Customers and their saved payment methods. Only a PG token is kept, never a card number."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from gyeol.core import idempotency
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.customers import repository as repo
from gyeol.core.customers.records import Customer, PaymentMethod
from gyeol.core.errors import DomainError, not_found
from gyeol.core.orders.service import ORDER_ID
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.crypto import DataCipher
from gyeol.db.engine import Conn, Database
from gyeol.ids import new_id


def sealed(cipher: DataCipher, details: dict[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    return {"encrypted": cipher.encrypt(orjson.dumps(details).decode())}


class CustomerService:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, cipher: DataCipher) -> None:
        self.cipher = cipher
        self.db = db
        self.clock = clock
        self.pgs = pgs

    async def attach(self, caller: Caller, customer_id: str, token: str, type: str,
                     billing_details: dict[str, Any] | None) -> PaymentMethod:
        """Save a tokenized card for a customer; the customer is created on first use."""
        if not ORDER_ID.match(customer_id):
            raise DomainError("validation", "INVALID_CUSTOMER_ID",
                              "customerId must be 1-64 characters of letters, digits, '_' or '-'.")
        if type != "card":
            raise DomainError("validation", "UNSUPPORTED_METHOD_TYPE", "Only type 'card' can be saved.",
                              details={"field": "type"})
        async with self.db.read() as conn:  # another mode's customer is 404 before any PG refusal
            await self._customer(conn, caller, customer_id, create=False)
        pg = self.pgs.for_method(caller.livemode, "card")
        info = await self.pgs.describe_token(caller, token)
        if info is None:
            raise DomainError("not_found", "INVALID_TOKEN", "No such token.", details={"field": "token"})
        now = self.clock.now()
        for tries in range(2):
            try:
                async with self.db.tx() as conn:
                    await idempotency.claim(conn)
                    cus = await self._customer(conn, caller, customer_id, create=True)
                    assert cus is not None
                    has_default = await repo.has_default(conn, cus.id)
                    m = PaymentMethod(
                        id=new_id("pm"), merchant_id=caller.merchant_id, livemode=caller.livemode,
                        customer_pk=cus.id, type="card", pg_token=info.token, connector=pg.name, brand=info.brand,
                        last4=info.last4,
                        exp_month=info.exp_month, exp_year=info.exp_year, fingerprint=info.fingerprint,
                        # names, e-mail addresses and phone numbers: encrypted at rest
                        billing_details=sealed(self.cipher, billing_details),
                        is_default=not has_default, deleted_at=None, created_at=now,
                    )
                    await repo.insert_method(conn, m)
                return m
            except IntegrityError:  # the customer was created meanwhile: the second try finds it
                if tries:
                    raise
        raise AssertionError("unreachable")

    async def list_methods(self, caller: Caller, customer_id: str) -> list[PaymentMethod]:
        async with self.db.read() as conn:
            cus = await self._customer(conn, caller, customer_id, create=False)
            if cus is None:
                raise not_found("customer", customer_id)
            return await repo.methods(conn, cus.id)

    async def set_default(self, caller: Caller, customer_id: str, method_id: str) -> PaymentMethod:
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            cus = await self._customer(conn, caller, customer_id, create=False)
            m = await self._method(conn, caller, method_id, lock=True)
            if cus is None or m.customer_pk != cus.id:
                raise not_found("paymentMethod", method_id)
            await repo.make_default(conn, cus.id, method_id)
        return replace(m, is_default=True)

    async def detach(self, caller: Caller, method_id: str) -> None:
        async with self.db.tx() as conn:
            await idempotency.claim(conn)
            m = await self._method(conn, caller, method_id, lock=True)
            await repo.detach(conn, method_id, self.clock.now())
            if m.is_default:
                # The oldest remaining method becomes the default, so a customer always has one.
                nxt = await repo.oldest_method_id(conn, m.customer_pk)
                if nxt:
                    await repo.set_default(conn, nxt)

    async def method_for_payment(self, caller: Caller, method_id: str) -> PaymentMethod:
        async with self.db.read() as conn:
            return await self._method(conn, caller, method_id)

    async def _method(self, conn: Conn, caller: Caller, method_id: str, lock: bool = False) -> PaymentMethod:
        row = await repo.get_method(conn, caller, method_id, lock=lock)
        if row is None:
            raise not_found("paymentMethod", method_id)
        return row

    async def _customer(self, conn: Conn, caller: Caller, customer_id: str, *,
                        create: bool) -> Customer | None:
        """The caller's customer; created when asked and the merchant has none by this id (else None). The
        merchant's customer in the other mode is 404: a customerId is one customer's, whatever its mode."""
        row = await repo.get_customer(conn, caller.merchant_id, customer_id)
        if row is not None and not caller.owns(row.merchant_id, row.livemode):
            raise not_found("customer", customer_id)
        if row is not None or not create:
            return row
        new = Customer(id=new_id("cus"), merchant_id=caller.merchant_id, livemode=caller.livemode,
                       customer_id=customer_id, created_at=self.clock.now())
        await repo.insert_customer(conn, new)
        return new
