"""Payments whose buyer pays in their PG's own window (a connector that `hosts_window`), opened by the kiosk's create
(`KeyedPayments.open`).

The PG creates such a payment and names it, so it is opened at the PG first, with no transaction open, and recorded
after, under the PG's key and with the window's address (`PaymentService.window_url`). The opening's idempotency
key at the PG is made of the merchant, the mode and the kiosk's own paymentKey: a create sent again (its answer was
lost, or the process died between the PG and the insert), with or without an Idempotency-Key, asks the PG for the
same opening and gets the same payment back. A kiosk's paymentKey never opens two windows, and a window opened is
recorded by the retry. The buyer authenticates in the window (the PG keeps that, and its deadline), and the
merchant's confirm charges at the PG, with the PG's key, as any paymentKey's confirm does.
"""

from __future__ import annotations

import hashlib

from gyeol.connectors.base import Connector, Credentials, WindowRequest
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.payments.commands import CreateIntent
from gyeol.core.payments.pg_calls import PgCalls


def reference(caller: Caller, key: str) -> str:
    """The PG's idempotency key for opening the window of the kiosk's paymentKey `key`."""
    return "win_" + hashlib.sha256(f"{caller.merchant_id}:{caller.mode}:{key}".encode()).hexdigest()


async def open_at_pg(pgs: PgCalls, caller: Caller, host: tuple[Connector, Credentials], cmd: CreateIntent,
               order_name: str) -> tuple[str, str]:
    """Open the payment `cmd` asks for at the PG `host`, whose window returns the buyer to `cmd.return_url` or
    `cmd.cancel_url`: the PG's key for it, and the window's address."""
    if not cmd.return_url or not cmd.cancel_url:
        raise DomainError("validation", "FAIL_URL_REQUIRED",
                          "failUrl is required with successUrl: the PG's window sends the buyer back to one of them.",
                          details={"field": "failUrl"})
    connector, credentials = host
    opened = await pgs.open_window(connector, WindowRequest(
        credentials, reference=reference(caller, cmd.payment_key or ""), order_id=cmd.order_id, order_name=order_name,
        amount=cmd.amount, currency=cmd.currency, success_url=cmd.return_url, fail_url=cmd.cancel_url))
    if opened is None:
        raise DomainError("gateway", "PG_UNAVAILABLE",
                          "The PG did not answer; send the create again: it opens the same window.", status=502)
    if opened.payment_key is None or opened.checkout_url is None:
        raise DomainError("processing", opened.failure_code or "processing_error",
                          opened.failure_message or "The PG did not open its window.")
    if (opened.order_id, opened.amount) != (cmd.order_id, cmd.amount):
        # An earlier create with this paymentKey opened the window for another order or amount.
        raise DomainError("conflict", "AMOUNT_MISMATCH",
                          "The orderId or amount differs from the payment created with this paymentKey.")
    return opened.payment_key, opened.checkout_url
