"""SQL for payments and their attempts.

`transition` is the only code that changes a payment's status. It asks the transition table for the next status
and writes it with `WHERE status = :current`, so a lost race changes nothing. A payment created and moved in one
transaction is inserted already moved (`with_status_after`), by the same table. Every write of a payment carries
what it changes in the daily totals (`totals.moved`), to be made with it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.orders.records import Order
from gyeol.core.pagination import Page, paginate
from gyeol.core.payments import totals
from gyeol.core.payments.records import Attempt, Charge, Payment
from gyeol.core.records import row_of
from gyeol.core.states import ATTEMPT, PAYMENT, PAYMENT_HOLDING
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import merchants, orders, payments
from gyeol.models import payment_attempts as att

Row = dict[str, Any]


def _visible(caller: Caller, row: Row) -> bool:
    """`scoped` for a row fetched by its id alone (`Caller.owns` says why): the caller's merchant's in its mode, and
    a user's own."""
    return caller.owns(row["merchant_id"], row["livemode"]) and not (
        caller.user_id and not caller.is_admin and row["user_id"] != caller.user_id)


def scoped(caller: Caller) -> list[sa.ColumnElement[bool]]:
    """The payments a caller may see: its merchant's, in its mode; a user (not an ADMIN) only its own."""
    conds = [payments.c.merchant_id == caller.merchant_id, payments.c.livemode == caller.livemode]
    if caller.user_id and not caller.is_admin:
        conds.append(payments.c.user_id == caller.user_id)
    return conds


_BY_ID = sa.select(payments).where(payments.c.id == sa.bindparam("id"))
GET_ANY = (_BY_ID)
GET_ANY_LOCKED = (_BY_ID.with_for_update())
OTHER_HOLDING = (
    sa.select(payments.c.id, payments.c.status)
    .where(payments.c.order_pk == sa.bindparam("order_pk"), payments.c.id != sa.bindparam("id"),
           sa.or_(*(payments.c.status == s for s in sorted(PAYMENT_HOLDING))))
    .limit(1)
)


_later = att.alias("later")
_LAST_ATTEMPT_ID = (
    sa.select(_later.c.id).where(_later.c.payment_id == payments.c.id)
    .order_by(_later.c.created_at.desc(), _later.c.id.desc()).limit(1).correlate(payments).scalar_subquery()
)
GET_WITH_LAST_ATTEMPT = (
    sa.select(payments, *(c.label("a_" + c.name) for c in att.c))
    .select_from(payments.outerjoin(att, att.c.id == _LAST_ATTEMPT_ID))
    .where(payments.c.id == sa.bindparam("id"))  # whose it is: `_visible`
)


# The core's lock order, payment then order, is the order of `FOR UPDATE OF`: PostgreSQL locks each row of a
# result in that order. The attempt is not locked: every writer of an attempt holds its payment's lock first, so
# taking the attempt's too could only deadlock.
ANSWER_LOCKED = (
    sa.select(payments, *(c.label("a_" + c.name) for c in att.c), *(c.label("o_" + c.name) for c in orders.c),
              merchants.c.settings.label("merchant_settings"))
    .select_from(att.join(payments, payments.c.id == att.c.payment_id)
                 .join(orders, orders.c.id == payments.c.order_pk)
                 .join(merchants, merchants.c.id == payments.c.merchant_id))
    .where(att.c.id == sa.bindparam("id"))
    .with_for_update(of=[payments, orders])
)


# The records' fields are their tables' columns, in the same order: a joined row is cut into them by position.
_PAYMENT_COLUMNS = len(payments.c)
_ATTEMPT_COLUMNS = len(att.c)
assert tuple(c.name for c in payments.c) == Payment.__match_args__
assert tuple(c.name for c in att.c) == Attempt.__match_args__
assert tuple(c.name for c in orders.c) == Order.__match_args__


def _split(row: Row) -> tuple[Payment, Attempt | None]:
    """A row of `payments, a_<attempt columns>`, in that order, as the two records it joins."""
    values = list(row.values())
    p = Payment(*values[:_PAYMENT_COLUMNS])
    a = values[_PAYMENT_COLUMNS:_PAYMENT_COLUMNS + _ATTEMPT_COLUMNS]
    return p, (Attempt(*a) if a[0] is not None else None)


