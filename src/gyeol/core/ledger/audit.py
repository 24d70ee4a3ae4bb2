"""The SQL of `verify`: the database sums the transfers and joins them to the tables they book, and returns only
aggregates and the rows that disagree, so that `gyeol ledger verify` reads no row per transfer into Python."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gyeol.core.ledger.book import CHARGE, DEPOSIT, FEE_CODES, PAYOUT, POSTED, REFUND
from gyeol.db.engine import Conn
from gyeol.models import ledger_accounts as accounts
from gyeol.models import ledger_transfers as t
from gyeol.models import payments, refunds, settlements

_settle = t.alias("settle")
_hold = t.alias("hold")
_debit, _credit = accounts.alias("debit"), accounts.alias("credit")
_posted = t.c.phase.in_(POSTED)
# A hold that no post, void or expiry settles (the unique index on held_id finds its settlement).
_open = sa.and_(t.c.phase == "held", ~sa.exists().where(_settle.c.held_id == t.c.id))


def _sum(condition: Any) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, t.c.amount), else_=0)), 0)


async def _rows(conn: Conn, q: Any) -> list[Any]:
    return list((await conn.execute(q)).all())


async def counts(conn: Conn) -> tuple[int, int, int]:
    """How many transfers, accounts and payments were compared."""
    row = (await conn.execute(sa.select(*(sa.select(sa.func.count()).select_from(x).scalar_subquery()
                                          for x in (t, accounts, payments))))).one()
    return int(row[0]), int(row[1]), int(row[2])


async def misplaced(conn: Conn) -> list[Any]:
    """Transfers whose debit or credit account is not of their merchant, currency and mode."""
    scope = (t.c.merchant_id, t.c.currency, t.c.livemode)
    bad = sa.or_(*(a.c.merchant_id != scope[0] for a in (_debit, _credit)),
                 *(a.c.currency != scope[1] for a in (_debit, _credit)),
                 *(a.c.livemode != scope[2] for a in (_debit, _credit)),
                 _debit.c.id.is_(None), _credit.c.id.is_(None))
    legs = t.outerjoin(_debit, _debit.c.id == t.c.debit_account_id).outerjoin(
        _credit, _credit.c.id == t.c.credit_account_id)
    return await _rows(conn, sa.select(t.c.id).select_from(legs).where(bad))


async def bad_settlings(conn: Conn) -> list[Any]:
    """Posts, voids and expiries that settle no hold of the same accounts, code and source, or another amount."""
    s, h = _settle, _hold
    return await _rows(conn, sa.select(s.c.id, s.c.phase, s.c.amount, s.c.held_id, h.c.amount.label("held"))
                       .select_from(s.outerjoin(h, h.c.id == s.c.held_id))
                       .where(s.c.held_id.isnot(None), sa.or_(
                           h.c.id.is_(None), h.c.phase != "held", h.c.debit_account_id != s.c.debit_account_id,
                           h.c.credit_account_id != s.c.credit_account_id, h.c.code != s.c.code,
                           h.c.source_id != s.c.source_id, s.c.amount > h.c.amount,
                           sa.and_(s.c.phase != "post", s.c.amount != h.c.amount))))


async def account_sums(conn: Conn) -> dict[tuple[str, str], int]:
    """Each account's posted and held balance, debits less credits: {(account id, posted|held): amount}."""
    out: dict[tuple[str, str], int] = {}
    for state, where in (("posted", _posted), ("held", _open)):
        for side, sign in ((t.c.debit_account_id, 1), (t.c.credit_account_id, -1)):
            for account_id, amount in await _rows(conn, sa.select(side, sa.func.sum(t.c.amount)).where(where)
                                                  .group_by(side)):
                out[(account_id, state)] = out.get((account_id, state), 0) + sign * int(amount)
    return out


async def all_accounts(conn: Conn) -> list[Any]:
    return await _rows(conn, sa.select(accounts.c.id, accounts.c.merchant_id, accounts.c.livemode,
                                       accounts.c.currency, accounts.c.kind))


async def settlement_sums(conn: Conn) -> list[Any]:
    """Per merchant, mode, currency, kind and status: the settlements' gross, fee and net."""
    s = settlements.c
    keys = (s.merchant_id, s.livemode, s.currency, s.kind, s.status)
    return await _rows(conn, sa.select(*keys, sa.func.sum(s.gross_amount), sa.func.sum(s.fee_amount),
                                       sa.func.sum(s.net_amount)).group_by(*keys))


async def payment_sums(conn: Conn) -> list[Any]:
    """Per merchant, mode and currency: what the payments hold (authorized, not captured) and reserve for refunds
    in flight."""
    p = payments.c
    keys = (p.merchant_id, p.livemode, p.currency)
    held = sa.func.sum(sa.case((p.status == "authorized", p.authorized_amount), else_=0))
    return await _rows(conn, sa.select(*keys, held, sa.func.sum(p.refunding_amount)).group_by(*keys))


