"""SQL for payments and their attempts.

`transition` is the only code that changes a payment's status. It asks the transition table for
the next status and writes it with `WHERE status = :current`, so a lost race changes nothing. A payment
created and moved in one transaction is inserted already moved (`with_status_after`), by the same table.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.pagination import Page, paginate
from gyeol.core.states import ATTEMPT, PAYMENT, PAYMENT_HOLDING
from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import merchants, orders, payments
from gyeol.models import payment_attempts as att

Row = dict[str, Any]


def _visible(caller: Caller, row: Row) -> bool:
    """`scoped` for a row fetched by its id alone (`Caller.owns` says why): the caller's merchant's, and a user's
    own."""
    return caller.owns(row) and not (caller.user_id and not caller.is_admin and row["user_id"] != caller.user_id)


def scoped(caller: Caller) -> list[sa.ColumnElement[bool]]:
    conds = [payments.c.merchant_id == caller.merchant_id]
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


_PAYMENT_COLUMNS = len(payments.c)
_ATTEMPT_KEYS = tuple(c.name for c in att.c)
_ORDER_KEYS = tuple(c.name for c in orders.c)


def _split(row: Row) -> tuple[Row, Row | None]:
    """A row of `payments, a_<attempt columns>`, in that order, as the two rows it joins."""
    values = list(row.values())
    p = dict(zip(row, values[:_PAYMENT_COLUMNS], strict=False))
    a = dict(zip(_ATTEMPT_KEYS, values[_PAYMENT_COLUMNS:_PAYMENT_COLUMNS + len(_ATTEMPT_KEYS)], strict=True))
    return p, (a if a["id"] is not None else None)


async def get_with_last_attempt(conn: Conn, caller: Caller | None, payment_id: str) -> tuple[Row, Row | None]:
    """A payment and its latest attempt in one statement (one snapshot, one round trip); the caller's, when one
    is given."""
    row = await sql.one(conn, GET_WITH_LAST_ATTEMPT, {"id": payment_id})
    if row is None or (caller is not None and not _visible(caller, row)):
        raise not_found("payment", payment_id)
    return _split(row)


@dataclass(frozen=True)
class LockedAttempt:
    """What applying a PG's answer to an attempt decides on, read and locked in one round trip: the attempt, its
    payment and its order (locked), and the merchant's settings (the settlement's fees)."""

    payment: Row
    attempt: Row
    order: Row
    merchant_settings: dict[str, Any]


async def lock_for_answer(conn: Conn, attempt_id: str) -> LockedAttempt:
    row = await sql.one(conn, ANSWER_LOCKED, {"id": attempt_id})
    if row is None:
        raise LookupError(f"attempt {attempt_id} is gone")  # attempts are never deleted
    p, a = _split(row)
    assert a is not None
    values = list(row.values())[_PAYMENT_COLUMNS + len(_ATTEMPT_KEYS):]
    order = dict(zip(_ORDER_KEYS, values[:-1], strict=True))
    return LockedAttempt(p, a, order, dict(values[-1] or {}))


async def get(conn: Conn, caller: Caller, payment_id: str, *, lock: bool = False) -> Row:
    row = await sql.one(conn, GET_ANY_LOCKED if lock else GET_ANY, {"id": payment_id})
    if row is None or not _visible(caller, row):
        raise not_found("payment", payment_id)
    return row


async def get_any(conn: Conn, payment_id: str, *, lock: bool = False) -> Row | None:
    return await sql.one(conn, GET_ANY_LOCKED if lock else GET_ANY, {"id": payment_id})


async def insert(conn: Conn, row: Row) -> None:
    await sql.insert(conn, payments, row)


async def transition(conn: Conn, p: Row, event: str, now: datetime, **values: Any) -> Row:
    new_status = PAYMENT.next(p["status"], event)
    values = {**values, "status": new_status, "updated_at": now}
    await sql.update(conn, payments, values, id=p["id"], status=p["status"],
                     conflict=lambda: DomainError("conflict", "CONCURRENT_UPDATE",
                                                  "The payment changed under this request; retry.",
                                                  details={"paymentId": p["id"]}))
    return {**p, **values}


def with_status_after(p: Row, event: str, now: datetime, **values: Any) -> Row:
    """A payment not yet inserted, as it is after `event` (its first write is then an insert, not a move)."""
    return {**p, **values, "status": PAYMENT.next(p["status"], event), "updated_at": now}


async def update(conn: Conn, p: Row, now: datetime, **values: Any) -> Row:
    """A change that is not a status move (amounts, the open attempt, method details)."""
    assert "status" not in values
    values["updated_at"] = now
    await sql.update(conn, payments, values, id=p["id"])
    return {**p, **values}


async def other_holding_payment(conn: Conn, order_pk: str, payment_id: str) -> Row | None:
    return await sql.one(conn, OTHER_HOLDING, {"order_pk": order_pk, "id": payment_id})


async def list_page(conn: Conn, caller: Caller, page: int, size: int, view: Callable[[Mapping[str, Any]], Row], *,
                    status: str | None, mine: bool) -> Page:
    """The caller's payments, newest first; `mine`: only those of the calling user."""
    q = sa.select(payments).where(*scoped(caller))
    if mine:
        q = q.where(payments.c.user_id == caller.user_id)
    if status:
        q = q.where(payments.c.status == status)
    return await paginate(conn, q, payments.c.created_at.desc(), page, size, view)