async def get_with_last_attempt(conn: Conn, caller: Caller | None, payment_id: str) -> Charge:
    """A payment and its latest attempt in one statement (one snapshot, one round trip); the caller's, when one
    is given."""
    row = await sql.one(conn, GET_WITH_LAST_ATTEMPT, {"id": payment_id})
    if row is None or (caller is not None and not _visible(caller, row)):
        raise not_found("payment", payment_id)
    return Charge(*_split(row))


@dataclass(frozen=True, slots=True)
class LockedAttempt:
    """What applying a PG's answer to an attempt decides on, read and locked in one round trip: the attempt, its
    payment and its order (locked), and the merchant's settings (the settlement's fees)."""

    payment: Payment
    attempt: Attempt
    order: Order
    merchant_settings: dict[str, Any]


async def lock_for_answer(conn: Conn, attempt_id: str) -> LockedAttempt:
    row = await sql.one(conn, ANSWER_LOCKED, {"id": attempt_id})
    if row is None:
        raise LookupError(f"attempt {attempt_id} is gone")  # attempts are never deleted
    p, a = _split(row)
    assert a is not None
    values = list(row.values())[_PAYMENT_COLUMNS + _ATTEMPT_COLUMNS:]
    return LockedAttempt(p, a, Order(*values[:-1]), dict(values[-1] or {}))


def _payment(row: Row | None) -> Payment | None:
    return None if row is None else Payment(**row)


async def get(conn: Conn, caller: Caller, payment_id: str, *, lock: bool = False) -> Payment:
    row = await sql.one(conn, GET_ANY_LOCKED if lock else GET_ANY, {"id": payment_id})
    if row is None or not _visible(caller, row):
        raise not_found("payment", payment_id)
    return Payment(**row)


async def get_any(conn: Conn, payment_id: str, *, lock: bool = False) -> Payment | None:
    return _payment(await sql.one(conn, GET_ANY_LOCKED if lock else GET_ANY, {"id": payment_id}))


async def insert(conn: Conn, p: Payment) -> None:
    await sql.write_all(conn, inserting(p))


def inserting(p: Payment) -> list[sql.Write]:
    return [sql.Insert(payments, [row_of(p)]), *totals.moved(None, p)]


async def transition(conn: Conn, p: Payment, event: str, now: datetime, **values: Any) -> Payment:
    p, writes = moving(p, event, now, **values)
    await sql.write_all(conn, writes)
    return p


def moving(p: Payment, event: str, now: datetime, **values: Any) -> tuple[Payment, list[sql.Write]]:
    """`transition` as writes to make with others (`sql.write_all`): the payment after it, and the writes."""
    values = {**values, "status": PAYMENT.next(p.status, event), "updated_at": now}
    after = replace(p, **values)
    return after, [sql.Update(
        payments, values, {"id": p.id, "status": p.status},
        conflict=lambda: DomainError("conflict", "CONCURRENT_UPDATE", "The payment changed under this request; "
                                     "retry.", details={"paymentId": p.id})), *totals.moved(p, after)]


def with_status_after(p: Payment, event: str, now: datetime, **values: Any) -> Payment:
    """A payment not yet inserted, as it is after `event` (its first write is then an insert, not a move)."""
    return replace(p, **values, status=PAYMENT.next(p.status, event), updated_at=now)


async def update(conn: Conn, p: Payment, now: datetime, **values: Any) -> Payment:
    """A change that is not a status move (amounts, the open attempt, method details)."""
    p, writes = changing(p, now, **values)
    await sql.write_all(conn, writes)
    return p


def changing(p: Payment, now: datetime, **values: Any) -> tuple[Payment, list[sql.Write]]:
    """`update` as writes to make with others (`sql.write_all`)."""
    assert "status" not in values
    values["updated_at"] = now
    after = replace(p, **values)
    return after, [sql.Update(payments, values, {"id": p.id}), *totals.moved(p, after)]


async def other_holding_payment(conn: Conn, order_pk: str, payment_id: str) -> bool:
    """Whether another payment of the order is pending, authorized or paid."""
    return await sql.one(conn, OTHER_HOLDING, {"order_pk": order_pk, "id": payment_id}) is not None


async def list_page(conn: Conn, caller: Caller, page: int, size: int, *, status: str | None,
                    mine: bool) -> Page[Payment]:
    """The caller's payments, newest first; `mine`: only those of the calling user."""
    q = sa.select(payments).where(*scoped(caller))
    if mine:
        q = q.where(payments.c.user_id == caller.user_id)
    if status:
        q = q.where(payments.c.status == status)
    return await paginate(conn, q, payments.c.created_at.desc(), page, size, Payment.from_row)


