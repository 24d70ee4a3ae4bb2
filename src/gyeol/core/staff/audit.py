"""The audit log: every change made by staff, who, what, when and from where. Entries are written in the
transaction of the change where the change is the staff core's own (sign-in, accounts), and right after it where a
core service of another resource made it (a refund, a key); nothing here deletes or updates one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gyeol.core.clock import Clock
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


async def record(conn: Conn, actor: Actor, action: str, target: str | None, now: datetime,
                 **details: Any) -> None:
    await sql.insert(conn, audit_log, {
        "merchant_id": actor.merchant_id, "livemode": actor.livemode, "staff_id": actor.staff_id,
        "staff_email": actor.email, "action": action, "target": target,
        "details": {k: v for k, v in details.items() if v is not None}, "address": actor.address,
        "created_at": now})


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def add(self, actor: Actor, action: str, target: str | None = None, **details: Any) -> None:
        async with self.db.tx() as conn:
            await record(conn, actor, action, target, self.clock.now(), **details)

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
