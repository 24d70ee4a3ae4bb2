"""The transition tables: the only writers of a status.

A repository never sets `status` directly; it asks the table for the next status and writes it
with a conditional update (`WHERE status = :current`), so a lost race is a no-op, not a corruption.
"""

from __future__ import annotations

from dataclasses import dataclass

from gyeol.core.errors import DomainError


class IllegalTransition(DomainError):
    def __init__(self, resource: str, status: str, event: str) -> None:
        super().__init__(
            "conflict",
            "INVALID_STATE_TRANSITION",
            f"Cannot {event} a {resource} that is {status}.",
            details={"status": status, "event": event},
        )
        self.status_now = status
        self.event = event


@dataclass(frozen=True)
class Transitions:
    resource: str
    table: dict[tuple[str, str], str]

    def next(self, status: str, event: str) -> str:
        try:
            return self.table[(status, event)]
        except KeyError:
            raise IllegalTransition(self.resource, status, event) from None

    def allows(self, status: str, event: str) -> bool:
        return (status, event) in self.table

    def statuses(self) -> set[str]:
        return {s for s, _ in self.table} | set(self.table.values())


PAYMENT = Transitions(
    "payment",
    {
        ("created", "confirm"): "pending",
        ("failed", "confirm"): "pending",  # retry with another method, as Stripe allows
        ("pending", "authorized"): "authorized",
        ("pending", "succeeded"): "succeeded",
        ("pending", "failed"): "failed",
        ("created", "cancel"): "canceled",
        ("pending", "cancel"): "canceled",
        ("failed", "cancel"): "canceled",
        ("created", "expire"): "canceled",
        ("failed", "expire"): "canceled",
        # A buyer authenticated in a Toss-style window whose merchant never confirmed: nothing was charged.
        ("pending", "expire_unconfirmed"): "canceled",
        ("authorized", "capture"): "captured",
        ("authorized", "void"): "voided",
        # A cancel after money was taken is a full refund.
        ("succeeded", "cancel_refund"): "canceled",
        ("captured", "cancel_refund"): "canceled",
        ("succeeded", "refund_full"): "refunded",
        ("captured", "refund_full"): "refunded",
    },
)

# Statuses in which a payment holds or has taken the order's money.
PAYMENT_HOLDING = ("pending", "authorized", "succeeded", "captured")
PAYMENT_MONEY_TAKEN = ("succeeded", "captured")
PAYMENT_CLOSED = ("canceled", "voided", "refunded")

REFUND = Transitions(
    "refund",
    {
        ("pending", "succeeded"): "succeeded",
        ("pending", "failed"): "failed",
    },
)

ORDER = Transitions(
    "order",
    {
        ("created", "pay"): "paid",
        ("paid", "refund_full"): "refunded",
    },
)

ATTEMPT = Transitions(
    "attempt",
    {
        ("started", "succeeded"): "succeeded",
        ("started", "failed"): "failed",
        ("started", "requires_action"): "requires_action",
        ("started", "unknown"): "unknown",
        ("unknown", "succeeded"): "succeeded",
        ("unknown", "failed"): "failed",
        ("unknown", "requires_action"): "requires_action",
        ("requires_action", "succeeded"): "succeeded",
        ("requires_action", "failed"): "failed",
        ("requires_action", "canceled"): "canceled",
        # The buyer authenticated in the window; the PG is asked only when the merchant confirms.
        ("authenticated", "started"): "started",
        ("authenticated", "canceled"): "canceled",
    },
)

# An exception a reconciliation found: open until a person resolves it with a note (which is kept for good).
RECONCILIATION_EXCEPTION = Transitions(
    "reconciliation exception",
    {
        ("open", "resolve"): "resolved",
    },
)
