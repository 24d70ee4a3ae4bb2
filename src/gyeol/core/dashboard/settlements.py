"""The settlements page's reads: the settlements list (filters, keyset pages newest first) and the payouts, each
with how many settlements it paid. A payout is the ledger's `payout` transfer (`LedgerService.transactions`); the
settlements carry its id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.dashboard.payments import after_of, cursor_of
from gyeol.core.ledger.service import LedgerService
from gyeol.core.settlements.records import Settlement
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.models import settlements

PAGE = 50
PAYOUTS_PAGE = 20
STATUSES = ("scheduled", "paid")


@dataclass(frozen=True, slots=True)
class SettlementFilter:
    """Payout days, both ends included; a status; the payout that paid them."""

    day_from: date | None = None
    day_to: date | None = None
    status: str | None = None
    payout_id: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutRow:
    """A payout as the page lists it: what the PG paid the merchant's bank (negative: took back), when, and how
    many settlements it paid."""

    id: str
    amount: int
    currency: str
    created_at: datetime
    settlements: int


def _conditions(caller: Caller, f: SettlementFilter) -> list[sa.ColumnElement[bool]]:
    conds = [settlements.c.merchant_id == caller.merchant_id, settlements.c.livemode == caller.livemode]
    if f.day_from is not None:
        conds.append(settlements.c.payout_date >= f.day_from)
    if f.day_to is not None:
        conds.append(settlements.c.payout_date <= f.day_to)
    if f.status in STATUSES:
        conds.append(settlements.c.status == f.status)
    if f.payout_id:
        conds.append(settlements.c.payout_id == f.payout_id)
    return conds


class SettlementPages:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.ledger = LedgerService(db, clock)

    async def page(self, caller: Caller, f: SettlementFilter, cursor: str | None,
                   size: int = PAGE) -> tuple[list[Settlement], str | None]:
        """A page of the caller's settlements newest first, and the cursor of the next one (None on the last)."""
        q = sa.select(settlements).where(*_conditions(caller, f))
        after = after_of(cursor)
        if after is not None:
            q = q.where(sa.tuple_(settlements.c.created_at, settlements.c.id) < sa.tuple_(
                sa.literal(after[0], settlements.c.created_at.type), sa.literal(after[1])))
        q = q.order_by(settlements.c.created_at.desc(), settlements.c.id.desc()).limit(size + 1)
        async with self.db.read() as conn:
            found = [Settlement(**r) for r in await sql.rows(conn, q)]
        return found[:size], (cursor_of(found[size - 1]) if len(found) > size else None)

    async def payouts(self, caller: Caller, after: str | None,
                      size: int = PAYOUTS_PAGE) -> tuple[list[PayoutRow], str | None]:
        """The caller's payouts newest first, after the payout `after` (its balance transaction's id); and the
        id to ask for the next page with (None on the last)."""
        legs, more = await self.ledger.transactions(caller, limit=size, starting_after=after, types=["payout"])
        ids = [t.source_id for t in legs]
        counts: dict[str, int] = {}
        if ids:
            q = (sa.select(settlements.c.payout_id, sa.func.count())
                 .where(settlements.c.merchant_id == caller.merchant_id,
                        settlements.c.livemode == caller.livemode, settlements.c.payout_id.in_(ids))
                 .group_by(settlements.c.payout_id))
            async with self.db.read() as conn:
                counts = {r[0]: int(r[1]) for r in (await conn.execute(q)).all()}
        # The balance sees a payout leave it: the payout's own amount is the other way round.
        rows = [PayoutRow(t.source_id, -t.amount, t.currency, t.created_at, counts.get(t.source_id, 0))
                for t in legs]
        return rows, (legs[-1].id if more and legs else None)
