"""Idempotency keys, Stripe's way: the first completed response is kept and replayed.

Only a hash of the request body is stored: bodies may carry card data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.core.clock import Clock
from gyeol.db import prepared
from gyeol.db.engine import Database
from gyeol.models import idempotency_keys as ik

INSERT = prepared.insert_of(ik, ("merchant_id", "caller", "key", "method", "path", "request_hash", "status",
                                 "response_status", "response_body", "response_headers", "locked_until",
                                 "expires_at", "created_at"))
COMPLETE = prepared.update_of(ik, ("status", "response_status", "response_body", "response_headers", "locked_until"),
                              ("merchant_id", "caller", "key"))

ClaimKind = Literal["acquired", "resumed", "replay", "mismatch", "in_progress"]


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] | None = None


class IdempotencyStore:
    def __init__(self, db: Database, clock: Clock, *, ttl: timedelta, lease: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.lease = lease

    async def claim(self, merchant_id: str, caller: str, key: str, method: str, path: str,
                    request_hash: str) -> Claim:
        now = self.clock.now()
        row = {"merchant_id": merchant_id, "caller": caller, "key": key, "method": method, "path": path,
               "request_hash": request_hash, "status": "in_progress", "response_status": None,
               "response_body": None, "response_headers": None, "locked_until": now + self.lease,
               "expires_at": now + self.ttl, "created_at": now}
        try:
            async with self.db.autocommit() as conn:
                await prepared.execute(conn, INSERT, row)
            return Claim("acquired")
        except IntegrityError:
            pass
        where = (ik.c.merchant_id == merchant_id, ik.c.caller == caller, ik.c.key == key)
        async with self.db.tx() as conn:
            found = (await conn.execute(sa.select(ik).where(*where).with_for_update())).mappings().first()
            if found is None or found["expires_at"] <= now:
                # Purged or expired meanwhile: the key is new again.
                await conn.execute(ik.delete().where(*where))
                await conn.execute(ik.insert().values(**row))
                return Claim("acquired")
            if (found["method"], found["path"], found["request_hash"]) != (method, path, request_hash):
                return Claim("mismatch")
            if found["status"] == "completed":
                return Claim("replay", found["response_status"], found["response_body"], found["response_headers"])
            if found["locked_until"] is not None and found["locked_until"] > now:
                return Claim("in_progress")
            # The first request's process died: take the key over.
            await conn.execute(ik.update().where(*where).values(locked_until=now + self.lease))
            return Claim("resumed")

    async def complete(self, merchant_id: str, caller: str, key: str, status: int, body: bytes,
                       headers: dict[str, Any]) -> None:
        async with self.db.autocommit() as conn:
            await prepared.execute(conn, COMPLETE, {
                "status": "completed", "response_status": status, "response_body": body,
                "response_headers": headers, "locked_until": None,
                "w_merchant_id": merchant_id, "w_caller": caller, "w_key": key})

    async def release(self, merchant_id: str, caller: str, key: str) -> None:
        async with self.db.tx() as conn:
            await conn.execute(ik.delete().where(ik.c.merchant_id == merchant_id, ik.c.caller == caller,
                                                 ik.c.key == key, ik.c.status == "in_progress"))

    async def purge(self) -> int:
        async with self.db.tx() as conn:
            res = await conn.execute(ik.delete().where(ik.c.expires_at <= self.clock.now()))
        return int(res.rowcount or 0)