async def payment_mismatches(conn: Conn) -> list[Any]:
    """Payments whose captured, refunded or refunding amount, or whose authorization's hold, the ledger does not
    show; and transfers of a payment there is not."""
    moved = (sa.select(t.c.payment_id, _sum(sa.and_(_posted, t.c.code.in_((CHARGE, DEPOSIT)))).label("captured"),
                       _sum(sa.and_(_posted, t.c.code == REFUND)).label("refunded"),
                       _sum(sa.and_(_open, t.c.code == REFUND)).label("refunding"),
                       _sum(sa.and_(_open, t.c.code != REFUND)).label("held"))
             .where(t.c.payment_id.isnot(None)).group_by(t.c.payment_id).subquery())
    p = payments.c
    held = sa.case((p.status == "authorized", p.authorized_amount), else_=0)
    found = [sa.func.coalesce(moved.c[k], 0).label(k) for k in ("captured", "refunded", "refunding", "held")]
    pairs = ((p.captured_amount, found[0]), (p.refunded_amount, found[1]), (p.refunding_amount, found[2]),
             (held, found[3]))
    voided_hold = sa.exists().where(_settle.c.held_id == p.id + f".{CHARGE}.held", _settle.c.phase == "void")
    rows = await _rows(conn, sa.select(p.id, p.status, p.captured_amount, p.refunded_amount, p.refunding_amount,
                                       held.label("held_amount"), *found)
                       .select_from(payments.outerjoin(moved, moved.c.payment_id == p.id))
                       .where(sa.or_(*(a != b for a, b in pairs), sa.and_(p.status == "voided", ~voided_hold))))
    orphans = await _rows(conn, sa.select(t.c.payment_id).distinct()
                          .select_from(t.outerjoin(payments, payments.c.id == t.c.payment_id))
                          .where(t.c.payment_id.isnot(None), payments.c.id.is_(None)))
    return rows + [("orphan", o[0]) for o in orphans]


async def refund_states(conn: Conn) -> list[Any]:
    """Each refund with its hold's amount and what settled the hold (phase, amount)."""
    r = refunds.c
    h, s = _hold, _settle
    return await _rows(conn, sa.select(r.id, r.status, r.amount, h.c.amount.label("held"),
                                       s.c.phase.label("settled"), s.c.amount.label("settled_amount"))
                       .select_from(refunds.outerjoin(h, h.c.id == r.id + f".{REFUND}.held")
                                    .outerjoin(s, s.c.held_id == h.c.id)))


async def settlement_mismatches(conn: Conn) -> list[Any]:
    """Settlements whose gross, payout date or fee their source's transfers do not show; and transfers of a
    source no settlement books."""
    main = (sa.select(t.c.source_id, sa.func.sum(t.c.amount).label("gross"),
                      sa.func.max(t.c.available_on).label("day"))
            .where(_posted, t.c.code.in_((CHARGE, DEPOSIT, REFUND))).group_by(t.c.source_id).subquery())
    fees = (sa.select(t.c.source_id, sa.func.sum(t.c.amount).label("fee"))
            .where(t.c.code.in_(FEE_CODES)).group_by(t.c.source_id).subquery())
    s = settlements.c
    fee = sa.func.coalesce(fees.c.fee, 0)
    rows = await _rows(conn, sa.select(s.id, s.gross_amount, s.fee_amount, s.payout_date, main.c.gross, main.c.day,
                                       fee.label("fee"))
                       .select_from(settlements.outerjoin(main, main.c.source_id == s.source_id)
                                    .outerjoin(fees, fees.c.source_id == s.source_id))
                       .where(sa.or_(main.c.gross.is_(None), main.c.gross != sa.func.abs(s.gross_amount),
                                     main.c.day != s.payout_date, fee != sa.func.abs(s.fee_amount))))
    unbooked = []
    for sources in (main, fees):
        unbooked += await _rows(conn, sa.select(sources.c.source_id).select_from(
            sources.outerjoin(settlements, settlements.c.source_id == sources.c.source_id)
        ).where(settlements.c.id.is_(None)))
    return rows + [("unbooked", u[0]) for u in unbooked]


async def payout_sums(conn: Conn) -> tuple[list[Any], list[Any]]:
    """The paid settlements' net by payout, and each payout's transfer (amount, debit account's kind)."""
    s = settlements.c
    nets = await _rows(conn, sa.select(s.payout_id, sa.func.sum(s.net_amount), sa.func.min(s.id))
                       .where(s.status == "paid").group_by(s.payout_id))
    booked = await _rows(conn, sa.select(t.c.source_id, t.c.amount, _debit.c.kind)
                         .select_from(t.join(_debit, _debit.c.id == t.c.debit_account_id))
                         .where(t.c.code == PAYOUT))
    return nets, booked
