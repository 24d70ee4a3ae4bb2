"""The event types Gyeol emits; endpoints subscribe to some of them, or to `*`."""

from __future__ import annotations

EVENT_TYPES = frozenset({
    "payment.created", "payment.authorized", "payment.succeeded", "payment.failed", "payment.captured",
    "payment.voided", "payment.canceled", "payment.expired", "payment.completed",
    "refund.succeeded", "refund.failed",
    "order.paid",
    "settlement.created", "payout.paid",
    "reconciliation.completed", "reconciliation.exception",
    "virtual_account.issued", "virtual_account.deposited", "virtual_account.expired",
    "endpoint.disabled",
    "attempt.unresolved",
})


def subscribed(events: list[str], type: str) -> bool:
    return "*" in events or type in events
