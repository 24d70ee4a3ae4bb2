"""The home page's figures: today's and the last 30 days' volume, payment count, success rate and refunds per
method and currency, and the volume and outcomes of each day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gyeol.core.clock import KST, Clock
from gyeol.core.context import Caller
from gyeol.core.dashboard.payments import day_start
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.models import payments, refunds

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


def _day(conn: Conn, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[str]:
    """A moment's Korean calendar day as YYYY-MM-DD, in each database's own words."""
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("Asia/Seoul", column), "YYYY-MM-DD")
    return sa.func.date(column, "+9 hours")


class DashboardTotals:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def totals(self, caller: Caller) -> Totals:
        today = self.clock.now().astimezone(KST).date()
        first = today - timedelta(days=DAYS - 1)
        since = day_start(first)
        scope = (payments.c.merchant_id == caller.merchant_id, payments.c.livemode == caller.livemode,
                 payments.c.created_at >= since)
        outcome = sa.case((payments.c.authorized_amount > 0, "succeeded"), (payments.c.status == "failed", "failed"),
                          else_="other")
        async with self.db.read() as conn:
            day, refund_day = _day(conn, payments.c.created_at), _day(conn, refunds.c.created_at)
            per_day = await sql.rows(conn, sa.select(
                day.label("day"), payments.c.method_type, payments.c.currency, outcome.label("outcome"),
                sa.func.count().label("n"), sa.func.sum(payments.c.captured_amount).label("volume"),
            ).where(*scope).group_by(day, payments.c.method_type, payments.c.currency, outcome))
            refunded = await sql.rows(conn, sa.select(
                refund_day.label("day"), payments.c.method_type, refunds.c.currency,
                sa.func.sum(refunds.c.amount).label("n"),
            ).select_from(refunds.join(payments, payments.c.id == refunds.c.payment_id)).where(
                refunds.c.merchant_id == caller.merchant_id, refunds.c.livemode == caller.livemode,
                refunds.c.created_at >= since, refunds.c.status == "succeeded",
            ).group_by(refund_day, payments.c.method_type, refunds.c.currency))
        return _fold(per_day, refunded, first, today)


def _fold(per_day: list[Row], refunded: list[Row], first: date, today: date) -> Totals:
    days = {first + timedelta(days=i): Day(first + timedelta(days=i)) for i in range(DAYS)}
    today_m: dict[tuple[str, str], MethodTotals] = {}
    month_m: dict[tuple[str, str], MethodTotals] = {}
    for r in per_day:
        d = date.fromisoformat(str(r["day"]))
        key = (r["method_type"] or "unknown", r["currency"])
        n, volume = int(r["n"]), int(r["volume"] or 0)
        for table, include in ((month_m, True), (today_m, d == today)):
            if include:
                m = table.setdefault(key, MethodTotals(*key))
                m.count += n
                m.volume += volume
                if r["outcome"] == "succeeded":
                    m.succeeded += n
                elif r["outcome"] == "failed":
                    m.failed += n
        if d in days:
            day = days[d]
            day.volume[r["currency"]] = day.volume.get(r["currency"], 0) + volume
            setattr(day, r["outcome"], getattr(day, r["outcome"]) + n)
    for r in refunded:
        d = date.fromisoformat(str(r["day"]))
        key = (r["method_type"] or "unknown", r["currency"])
        for table, include in ((month_m, True), (today_m, d == today)):
            if include:
                table.setdefault(key, MethodTotals(*key)).refunded += int(r["n"] or 0)
    order = lambda ms: sorted(ms.values(), key=lambda m: (-m.volume, m.method, m.currency))  # noqa: E731
    return Totals(order(today_m), order(month_m), [days[k] for k in sorted(days)])


def per_currency(days: list[Day]) -> dict[str, list[int]]:
    """Each currency's volume of each day, in the days' order."""
    found: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for i, d in enumerate(days):
        for cur, v in d.volume.items():
            found[cur][i] = v
    return dict(found)
