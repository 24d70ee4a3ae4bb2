"""What a payment asks its PG: the only calls to a connector in the payment core, each made with no transaction
open. Each returns the PG's answer, or None when the PG did not answer (a timeout, a dropped connection): an
answer that is not known yet, which `answers.apply` records as such, never as a failure."""

from __future__ import annotations

from gyeol.connectors.base import AttemptResult, AuthorizeRequest, ConnectorUnavailable, FollowUpRequest
from gyeol.connectors.registry import Connectors
from gyeol.core.payments.records import Attempt, Payment


async def send(connectors: Connectors, p: Payment, a: Attempt, fault: str | None) -> AttemptResult | None:
    """Send attempt `a` of payment `p` to its PG, under the attempt's id as the PG's idempotency key: sent again
    (a retry, a crash's carry-on), the PG answers the first send's outcome."""
    connector = connectors.by_name(a.connector)
    try:
        if a.kind == "authorize":
            return await connector.authorize(AuthorizeRequest(
                reference=a.id, merchant_id=p.merchant_id, payment_id=p.id, amount=p.amount,
                currency=p.currency, capture=p.capture_method == "automatic", token=a.pg_token,
                payment_key=p.payment_key, order_id=p.order_id, method_type=a.method_type or "card", fault=fault))
        req = FollowUpRequest(reference=a.id, merchant_id=p.merchant_id, payment_id=p.id,
                              pg_transaction_id=p.pg_transaction_id or "", amount=a.amount,
                              currency=p.currency, fault=fault)
        call = {"capture": connector.capture, "void": connector.void}[a.kind]
        return await call(req)
    except ConnectorUnavailable:
        return None


async def ask(connectors: Connectors, a: Attempt, p: Payment) -> AttemptResult | None:
    """What the PG says became of attempt `a`, whose answer was lost or is still awaited."""
    try:
        if a.kind == "authorize" and a.connector == "sandbox" and a.pg_transaction_id:
            # A charge the buyer made at the PG (seed 003's complete): found by its transaction id.
            found = await connectors.sandbox.transaction(a.merchant_id, a.pg_transaction_id)
            return found.result if found is not None and found.payment_id == p.id else \
                AttemptResult("not_found")
        return await connectors.by_name(a.connector).lookup(
            a.merchant_id, a.id, order_id=p.order_id, payment_key=p.payment_key, amount=a.amount,
            kind=a.kind)
    except ConnectorUnavailable:
        return None
