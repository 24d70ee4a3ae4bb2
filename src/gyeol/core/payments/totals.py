"""The daily totals (models.totals.daily_totals), kept in the transaction of each change they count.

A payment counts in the row of its merchant, mode, Korean creation day, method, channel and currency: once, as
succeeded while it holds an authorization (whatever came of it after), as failed while it is failed, with the
amount it captured. Every write of a payment goes through the repository, which adds the difference between what
the payment counted for before the write and after it (`moved`): nothing when nothing counted changes, and a move
between two rows when its method is chosen. A refund that goes through adds its amount to the row of its own day
(`refunded`). The figures are therefore always what summing the payments and refunds themselves would give.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from datetime import date

from gyeol.core.clock import KST
from gyeol.core.payments.records import Payment
from gyeol.core.refunds.records import Refund
from gyeol.db import sql
from gyeol.models import daily_totals

# Concurrent payments of one merchant and day spread over this many rows (see models.totals).
SLOTS = 8
COUNTERS = ("payments", "succeeded", "failed", "volume", "refunded")
Key = tuple[str, bool, date, str, str, str, int]


def _slot(resource_id: str) -> int:
    return zlib.crc32(resource_id.encode()) % SLOTS


def _key(p: Payment, day: date, slot: int) -> Key:
    return p.merchant_id, p.livemode, day, p.method_type or "", p.channel, p.currency, slot


def counted(p: Payment) -> tuple[Key, tuple[int, ...]]:
    """The row a payment counts in, and what it counts for there (in the order of COUNTERS)."""
    succeeded = p.authorized_amount > 0
    failed = p.status == "failed" and not succeeded
    return (_key(p, p.created_at.astimezone(KST).date(), _slot(p.id)),
            (1, int(succeeded), int(failed), p.captured_amount, 0))


def _adding(changes: dict[Key, list[int]]) -> list[sql.Write]:
    # Keys in one order in every transaction: two that change the same rows lock them in the same order.
    rows = [{"merchant_id": k[0], "livemode": k[1], "day": k[2], "method": k[3], "channel": k[4], "currency": k[5],
             "slot": k[6], **dict(zip(COUNTERS, v, strict=True))}
            for k, v in sorted(changes.items()) if any(v)]
    return [sql.Add(daily_totals, rows, COUNTERS)] if rows else []


def moved(before: Payment | None, after: Payment) -> list[sql.Write]:
    """What a write of a payment (`before` it, None for a new one) changes in the totals."""
    changes: dict[Key, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    for p, sign in ((before, -1), (after, 1)):
        if p is not None:
            key, values = counted(p)
            changes[key] = [c + sign * v for c, v in zip(changes[key], values, strict=True)]
    return _adding(changes)


def refunded(r: Refund, p: Payment) -> list[sql.Write]:
    """A refund of `p` that went through: its amount, on the day it was made."""
    return _adding({_key(p, r.created_at.astimezone(KST).date(), _slot(r.id)): [0, 0, 0, 0, r.amount]})
