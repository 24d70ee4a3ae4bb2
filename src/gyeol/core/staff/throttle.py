"""The sign-in throttle: 5 failures for one account (the e-mail typed, existing or not) or from one address within
the window lock further attempts for 15 minutes. Kept in the database, so every process sees the same counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import signin_failures as sf

MAX_FAILURES = 5
LOCK = timedelta(minutes=15)
WINDOW = timedelta(minutes=15)


def keys(email: str, address: str | None) -> list[str]:
    return [f"account:{email.strip().lower()[:254]}", f"address:{address or 'unknown'}"]


async def locked(conn: Conn, keys: list[str], now: datetime) -> bool:
    rows = await sql.rows(conn, sa.select(sf.c.locked_until).where(sf.c.key.in_(keys)))
    return any(r["locked_until"] is not None and r["locked_until"] > now for r in rows)


async def failed(conn: Conn, keys: list[str], now: datetime) -> bool:
    """Count a failure against each key; whether one of them is locked now."""
    lock = False
    for key in keys:
        # The row first (a no-op when it exists), then its lock: concurrent failures count one after another.
        await sql.insert_new(conn, sf, {"key": key, "failures": 0, "first_at": now, "locked_until": None})
        row = await sql.one(conn, sa.select(sf).where(sf.c.key == key).with_for_update())
        assert row is not None
        stale = row["first_at"] <= now - WINDOW or (row["locked_until"] is not None and row["locked_until"] <= now)
        failures = 1 if stale else row["failures"] + 1
        values = {"failures": failures, "first_at": now if stale else row["first_at"], "locked_until": None}
        if failures >= MAX_FAILURES:
            values["locked_until"] = now + LOCK
            lock = True
        await conn.execute(sf.update().where(sf.c.key == key).values(values))
    return lock


async def succeeded(conn: Conn, email: str) -> None:
    """A right password and code clear the account's count (not the address's: one right guess among many)."""
    await conn.execute(sf.delete().where(sf.c.key == keys(email, None)[0]))
