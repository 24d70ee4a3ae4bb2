"""Signing in and the sessions it opens.

A right password opens a session (the second-factor stage first when the account has TOTP on), under a new id
each time: the cookie's token is random, and only its SHA-256 is kept. A session lasts while it is used: 12 hours
without a request ends it. Refusals never say whether the account exists, and a lock is the same for all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa

from gyeol.core.clock import Clock
from gyeol.core.staff import passwords, throttle
from gyeol.core.staff.audit import record
from gyeol.core.staff.records import Actor, Session, Staff
from gyeol.core.staff.service import StaffService
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.models import api_keys, staff, staff_sessions

IDLE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
Outcome = Literal["signed_in", "second_factor", "refused", "locked"]


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Outcome
    token: str | None = None  # the new session's cookie value


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SESSION = (sa.select(staff_sessions, *(c.label("s_" + c.name) for c in staff.c))
           .select_from(staff_sessions.join(staff, staff.c.id == staff_sessions.c.staff_id))
           .where(staff_sessions.c.id == sa.bindparam("id")))


class SignIn:
    def __init__(self, db: Database, clock: Clock, accounts: StaffService) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts

    async def password(self, email: str, password: str, address: str | None, previous: str | None) -> Attempt:
        """Check an e-mail and password; a session for them, or a refusal, or the lock."""
        now, keys = self.clock.now(), throttle.keys(email, address)
        async with self.db.read() as conn:
            if await throttle.locked(conn, keys, now):
                return Attempt("locked")
            row = await sql.one(conn, sa.select(staff).where(staff.c.email == email.strip().lower()[:254]))
        found = Staff.from_row(row) if row else None
        ok = passwords.verify(found.password_hash if found else None, password)  # as slow for a wrong e-mail
        if found is None or not ok or found.disabled_at is not None:
            return await self._refuse(keys, now, found, address)
        stage = "second_factor" if found.totp_enabled else "signed_in"
        return await self._open(found, stage, address, previous, now)

    async def second_factor(self, token: str, code: str, address: str | None) -> Attempt:
        """The TOTP code, or one recovery code, of a session at the second-factor stage."""
        now = self.clock.now()
        s = await self.session(token)
        if s is None or s.stage != "second_factor":
            return Attempt("refused")
        keys = throttle.keys(s.staff.email, address)
        async with self.db.read() as conn:
            if await throttle.locked(conn, keys, now):
                return Attempt("locked")
        used = passwords.matching_code(s.staff.recovery_codes, code)
        if not self.accounts.code_ok(s.staff, code) and used is None:
            return await self._refuse(keys, now, s.staff, address)
        if used is not None:
            async with self.db.tx() as conn:
                codes = [h for h in s.staff.recovery_codes if h != used]
                await conn.execute(staff.update().where(staff.c.id == s.staff.id).values(recovery_codes=codes))
                await record(conn, Actor.of(s), "staff.recovery_code_used", s.staff.email, now)
        return await self._open(s.staff, "signed_in", address, token, now)

    async def _refuse(self, keys: list[str], now: datetime, found: Staff | None, address: str | None) -> Attempt:
        async with self.db.tx() as conn:
            lock = await throttle.failed(conn, keys, now)
            if found is not None:
                await record(conn, Actor(found.merchant_id, found.id, found.email, address),
                             "signin.locked" if lock else "signin.failed", found.email, now)
        return Attempt("locked" if lock else "refused")

    async def _open(self, s: Staff, stage: str, address: str | None, previous: str | None,
                    now: datetime) -> Attempt:
        """A session under a new id; the browser's previous one, if any, ends (the id rotates at sign-in)."""
        token = secrets.token_urlsafe(32)
        async with self.db.tx() as conn:
            livemode = await _has_live_key(conn, s.merchant_id)
            if previous:
                await conn.execute(staff_sessions.update().where(staff_sessions.c.id == session_id(previous))
                                   .values(ended_at=now))
            await sql.insert(conn, staff_sessions, {
                "id": session_id(token), "staff_id": s.id, "merchant_id": s.merchant_id, "stage": stage,
                "livemode": livemode, "csrf_token": secrets.token_urlsafe(32), "address": address,
                "last_seen_at": now, "ended_at": None, "created_at": now})
            if stage == "signed_in":
                await throttle.succeeded(conn, s.email)
                await record(conn, Actor(s.merchant_id, s.id, s.email, address, livemode), "signin", s.email, now)
        return Attempt(stage, token)  # type: ignore[arg-type]

    async def session(self, token: str | None) -> Session | None:
        """The live session of a cookie's token: None when unknown, ended, idle for 12 hours, or its staff
        disabled."""
        if not token or len(token) > 100:
            return None
        now = self.clock.now()
        async with self.db.read() as conn:
            row = await sql.one(conn, SESSION, {"id": session_id(token)})
        if row is None or row["ended_at"] is not None or row["s_disabled_at"] is not None \
                or row["last_seen_at"] <= now - IDLE:
            return None
        member = Staff.from_row({c.name: row["s_" + c.name] for c in staff.c})
        s = Session(id=row["id"], staff=member, stage=row["stage"], livemode=row["livemode"],
                    csrf_token=row["csrf_token"], address=row["address"], last_seen_at=row["last_seen_at"],
                    created_at=row["created_at"])
        if now - s.last_seen_at >= TOUCH_EVERY:
            async with self.db.tx() as conn:
                await conn.execute(staff_sessions.update().where(staff_sessions.c.id == s.id,
                                                                 staff_sessions.c.ended_at.is_(None))
                                   .values(last_seen_at=now))
            s = replace(s, last_seen_at=now)
        return s

    async def end(self, s: Session) -> None:
        """Sign out."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            await conn.execute(staff_sessions.update().where(staff_sessions.c.id == s.id).values(ended_at=now))
            await record(conn, Actor.of(s), "signout", s.staff.email, now)

    async def switch_mode(self, s: Session, livemode: bool) -> None:
        """View test or live data; never both on one page."""
        async with self.db.tx() as conn:
            await conn.execute(staff_sessions.update().where(staff_sessions.c.id == s.id).values(livemode=livemode))


async def _has_live_key(conn: Conn, merchant_id: str) -> bool:
    """The dashboard opens on test data until the merchant has a live key."""
    q = sa.select(api_keys.c.id).where(api_keys.c.merchant_id == merchant_id, api_keys.c.mode == "live",
                                       api_keys.c.revoked_at.is_(None)).limit(1)
    return await sql.one(conn, q) is not None
