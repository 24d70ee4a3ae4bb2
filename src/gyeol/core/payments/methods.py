"""The payment method a confirm pays with, resolved before its transaction opens: card data is tokenized at the
PG and a saved method or a token is looked up there, so the core stores tokens only, never a card number."""

from __future__ import annotations

from gyeol.core.context import Caller
from gyeol.core.customers.service import CustomerService
from gyeol.core.errors import DomainError
from gyeol.core.orders import repository as orders_repo
from gyeol.core.payments import repository as payments_repo
from gyeol.core.payments.commands import MethodSpec, ResolvedMethod
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.db.engine import Database


async def resolve_named(db: Database, pgs: PgCalls, customers: CustomerService, caller: Caller,
                        spec: MethodSpec, *, payment_id: str | None = None,
                        order_id: str | None = None) -> ResolvedMethod:
    """`resolve`, for a request that names a payment or an order. A refused method (the caller's mode has no PG for
    it, an unknown token) does not depend on the object, so an object the caller cannot see (another mode's) is
    404 instead, as it is with any method; the object is read only then, never on the way to a charge."""
    try:
        return await resolve(pgs, customers, caller, spec)
    except DomainError:
        async with db.read() as conn:
            if payment_id is not None:
                await payments_repo.get(conn, caller, payment_id)
            elif order_id is not None:
                order = await orders_repo.get_any(conn, caller.merchant_id, order_id)
                if order is not None and not caller.owns(order.merchant_id, order.livemode):
                    raise DomainError("not_found", "ORDER_NOT_FOUND", f"No such order: '{order_id}'.",
                                      details={"orderId": order_id}) from None
        raise


async def resolve(pgs: PgCalls, customers: CustomerService, caller: Caller, spec: MethodSpec) -> ResolvedMethod:
    if spec.type in ("bank", "virtual_account"):
        pg = pgs.for_method(caller.livemode, spec.type)
        return ResolvedMethod(type=spec.type, bank=spec.bank, connector=pg.name)
    if spec.payment_key and not (spec.card or spec.token or spec.payment_method_id):
        keyed = await pgs.for_key(caller.merchant_id, caller.livemode)
        return ResolvedMethod(type=spec.type, payment_key=spec.payment_key, connector=keyed.name)
    pgs.for_method(caller.livemode, "card")  # a live key never reaches the default PG
    if spec.payment_method_id:
        pm = await customers.method_for_payment(caller, spec.payment_method_id)
        token, brand, last4 = pm.pg_token, pm.brand, pm.last4
        pm_id: str | None = pm.id
    elif spec.card is not None:
        info = await pgs.tokenize(caller, spec.card)
        token, brand, last4, pm_id = info.token, info.brand, info.last4, None
    else:
        assert spec.token is not None
        described = await pgs.describe_token(caller, spec.token)
        if described is None:
            raise DomainError("not_found", "INVALID_TOKEN", "No such token.", details={"field": "token"})
        token, brand, last4, pm_id = spec.token, described.brand, described.last4, None
    return ResolvedMethod(type="card", token=token, payment_method_id=pm_id, brand=brand, last4=last4)