async def due_to_expire(conn: Conn, now: datetime, limit: int) -> list[str]:
    """Ids of payments past their expiry that never took money (created, or failed and not retried)."""
    q = sa.select(payments.c.id).where(payments.c.status.in_(("created", "failed")),
                                       payments.c.expires_at <= now).limit(limit)
    return [r[0] for r in (await conn.execute(q)).all()]


# --- attempts -------------------------------------------------------------------------------------
GET_ATTEMPT = sa.select(att).where(att.c.id == sa.bindparam("id"))


async def insert_attempt(conn: Conn, a: Attempt) -> None:
    await sql.insert(conn, att, row_of(a))


def inserting_attempt(a: Attempt) -> sql.Insert:
    return sql.Insert(att, [row_of(a)])


async def get_attempt(conn: Conn, attempt_id: str) -> Attempt | None:
    row = await sql.one(conn, GET_ATTEMPT, {"id": attempt_id})
    return None if row is None else Attempt(**row)


async def settle_attempt(conn: Conn, a: Attempt, event: str, now: datetime, **values: Any) -> Attempt:
    a, write = settling(a, event, now, **values)
    await sql.write_all(conn, [write])
    return a


def settling(a: Attempt, event: str, now: datetime, **values: Any) -> tuple[Attempt, sql.Update]:
    """`settle_attempt` as a write to make with others (`sql.write_all`)."""
    new_status = ATTEMPT.next(a.status, event)
    values = {**values, "status": new_status, "updated_at": now}
    if new_status == "unknown":
        values["next_check_at"] = now + timedelta(seconds=5)
    elif new_status != "requires_action":
        values["next_check_at"] = None
    return replace(a, **values), sql.Update(att, values, {"id": a.id, "status": a.status})


async def recheck_later(conn: Conn, a: Attempt, now: datetime) -> Attempt:
    """An unknown attempt the PG still did not answer about: the next look backs off to at most an hour."""
    checks = a.checks + 1
    values: Row = {"checks": checks, "next_check_at": now + timedelta(seconds=min(5 * 2 ** min(checks, 10), 3600)),
              "updated_at": now}
    await conn.execute(att.update().where(att.c.id == a.id, att.c.status == "unknown").values(**values))
    return replace(a, **values)


async def attempts_to_check(conn: Conn, now: datetime, stale_before: datetime, limit: int) -> list[Attempt]:
    q = (
        sa.select(att)
        .where(
            sa.or_(
                sa.and_(att.c.status == "unknown", att.c.next_check_at <= now),
                sa.and_(att.c.status == "started", att.c.created_at <= stale_before),
            )
        )
        .order_by(att.c.created_at)
        .limit(limit)
    )
    return [Attempt(**r) for r in (await conn.execute(q)).mappings().all()]


_BY_KEY = sa.select(payments).where(payments.c.merchant_id == sa.bindparam("merchant_id"),
                                    payments.c.payment_key == sa.bindparam("payment_key"))
BY_KEY, BY_KEY_LOCKED = (_BY_KEY), (_BY_KEY.with_for_update())


async def get_by_key(conn: Conn, merchant_id: str, payment_key: str, *, lock: bool = False) -> Payment | None:
    """The merchant's payment with this paymentKey, in either mode: for what a PG tells of it (a paymentKey is one
    payment's per merchant, whatever its mode). A caller's reads go through `scoped`."""
    return _payment(await sql.one(conn, BY_KEY_LOCKED if lock else BY_KEY,
                                  {"merchant_id": merchant_id, "payment_key": payment_key}))


async def get_by_number(conn: Conn, caller: Caller, payment_number: str) -> Payment:
    q = sa.select(payments).where(payments.c.payment_number == payment_number, *scoped(caller))
    row = (await conn.execute(q)).mappings().first()
    if row is None:
        raise not_found("payment", payment_number)
    return Payment(**row)


async def get_by_client_token(conn: Conn, client_token: str) -> Payment | None:
    """The payment a client token was minted for. The token starts with the payment's id (`<id>_secret_<random>`),
    so this is a primary-key read, not a scan of `payments`; then the whole token must match."""
    payment_id, secret, _ = client_token.partition("_secret_")
    row = await get_any(conn, payment_id) if secret else None
    if row is None or not hmac.compare_digest(row.client_token.encode(), client_token.encode()):
        return None
    return row
