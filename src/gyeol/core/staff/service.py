"""Staff accounts: create, list, disable, set a password, and the second factor (TOTP with recovery codes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pyotp
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.core.clock import Clock
from gyeol.core.errors import DomainError, not_found
from gyeol.core.staff import passwords
from gyeol.core.staff.audit import record
from gyeol.core.staff.records import ROLES, Actor, Staff
from gyeol.crypto import DataCipher
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.ids import new_id
from gyeol.models import staff, staff_sessions

ISSUER = "Gyeol"
DEV_OWNER = "owner@gyeol.local"  # `make run`'s owner of the default merchant (development only)


def checked_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 254 or not email.isprintable() or " " in email:
        raise DomainError("validation", "INVALID_EMAIL", "An e-mail address looks like name@example.com.")
    return email


def checked_role(role: str) -> str:
    if role not in ROLES:
        raise DomainError("validation", "INVALID_ROLE", f"A role is one of {', '.join(ROLES)}.")
    return role


async def end_sessions(conn: Conn, staff_id: str, now: datetime) -> None:
    await conn.execute(staff_sessions.update().where(staff_sessions.c.staff_id == staff_id,
                                                     staff_sessions.c.ended_at.is_(None)).values(ended_at=now))


class StaffService:
    def __init__(self, db: Database, clock: Clock, cipher: DataCipher) -> None:
        self.db = db
        self.clock = clock
        self.cipher = cipher

    async def create(self, merchant_id: str, email: str, role: str, password: str, *,
                     actor: Actor | None = None) -> Staff:
        """A new account of the merchant; its e-mail is its sign-in name, unique across merchants."""
        now = self.clock.now()
        s = Staff(id=new_id("stf"), merchant_id=merchant_id, email=checked_email(email), role=checked_role(role),
                  password_hash=passwords.hashed(password), totp_secret=None, totp_enabled=False,
                  recovery_codes=[], disabled_at=None, created_at=now, updated_at=now)
        try:
            async with self.db.tx() as conn:
                await sql.insert(conn, staff, {f: getattr(s, f) for f in staff.c.keys()})
                if actor is not None:
                    await record(conn, actor, "staff.created", s.email, now, role=s.role)
        except IntegrityError:
            raise DomainError("conflict", "STAFF_EXISTS", f"Staff with the e-mail {s.email} exists already.") \
                from None
        return s

    async def ensure_owner(self, merchant_id: str, email: str, password: str) -> bool:
        """The development owner: created when the merchant has no staff at all. Whether it was created now."""
        async with self.db.read() as conn:
            if await sql.one(conn, sa.select(staff.c.id).where(staff.c.merchant_id == merchant_id).limit(1)):
                return False
        try:
            await self.create(merchant_id, email, "owner", password)
        except DomainError:  # another process made it first, or the e-mail is taken by another merchant's staff
            return False
        return True

    async def all(self, merchant_id: str | None = None) -> list[Staff]:
        q = sa.select(staff).order_by(staff.c.created_at)
        if merchant_id is not None:
            q = q.where(staff.c.merchant_id == merchant_id)
        async with self.db.read() as conn:
            return [Staff.from_row(r) for r in await sql.rows(conn, q)]

    async def get(self, staff_id: str) -> Staff:
        async with self.db.read() as conn:
            row = await sql.one(conn, sa.select(staff).where(staff.c.id == staff_id))
        if row is None:
            raise not_found("staff", staff_id)
        return Staff.from_row(row)

    async def by_email(self, email: str) -> Staff:
        async with self.db.read() as conn:
            row = await sql.one(conn, sa.select(staff).where(staff.c.email == email.strip().lower()))
        if row is None:
            raise not_found("staff", email)
        return Staff.from_row(row)

    async def _change(self, staff_id: str, values: dict[str, Any], *, end: bool = False,
                      actor: Actor | None = None, action: str | None = None) -> Staff:
        now = self.clock.now()
        async with self.db.tx() as conn:
            row = await sql.one(conn, sa.select(staff).where(staff.c.id == staff_id).with_for_update())
            if row is None:
                raise not_found("staff", staff_id)
            values = {**values, "updated_at": now}
            await conn.execute(staff.update().where(staff.c.id == staff_id).values(values))
            if end:  # a new password or a disabled account signs every browser out
                await end_sessions(conn, staff_id, now)
            if actor is not None and action is not None:
                await record(conn, actor, action, row["email"], now)
        return replace(Staff.from_row(row), **values)

    async def disable(self, email: str, *, actor: Actor | None = None) -> Staff:
        s = await self.by_email(email)
        return await self._change(s.id, {"disabled_at": s.disabled_at or self.clock.now()}, end=True, actor=actor,
                                  action="staff.disabled")

    async def set_password(self, email: str, password: str, *, actor: Actor | None = None) -> Staff:
        s = await self.by_email(email)
        return await self._change(s.id, {"password_hash": passwords.hashed(password)}, end=True, actor=actor,
                                  action="staff.password_set")

    # --- the second factor ------------------------------------------------------------------
    async def totp_begin(self, staff_id: str) -> tuple[str, str]:
        """A new TOTP secret, kept (encrypted) but not yet required; the secret and its otpauth:// URI."""
        s = await self.get(staff_id)
        if s.totp_enabled:
            raise DomainError("conflict", "TOTP_ENABLED", "Two-factor sign-in is on already.")
        secret = pyotp.random_base32()
        await self._change(staff_id, {"totp_secret": self.cipher.encrypt(secret)})
        return secret, pyotp.TOTP(secret).provisioning_uri(name=s.email, issuer_name=ISSUER)

    def code_ok(self, s: Staff, code: str) -> bool:
        secret = self.cipher.decrypt(s.totp_secret) if s.totp_secret else None
        code = code.strip().replace(" ", "")
        return secret is not None and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)

    async def totp_enable(self, staff_id: str, code: str, actor: Actor) -> list[str]:
        """Turn the second factor on with a code from the new secret; the recovery codes, shown once."""
        s = await self.get(staff_id)
        if s.totp_enabled or not self.code_ok(s, code):
            raise DomainError("validation", "INVALID_CODE", "The code does not match; try the current one.")
        codes = passwords.recovery_codes()
        await self._change(staff_id, {"totp_enabled": True,
                                      "recovery_codes": [passwords.code_hash(c) for c in codes]},
                           actor=actor, action="staff.totp_enabled")
        return codes

    async def totp_disable(self, staff_id: str, actor: Actor) -> None:
        await self._change(staff_id, {"totp_enabled": False, "totp_secret": None, "recovery_codes": []},
                           actor=actor, action="staff.totp_disabled")
