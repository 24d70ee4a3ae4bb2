"""The payment method a confirm pays with, resolved before its transaction opens: card data is tokenized at the
PG and a saved method or a token is looked up there, so the core stores tokens only, never a card number."""

from __future__ import annotations

from gyeol.core.context import Caller
from gyeol.core.customers.service import CustomerService
from gyeol.core.errors import DomainError
from gyeol.core.payments.commands import MethodSpec, ResolvedMethod
from gyeol.core.payments.pg_calls import PgCalls


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
            raise DomainError("validation", "INVALID_TOKEN", "No such token.", details={"field": "token"})
        token, brand, last4, pm_id = spec.token, described.brand, described.last4, None
    return ResolvedMethod(type="card", token=token, payment_method_id=pm_id, brand=brand, last4=last4)
