"""The kiosk face's Toss-style payment object, and the one mapping from native statuses to it."""

from __future__ import annotations

from typing import Any

from gyeol.core.clock import iso
from gyeol.core.payments.records import Payment
from gyeol.core.refunds.records import Refund

# Native status -> kiosk status. succeeded/captured depend on refunds: see kiosk_status.
STATUS: dict[str, str] = {
    "created": "INITIATED",
    "pending": "IN_PROGRESS",
    "authorized": "AUTHORIZED",
    "succeeded": "APPROVED",
    "captured": "APPROVED",
    "failed": "ABORTED",
    "canceled": "CANCELED",
    "voided": "CANCELED",
    "refunded": "CANCELED",
}
METHOD = {"card": "CARD", "bank": "TRANSFER", "virtual_account": "VIRTUAL_ACCOUNT"}


def kiosk_status(p: Payment) -> str:
    if p.status in ("succeeded", "captured") and p.refunded_amount > 0:
        return "PARTIAL_CANCELED"
    if p.status == "pending" and p.method_type == "virtual_account" and p.pg_transaction_id:
        return "WAITING_FOR_DEPOSIT"  # the PG issued the account (Toss's own status for it)
    return STATUS[p.status]


def payment_object(p: Payment, receipt_url: str | None, cancels: list[Refund] | None = None, *,
                   checkout_url: str | None = None) -> dict[str, Any]:
    balance = p.captured_amount - p.refunded_amount
    last_cancel = cancels[-1].updated_at if cancels else None
    return {
        "paymentKey": p.payment_key or p.id,
        "paymentId": p.id,
        "orderId": p.order_id,
        "status": kiosk_status(p),
        "method": METHOD.get(p.method_type or "card", "CARD"),
        "totalAmount": p.amount,
        "balanceAmount": balance,
        "currency": p.currency,
        "approvedAt": iso(p.captured_at or p.authorized_at),
        "canceledAt": iso(p.canceled_at or last_cancel),
        "receipt": {"url": receipt_url} if receipt_url else None,
        "checkout": {"url": checkout_url} if checkout_url else None,
        "cancels": [{"cancelAmount": c.amount, "cancelReason": c.reason, "canceledAt": iso(c.updated_at)}
                    for c in cancels] if cancels else None,
    }
