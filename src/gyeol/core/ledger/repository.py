"""SQL for the ledger's reads: a merchant's balance and its transactions, the transfers a PG's report names, and
what the export reads (`verify` has its own, `audit`). The writes are the movements' own (`book`)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.ledger.accounts import PG_BALANCE
from gyeol.core.ledger.book import FEE_CODES, MAIN, POSTED
from gyeol.core.ledger.records import Transfer
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import ledger_accounts as accounts
from gyeol.models import ledger_transfers as transfers

_debit, _credit = accounts.alias("debit"), accounts.alias("credit")
_LEGS = transfers.join(_debit, _debit.c.id == transfers.c.debit_account_id).join(
    _credit, _credit.c.id == transfers.c.credit_account_id)
# +amount when the merchant's balance is the debit side, -amount when it is the credit side.
_SIGNED = sa.case((_debit.c.kind == PG_BALANCE, transfers.c.amount), else_=-transfers.c.amount)
_TOUCHING_BALANCE = sa.or_(_debit.c.kind == PG_BALANCE, _credit.c.kind == PG_BALANCE)


def _scoped(caller: Caller) -> list[sa.ColumnElement[bool]]:
    return [transfers.c.merchant_id == caller.merchant_id, transfers.c.livemode == caller.livemode,
            transfers.c.phase.in_(POSTED)]


async def balances(conn: Conn, caller: Caller) -> list[tuple[str, date | None, int]]:
    """The caller's posted balance per currency and day it is available on: (currency, day, amount)."""
    q = (sa.select(transfers.c.currency, transfers.c.available_on, sa.func.sum(_SIGNED))
         .select_from(_LEGS).where(*_scoped(caller), _TOUCHING_BALANCE)
         .group_by(transfers.c.currency, transfers.c.available_on))
    return [(r[0], r[1], int(r[2])) for r in (await conn.execute(q)).all()]


async def seq_of(conn: Conn, caller: Caller, transfer_id: str) -> int | None:
    """The position of one of the caller's transfers, to page after it (read by its id alone, its owner checked on
    the row: `Caller.owns`)."""
    q = sa.select(transfers.c.seq, transfers.c.merchant_id, transfers.c.livemode).where(transfers.c.id == transfer_id)
    row = (await conn.execute(q)).first()
    return int(row[0]) if row is not None and caller.owns(row[1], row[2]) else None


async def main_legs(conn: Conn, caller: Caller, *, limit: int, before_seq: int | None, types: list[str],
                    created: dict[str, datetime]) -> list[tuple[Transfer, int]]:
    """The caller's movements of the balance (their main transfers, `book.MAIN`), newest first, each with its
    signed amount."""
    q = (sa.select(transfers, _SIGNED.label("signed"))
         .select_from(_LEGS)
         .where(*_scoped(caller), transfers.c.code.in_(types or MAIN)))
    if before_seq is not None:
        q = q.where(transfers.c.seq < before_seq)
    bounds = {"gt": sa.sql.operators.gt, "gte": sa.sql.operators.ge, "lt": sa.sql.operators.lt,
              "lte": sa.sql.operators.le}
    for op, when in created.items():
        q = q.where(bounds[op](transfers.c.created_at, when))
    found = await sql.rows(conn, q.order_by(transfers.c.seq.desc()).limit(limit))
    return [(Transfer(**{k: v for k, v in r.items() if k != "signed"}), int(r["signed"])) for r in found]


async def fees_of(conn: Conn, caller: Caller, source_ids: list[str]) -> dict[str, int]:
    """The fee each source's movement paid (its fee transfers, less what was returned), by source."""
    if not source_ids:
        return {}
    q = (sa.select(transfers.c.source_id, sa.func.sum(-_SIGNED))
         .select_from(_LEGS)
         .where(*_scoped(caller), transfers.c.source_id.in_(source_ids), transfers.c.code.in_(FEE_CODES))
         .group_by(transfers.c.source_id))
    return {r[0]: int(r[1]) for r in (await conn.execute(q)).all()}


async def by_pg_transaction(conn: Conn, merchant_id: str, livemode: bool,
                            pg_transaction_ids: list[str]) -> list[Transfer]:
    """The merchant's transfers that the PG's transaction ids name (its charges, fees and refunds), oldest first:
    what a PG's settlement report is matched against."""
    q = (sa.select(transfers).where(transfers.c.pg_transaction_id.in_(pg_transaction_ids),
                                    transfers.c.merchant_id == merchant_id, transfers.c.livemode == livemode)
         .order_by(transfers.c.seq))
    return [Transfer(**r) for r in await sql.rows(conn, q)]


async def one_snapshot(conn: Conn) -> None:
    """The rest of this PostgreSQL transaction reads one snapshot, and writes nothing."""
    await conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


async def all_accounts(conn: Conn) -> dict[str, tuple[str, bool, str, str]]:
    """Every account: (merchant, livemode, currency, kind) by id."""
    q = sa.select(accounts.c.id, accounts.c.merchant_id, accounts.c.livemode, accounts.c.currency, accounts.c.kind)
    return {r[0]: (r[1], bool(r[2]), r[3], r[4]) for r in (await conn.execute(q)).all()}


async def all_transfers(conn: Conn, start: datetime | None = None, end: datetime | None = None) -> list[Transfer]:
    """Every transfer (created in [start, end), when given), in the order they were written."""
    q = sa.select(transfers)
    if start is not None:
        q = q.where(transfers.c.created_at >= start)
    if end is not None:
        q = q.where(transfers.c.created_at < end)
    return [Transfer(**r) for r in await sql.rows(conn, q.order_by(transfers.c.seq))]
