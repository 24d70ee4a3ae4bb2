"""The audit log: every change made by staff, who, what, when and from where. Each entry is written in the
transaction of the change it records: by the staff core for its own changes (sign-in, accounts), and by the core
command that makes any other change, handed the staff member's `AuditNote` (a refund, a key, an endpoint, the
settings). Nothing here deletes or updates an entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gyeol.core.staff.records import Actor, AuditEntry
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.models import audit_log

PAGE = 50


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    staff_email: str | None = None
    before: int | None = None  # the seq of the last entry on the page before (newest first)


@dataclass(frozen=True, slots=True)
class AuditNote:
    """A change a staff member asks of the core, to be recorded with it: who, and what. The core command that makes
    the change writes it in the change's own transaction (`write`), so a change that fails leaves no entry
    and a change that commits always has one."""

    actor: Actor
    action: str
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def record(conn: Conn, actor: Actor, action: str, target: str | None, now: datetime,
                 **details: Any) -> None:
    await sql.insert(conn, audit_log, {
        "merchant_id": actor.merchant_id, "livemode": actor.livemode, "staff_id": actor.staff_id,
        "staff_email": actor.email, "action": action, "target": target,
        "details": {k: v for k, v in details.items() if v is not None}, "address": actor.address,
        "created_at": now})


async def write(conn: Conn, note: AuditNote | None, now: datetime, *, target: str | None = None,
                **more: Any) -> None:
    """The entry of `note`, if any, in the caller's transaction: the one that makes the change. `target` and `more`
    are what the change learnt (the new refund's id, the amount it took)."""
    if note is not None:
        await record(conn, note.actor, note.action, target or note.target, now, **{**note.details, **more})


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, merchant_id: str, f: AuditFilter) -> tuple[list[AuditEntry], int | None]:
        """A merchant's entries, newest first; and the cursor of the next page, if any."""
        q = sa.select(audit_log).where(audit_log.c.merchant_id == merchant_id)
        if f.action:
            q = q.where(audit_log.c.action == f.action)
        if f.staff_email:
            q = q.where(audit_log.c.staff_email == f.staff_email.strip().lower())
        if f.before is not None:
            q = q.where(audit_log.c.seq < f.before)
        async with self.db.read() as conn:
            rows = await sql.rows(conn, q.order_by(audit_log.c.seq.desc()).limit(PAGE + 1))
        entries = [AuditEntry.from_row(r) for r in rows[:PAGE]]
        return entries, (entries[-1].seq if len(rows) > PAGE else None)
