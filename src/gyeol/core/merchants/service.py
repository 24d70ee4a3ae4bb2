"""Merchants and their secret keys. A key is shown once; only its keyed hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.core.clock import Clock, iso
from gyeol.core.errors import DomainError, not_found
from gyeol.core.ledger import accounts as ledger_accounts
from gyeol.core.merchants import pg_accounts
from gyeol.core.staff import audit
from gyeol.crypto import DataCipher
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.ids import new_id
from gyeol.models import api_keys, merchants

KEY_PREFIXES = {"test": "test_sk_", "live": "live_sk_"}
DEFAULT_NAME = "default"
MAX_NAME = 200


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    merchant_id: str
    mode: str
    key_hash: str


class KeyHasher:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def hash(self, key: str) -> str:
        return hmac.new(self.secret, key.encode(), hashlib.sha256).hexdigest()


def mode_of(key: str) -> str | None:
    for mode, prefix in KEY_PREFIXES.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            return mode
    return None


class MerchantService:
    def __init__(self, db: Database, clock: Clock, hasher: KeyHasher) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher

    async def create(self, name: str, *, test_key: str | None = None) -> tuple[dict[str, Any], str]:
        """Create a merchant and its first test key; returns the key in clear, once."""
        now = self.clock.now()
        merchant: dict[str, Any] = {"id": new_id("mer"), "name": _checked_name(name), "settings": {},
                                    "created_at": now}
        if name == DEFAULT_NAME:  # any other is not (the column's default), as in a database of before 0008
            merchant["is_default"] = True
        key = test_key or KEY_PREFIXES["test"] + secrets.token_urlsafe(24)
        if mode_of(key) != "test":
            raise DomainError("validation", "INVALID_KEY", "A test secret key starts with 'test_sk_'.")
        try:
            async with self.db.tx() as conn:
                await conn.execute(merchants.insert().values(**merchant))
                await conn.execute(api_keys.insert().values(**self._key_row(merchant["id"], key, now)))
                await sql.write_all(conn, [ledger_accounts.opening(merchant["id"], now)])
        except IntegrityError:
            raise DomainError("conflict", "MERCHANT_EXISTS", f"A merchant named '{name}' already exists.") from None
        return merchant, key

    async def ensure_default(self, test_key: str | None) -> tuple[dict[str, Any], str | None]:
        """Create the `default` merchant when there is none. Returns the new key only if generated."""
        async with self.db.read() as conn:
            existing = (await conn.execute(sa.select(merchants).order_by(merchants.c.created_at).limit(1))
                        ).mappings().first()
        if existing is not None:
            if test_key and await self.find_key(test_key) is None:
                # GYEOL_TEST_SECRET_KEY names the default merchant's key even on an older database.
                async with self.db.tx() as conn:
                    await conn.execute(api_keys.insert().values(**self._key_row(existing["id"], test_key,
                                                                                self.clock.now())))
            return dict(existing), None
        try:
            merchant, key = await self.create(DEFAULT_NAME, test_key=test_key)
        except DomainError:  # another process created it first
            return await self.default(), None
        return merchant, (None if test_key else key)

    async def create_key(self, merchant_id: str, mode: str = "test", *,
                         note: audit.AuditNote | None = None) -> tuple[dict[str, Any], str]:
        """A new key, returned in clear once; `note`: the staff member's, recorded with it (here and in each change
        below)."""
        key = KEY_PREFIXES[mode] + secrets.token_urlsafe(24)
        now = self.clock.now()
        row = self._key_row(merchant_id, key, now)
        async with self.db.tx() as conn:
            await conn.execute(api_keys.insert().values(**row))
            await audit.write(conn, note, now, target=row["id"], mode=mode, prefix=row["prefix"])
        return self._key_view(row), key

    async def revoke_key(self, key_id: str, merchant_id: str | None = None, *,
                         note: audit.AuditNote | None = None) -> dict[str, Any]:
        """Revoke a key; `merchant_id`: only if it is that merchant's (another's is not found)."""
        mine = [api_keys.c.id == key_id] + ([api_keys.c.merchant_id == merchant_id] if merchant_id else [])
        now = self.clock.now()
        async with self.db.tx() as conn:
            res = await conn.execute(api_keys.update().where(*mine, api_keys.c.revoked_at.is_(None))
                                     .values(revoked_at=now))
            row = (await conn.execute(sa.select(api_keys).where(*mine))).mappings().first()
            if res.rowcount == 1 and row is not None:
                await audit.write(conn, note, now, target=key_id, mode=row["mode"], prefix=row["prefix"])
        if row is None:
            raise not_found("key", key_id)
        if res.rowcount == 0:
            raise DomainError("conflict", "ALREADY_REVOKED", "The key is already revoked.")
        return self._key_view(dict(row))

    async def list_keys(self, merchant_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(api_keys).order_by(api_keys.c.created_at)
        if merchant_id:
            q = q.where(api_keys.c.merchant_id == merchant_id)
        async with self.db.read() as conn:
            return [self._key_view(dict(r)) for r in (await conn.execute(q)).mappings()]

    async def list(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(merchants).order_by(merchants.c.created_at))).mappings().all()
        return [dict(r) for r in rows]

    async def get(self, merchant_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(merchants).where(merchants.c.id == merchant_id))).mappings().first()
        if row is None:
            raise not_found("merchant", merchant_id)
        return dict(row)

    async def default(self) -> dict[str, Any]:
        """The merchant created as `default`, even renamed: the one a request that names no merchant is for."""
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(merchants).where(merchants.c.is_default)
                                      .order_by(merchants.c.created_at).limit(1))).mappings().first()
        if row is None:
            raise not_found("merchant", DEFAULT_NAME)
        return dict(row)

    async def rename(self, merchant_id: str, name: str, *, note: audit.AuditNote | None = None) -> dict[str, Any]:
        """A merchant's new name: what its buyers see on the checkout and on receipts."""
        name = _checked_name(name)
        try:
            async with self.db.tx() as conn:
                res = await conn.execute(merchants.update().where(merchants.c.id == merchant_id).values(name=name))
                if res.rowcount == 1:
                    await audit.write(conn, note, self.clock.now(), name=name)
        except IntegrityError:
            raise DomainError("conflict", "MERCHANT_EXISTS", f"A merchant named '{name}' already exists.") from None
        if res.rowcount == 0:
            raise not_found("merchant", merchant_id)
        return await self.get(merchant_id)

    async def get_by_name(self, name_or_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(merchants).where(
                sa.or_(merchants.c.name == name_or_id, merchants.c.id == name_or_id)))).mappings().first()
        if row is None:
            raise not_found("merchant", name_or_id)
        return dict(row)

    async def update_settings(self, merchant_id: str, changes: dict[str, Any], *,
                              note: audit.AuditNote | None = None) -> dict[str, Any]:
        async with self.db.tx() as conn:
            q = sa.select(merchants).where(merchants.c.id == merchant_id).with_for_update()
            row = (await conn.execute(q)).mappings().first()
            if row is None:
                raise not_found("merchant", merchant_id)
            settings = {**(row["settings"] or {}), **changes}
            await conn.execute(merchants.update().where(merchants.c.id == merchant_id).values(settings=settings))
            await audit.write(conn, note, self.clock.now())
        return {**dict(row), "settings": settings}

    async def set_pg_secret(self, merchant_id: str, connector: str, secret: str, cipher: DataCipher, *,
                            note: audit.AuditNote | None = None) -> None:
        """Keep a merchant's secret key at a PG, encrypted (unchanged, and nothing recorded, when it is the one kept
        already)."""
        settings = (await self.get(merchant_id)).get("settings") or {}
        if pg_accounts.secret_key(settings, connector, cipher) != secret:
            await self.update_settings(merchant_id, {"pg": pg_accounts.with_secret_key(settings, connector, secret,
                                                                                       cipher)}, note=note)

    async def find_key(self, key: str) -> KeyRecord | None:
        digest = self.hasher.hash(key)
        async with self.db.read() as conn:
            row = (await conn.execute(
                sa.select(api_keys.c.id, api_keys.c.merchant_id, api_keys.c.mode, api_keys.c.key_hash)
                .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)))).first()
        # The index found the row by hash; compare in constant time all the same.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return KeyRecord(row.id, row.merchant_id, row.mode, row.key_hash)

    def _key_row(self, merchant_id: Any, key: str, now: Any) -> dict[str, Any]:
        mode = mode_of(key)
        assert mode is not None
        return {"id": new_id("key"), "merchant_id": merchant_id, "mode": mode, "key_hash": self.hasher.hash(key),
                "prefix": key[:12] + "…", "revoked_at": None, "created_at": now}

    @staticmethod
    def _key_view(row: dict[str, Any]) -> dict[str, Any]:
        return {"keyId": row["id"], "merchantId": row["merchant_id"], "mode": row["mode"], "prefix": row["prefix"],
                "revokedAt": iso(row["revoked_at"]), "createdAt": iso(row["created_at"])}


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise DomainError("validation", "INVALID_NAME",
                          f"A merchant's name is 1 to {MAX_NAME} printable characters.")
    return name