async def due_to_expire(conn: Conn, now: datetime, limit: int) -> list[str]:
    """Ids of payments past their expiry that never took money (created, or failed and not retried)."""
    q = sa.select(payments.c.id).where(payments.c.status.in_(("created", "failed")),
                                       payments.c.expires_at <= now).limit(limit)
    return [r[0] for r in (await conn.execute(q)).all()]


# --- attempts -------------------------------------------------------------------------------------
GET_ATTEMPT = sa.select(att).where(att.c.id == sa.bindparam("id"))


async def insert_attempt(conn: Conn, row: Row) -> None:
    await sql.insert(conn, att, row)


async def get_attempt(conn: Conn, attempt_id: str) -> Row | None:
    return await sql.one(conn, GET_ATTEMPT, {"id": attempt_id})


async def settle_attempt(conn: Conn, a: Row, event: str, now: datetime, **values: Any) -> Row:
    new_status = ATTEMPT.next(a["status"], event)
    values = {**values, "status": new_status, "updated_at": now}
    if new_status == "unknown":
        values["next_check_at"] = now + timedelta(seconds=5)
    elif new_status != "requires_action":
        values["next_check_at"] = None
    await sql.update(conn, att, values, id=a["id"], status=a["status"])
    return {**a, **values}


async def recheck_later(conn: Conn, a: Row, now: datetime) -> Row:
    """An unknown attempt the PG still did not answer about: the next look backs off to at most an hour."""
    checks = a["checks"] + 1
    values = {"checks": checks, "next_check_at": now + timedelta(seconds=min(5 * 2 ** min(checks, 10), 3600)),
              "updated_at": now}
    await conn.execute(att.update().where(att.c.id == a["id"], att.c.status == "unknown").values(**values))
    return {**a, **values}


async def attempts_to_check(conn: Conn, now: datetime, stale_before: datetime, limit: int) -> list[Row]:
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
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


_BY_KEY = sa.select(payments).where(payments.c.merchant_id == sa.bindparam("merchant_id"),
                                    payments.c.payment_key == sa.bindparam("payment_key"))
BY_KEY, BY_KEY_LOCKED = (_BY_KEY), (_BY_KEY.with_for_update())


async def get_by_key(conn: Conn, merchant_id: str, payment_key: str, *, lock: bool = False) -> Row | None:
    return await sql.one(conn, BY_KEY_LOCKED if lock else BY_KEY,
                                    {"merchant_id": merchant_id, "payment_key": payment_key})


async def get_by_number(conn: Conn, caller: Caller, payment_number: str) -> Row:
    q = sa.select(payments).where(payments.c.payment_number == payment_number, *scoped(caller))
    row = (await conn.execute(q)).mappings().first()
    if row is None:
        raise not_found("payment", payment_number)
    return dict(row)


async def get_by_client_token(conn: Conn, client_token: str) -> Row | None:
    """The payment a client token was minted for. The token starts with the payment's id (`<id>_secret_<random>`),
    so this is a primary-key read, not a scan of `payments`; then the whole token must match."""
    payment_id, secret, _ = client_token.partition("_secret_")
    row = await get_any(conn, payment_id) if secret else None
    if row is None or not hmac.compare_digest(row["client_token"].encode(), client_token.encode()):
        return None
    return row
