"""SQL for reconciliation: runs (one per range, replaced when run again), their items, resolutions, and the rows
of imported reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gyeol.connectors.base import ReportRow
from gyeol.core.context import Caller
from gyeol.core.pagination import Page, paginate
from gyeol.core.reconciliation.records import Item, Resolution, Run
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import reconciliation_items as items
from gyeol.models import reconciliation_report_rows as report_rows
from gyeol.models import reconciliation_resolutions as resolutions
from gyeol.models import reconciliation_runs as runs

CHUNK = 500  # rows per statement: well under PostgreSQL's 32,767 parameters
_RESOLUTION = [c.label("r_" + c.name) for c in resolutions.c]
ITEMS = (sa.select(items, *_RESOLUTION)
         .select_from(items.outerjoin(resolutions, sa.and_(resolutions.c.item_id == items.c.id,
                                                           resolutions.c.state == items.c.state))))


@dataclass(frozen=True, slots=True)
class RunKey:
    merchant_id: str
    livemode: bool
    pg: str
    source: str
    date_from: date
    date_to: date

    def where(self) -> list[sa.ColumnElement[bool]]:
        return [runs.c.merchant_id == self.merchant_id, runs.c.livemode == self.livemode, runs.c.pg == self.pg,
                runs.c.source == self.source, runs.c.date_from == self.date_from, runs.c.date_to == self.date_to]


def _item(row: dict[str, Any]) -> Item:
    found = {k[2:]: row.pop(k) for k in list(row) if k.startswith("r_")}
    return Item(**row, resolution=Resolution(**found) if found.get("id") else None)


# --- runs -------------------------------------------------------------------------------------------
async def claim_run(conn: Conn, key: RunKey, new_id: str, now: datetime) -> Run:
    """The range's run, created if it is the first, and locked until the transaction ends: two runs of one range
    write one after the other, the second replacing the first."""
    await sql.insert_new(conn, runs, {
        "id": new_id, "merchant_id": key.merchant_id, "livemode": key.livemode, "pg": key.pg, "source": key.source,
        "date_from": key.date_from, "date_to": key.date_to, "status": "completed", "counts": {}, "gyeol_rows": 0,
        "report_rows": 0, "expected_until": None, "failure": None, "times": 0, "created_at": now, "updated_at": now})
    row = (await conn.execute(sa.select(runs).where(*key.where()).with_for_update())).mappings().one()
    return Run(**row)


async def finish_run(conn: Conn, run: Run, now: datetime, **values: Any) -> Run:
    await sql.update(conn, runs, {**values, "times": run.times + 1, "updated_at": now}, id=run.id)
    return Run(**{**{f: getattr(run, f) for f in Run.__dataclass_fields__}, **values, "times": run.times + 1,
                  "updated_at": now})


async def get_run(conn: Conn, run_id: str) -> Run | None:
    row = await sql.one(conn, sa.select(runs).where(runs.c.id == run_id))
    return None if row is None else Run(**row)


async def find_run(conn: Conn, key: RunKey) -> Run | None:
    row = await sql.one(conn, sa.select(runs).where(*key.where()))
    return None if row is None else Run(**row)


async def list_runs(conn: Conn, caller: Caller, page: int, size: int, *, pg: str | None,
                    status: str | None) -> Page[Run]:
    q = sa.select(runs).where(runs.c.merchant_id == caller.merchant_id, runs.c.livemode == caller.livemode)
    if pg:
        q = q.where(runs.c.pg == pg)
    if status:
        q = q.where(runs.c.status == status)
    return await paginate(conn, q.order_by(runs.c.updated_at.desc()), runs.c.id.desc(), page, size, Run.from_row)


async def runs_to_redo(conn: Conn, today: date) -> list[Run]:
    """Completed runs with rows still `expected` whose payout day has come: the PG should have reported them."""
    q = sa.select(runs).where(runs.c.status == "completed", runs.c.expected_until <= today)
    return [Run(**r) for r in await sql.rows(conn, q)]


async def reconciled_pgs(conn: Conn) -> set[tuple[str, bool, str]]:
    """Each (merchant, mode, PG) reconciled through the PG's report API before: the daily run keeps to them."""
    q = sa.select(runs.c.merchant_id, runs.c.livemode, runs.c.pg).distinct().where(runs.c.source == "api")
    return {(r["merchant_id"], bool(r["livemode"]), r["pg"]) for r in await sql.rows(conn, q)}


# --- items ------------------------------------------------------------------------------------------
async def item_states(conn: Conn, run_id: str) -> dict[str, str]:
    q = sa.select(items.c.id, items.c.state).where(items.c.run_id == run_id)
    return {r["id"]: r["state"] for r in await sql.rows(conn, q)}


async def replace_items(conn: Conn, run_id: str, rows: Sequence[dict[str, Any]]) -> None:
    await conn.execute(items.delete().where(items.c.run_id == run_id))
    for start in range(0, len(rows), CHUNK):
        await conn.execute(items.insert(), list(rows[start:start + CHUNK]))


async def get_item(conn: Conn, item_id: str, *, lock: bool = False) -> Item | None:
    q = ITEMS.where(items.c.id == item_id)
    if lock:
        q = q.with_for_update(of=items)
    row = (await conn.execute(q)).mappings().first()
    return None if row is None else _item(dict(row))


async def list_items(conn: Conn, caller: Caller, page: int, size: int, *, states: Iterable[str],
                     run_id: str | None, status: str | None) -> Page[Item]:
    q = ITEMS.where(items.c.merchant_id == caller.merchant_id, items.c.livemode == caller.livemode,
                    items.c.state.in_(list(states)))
    if run_id:
        q = q.where(items.c.run_id == run_id)
    if status == "open":
        q = q.where(resolutions.c.id.is_(None))
    elif status == "resolved":
        q = q.where(resolutions.c.id.is_not(None))
    return await paginate(conn, q.order_by(items.c.created_at.desc()), items.c.id, page, size,
                          lambda r: _item(dict(r)))


async def add_resolution(conn: Conn, r: Resolution, taken: sql.Error) -> None:
    await sql.insert(conn, resolutions, {f: getattr(r, f) for f in Resolution.__dataclass_fields__}, taken=taken)


# --- imported reports -------------------------------------------------------------------------------
async def store_report(conn: Conn, rows: list[dict[str, Any]]) -> None:
    """Each row replaces the one of its transaction the merchant imported before, in the same mode, for the PG."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(report_rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["merchant_id", "livemode", "pg", "type", "transaction_id"],
        set_={c: stmt.excluded[c] for c in ("import_id", "order_id", "amount", "fee", "vat", "net", "currency",
                                            "sold_date", "payout_date", "created_at")})
    for start in range(0, len(rows), CHUNK):
        await conn.execute(stmt, rows[start:start + CHUNK])


async def imported(conn: Conn, merchant_id: str, livemode: bool, pg: str, start: date, end: date) -> list[ReportRow]:
    q = sa.select(report_rows).where(report_rows.c.merchant_id == merchant_id, report_rows.c.livemode == livemode,
                                     report_rows.c.pg == pg, report_rows.c.sold_date >= start,
                                     report_rows.c.sold_date <= end)
    return [ReportRow(r["transaction_id"], r["type"], r["amount"], r["fee"], r["vat"], r["net"], r["currency"],
                      r["sold_date"], r["payout_date"], r["order_id"]) for r in await sql.rows(conn, q)]
