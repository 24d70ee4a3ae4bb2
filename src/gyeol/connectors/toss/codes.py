"""The Toss connector's status map: Toss's payment statuses (`gyeol.toss_v1.STATUSES`) -> the core's neutral
PgPayment status."""

from __future__ import annotations

# Anything unknown is pending: never a success.
NEUTRAL_STATUS = {
    "READY": "pending", "IN_PROGRESS": "pending", "WAITING_FOR_DEPOSIT": "waiting_for_deposit", "DONE": "approved",
    "CANCELED": "canceled", "PARTIAL_CANCELED": "partial_canceled", "ABORTED": "failed", "EXPIRED": "expired",
}
