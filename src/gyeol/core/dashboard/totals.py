"""The home page's figures: today's and the last 30 days' volume, payment count, success rate and refunds per
method and currency, and the volume and outcomes of each day, read from the daily totals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from gyeol.core.clock import KST, Clock
from gyeol.core.context import Caller
from gyeol.core.payments.totals import COUNTERS
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.models import daily_totals

DAYS = 30
Row = dict[str, Any]


@dataclass(slots=True)
class MethodTotals:
    method: str
    currency: str
    volume: int = 0  # captured, in minor units
    count: int = 0
    succeeded: int = 0  # authorized or charged
    failed: int = 0
    refunded: int = 0

    @property
    def success_rate(self) -> float | None:
        """Of the payments that reached an outcome, the share that succeeded; None before any did."""
        decided = self.succeeded + self.failed
        return self.succeeded / decided if decided else None


@dataclass(slots=True)
class Day:
    day: date
    volume: dict[str, int] = field(default_factory=dict)  # per currency
    succeeded: int = 0
    failed: int = 0
    other: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    today: list[MethodTotals]
    month: list[MethodTotals]
    days: list[Day]


class DashboardTotals:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def totals(self, caller: Caller) -> Totals:
        """The caller's merchant's figures in its mode, from the daily totals (core.payments.totals): a few rows
        per day, however many payments the days hold."""
        today = self.clock.now().astimezone(KST).date()
        first = today - timedelta(days=DAYS - 1)
        async with self.db.read() as conn:
            rows = await sql.rows(conn, PER_DAY, {"merchant_id": caller.merchant_id, "livemode": caller.livemode,
                                                  "first": first})
        return _fold(rows, first, today)


dt = daily_totals.c
PER_DAY = (sa.select(dt.day, dt.method, dt.currency, *(sa.func.sum(dt[c]).label(c) for c in COUNTERS))
           .where(dt.merchant_id == sa.bindparam("merchant_id"), dt.livemode == sa.bindparam("livemode"),
                  dt.day >= sa.bindparam("first", type_=sa.Date()))
           .group_by(dt.day, dt.method, dt.currency))


def _fold(rows: list[Row], first: date, today: date) -> Totals:
    days = {first + timedelta(days=i): Day(first + timedelta(days=i)) for i in range(DAYS)}
    today_m: dict[tuple[str, str], MethodTotals] = {}
    month_m: dict[tuple[str, str], MethodTotals] = {}
    for r in rows:
        d = r["day"]
        key = (r["method"] or "unknown", r["currency"])
        n, succeeded, failed = int(r["payments"]), int(r["succeeded"]), int(r["failed"])
        volume, refunded = int(r["volume"]), int(r["refunded"])
        for table, include in ((month_m, True), (today_m, d == today)):
            if include:
                m = table.setdefault(key, MethodTotals(*key))
                m.count += n
                m.volume += volume
                m.succeeded += succeeded
                m.failed += failed
                m.refunded += refunded
        if d in days:
            day = days[d]
            day.volume[r["currency"]] = day.volume.get(r["currency"], 0) + volume
            day.succeeded += succeeded
            day.failed += failed
            day.other += n - succeeded - failed
    order = lambda ms: sorted((m for m in ms.values() if m.count or m.refunded),  # noqa: E731
                              key=lambda m: (-m.volume, m.method, m.currency))
    return Totals(order(today_m), order(month_m), [days[k] for k in sorted(days)])


def per_currency(days: list[Day]) -> dict[str, list[int]]:
    """Each currency's volume of each day, in the days' order."""
    found: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for i, d in enumerate(days):
        for cur, v in d.volume.items():
            found[cur][i] = v
    return dict(found)
