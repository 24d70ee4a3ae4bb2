"""Gyeol's own record of the money a PG moved, as the PG's report would show it: the one query reconciliation
matches against. Today it reads the settlements (one per approval, one per refund, with the fee), the PG's
transaction id of each from its payment or refund, and the PG from the payment; the ledger's transfers can take its
place here, and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from gyeol.core.clock import KST
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import merchants, payments, refunds, settlements

_s, _p, _r = settlements, payments, refunds
ENTRIES = (
    sa.select(_s.c.id, _s.c.kind, _s.c.source_id, _s.c.payment_id, _s.c.order_id, _s.c.gross_amount,
              _s.c.fee_amount, _s.c.currency, _s.c.payout_date, _s.c.created_at,
              _p.c.pg_transaction_id.label("payment_tx"), _r.c.pg_transaction_id.label("refund_tx"))
    .select_from(_s.join(_p, _p.c.id == _s.c.payment_id).outerjoin(_r, _r.c.id == _s.c.source_id))
    .where(_s.c.merchant_id == sa.bindparam("merchant_id"), _s.c.livemode == sa.bindparam("livemode"),
           _s.c.created_at >= sa.bindparam("since"), _s.c.created_at < sa.bindparam("until"),
           _p.c.connector == sa.bindparam("pg")))
PGS = (sa.select(_s.c.merchant_id, _s.c.livemode, _p.c.connector).distinct()
       .select_from(_s.join(_p, _p.c.id == _s.c.payment_id))
       # Merchant by merchant, so each reads its day from `ix_settlements_merchant_created`.
       .where(_s.c.merchant_id.in_(sa.select(merchants.c.id)), _s.c.created_at >= sa.bindparam("since"),
              _s.c.created_at < sa.bindparam("until"), _p.c.connector.is_not(None)))


@dataclass(frozen=True, slots=True)
class Entry:
    """One movement of money in Gyeol's books: an approval (`payment`) or a refund (`cancel`, amounts negative)."""

    key: str  # the PG's transaction id Gyeol keeps for it (or, never told one, "gyeol:" and its own id)
    type: str
    amount: int
    fee: int
    currency: str
    sold_date: date  # the Korean day it was booked
    payout_date: date
    payment_id: str
    settlement_id: str
    order_id: str


def day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), KST)


async def entries(conn: Conn, merchant_id: str, livemode: bool, pg: str, start: date, end: date) -> list[Entry]:
    """The merchant's movements through `pg`, in one mode, booked from `start` to `end` (Korean days)."""
    found = await sql.rows(conn, ENTRIES, {"merchant_id": merchant_id, "livemode": livemode, "pg": pg,
                                           "since": day_start(start), "until": day_start(end + timedelta(days=1))})
    out = []
    for r in found:
        payment = r["kind"] == "payment"
        tx = r["payment_tx"] if payment else r["refund_tx"]
        out.append(Entry(tx or "gyeol:" + r["source_id"], "payment" if payment else "cancel", r["gross_amount"],
                         r["fee_amount"], r["currency"], r["created_at"].astimezone(KST).date(), r["payout_date"],
                         r["payment_id"], r["id"], r["order_id"]))
    return out


async def pgs_booked(conn: Conn, day: date) -> set[tuple[str, bool, str]]:
    """Each (merchant, mode, PG) with money booked on `day` (a Korean day)."""
    found = await sql.rows(conn, PGS, {"since": day_start(day), "until": day_start(day + timedelta(days=1))})
    return {(r["merchant_id"], bool(r["livemode"]), r["connector"]) for r in found}
