"""Leases for singleton jobs across processes (one outbox relay at a time keeps broker order)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.db.engine import Database
from gyeol.models import job_leases


async def acquire(db: Database, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease; False while another holder's lease is still running."""
    try:
        async with db.tx() as conn:
            q = sa.select(job_leases).where(job_leases.c.name == name).with_for_update()
            row = (await conn.execute(q)).mappings().first()
            if row is None:
                await conn.execute(job_leases.insert().values(name=name, holder=holder, expires_at=now + ttl))
            elif row["holder"] != holder and row["expires_at"] > now:
                return False
            else:
                await conn.execute(job_leases.update().where(job_leases.c.name == name)
                                   .values(holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False  # another process inserted the lease first
    return True


async def release(db: Database, name: str, holder: str) -> None:
    async with db.tx() as conn:
        await conn.execute(job_leases.delete().where(job_leases.c.name == name, job_leases.c.holder == holder))
