"""Idempotency keys, Stripe's way: the first completed response is kept and replayed.

A key is claimed in the request's first write transaction, with the payment it creates, not in one of its
own; a request that finds it taken there is rolled back and answered from the key's record. Only a hash of the
request body is stored: bodies may carry card data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gyeol.core.clock import Clock
from gyeol.db import prepared
from gyeol.db.engine import Database, FirstWrite
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


class KeyTaken(Exception):
    """Another request claimed the key first; its record says what to answer."""


@dataclass(frozen=True)
class Request:
    merchant_id: str
    caller: str
    key: str
    method: str
    path: str
    request_hash: str

    def where(self) -> tuple[Any, ...]:
        return ik.c.merchant_id == self.merchant_id, ik.c.caller == self.caller, ik.c.key == self.key

    def params(self) -> dict[str, str]:
        return {"w_merchant_id": self.merchant_id, "w_caller": self.caller, "w_key": self.key}


class PendingClaim(FirstWrite):
    """The key, claimed in the request's first write transaction (Stripe's and Brandur's atomic phase): a key
    claimed by nobody costs no commit of its own, and a request that writes nothing claims nothing."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    async def write(self, conn: AsyncConnection) -> None:
        await prepared.write(conn, INSERT, self.row, taken=KeyTaken)


class IdempotencyStore:
    def __init__(self, db: Database, clock: Clock, *, ttl: timedelta, lease: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.lease = lease

    def _row(self, req: Request) -> dict[str, Any]:
        now = self.clock.now()
        return {"merchant_id": req.merchant_id, "caller": req.caller, "key": req.key, "method": req.method,
                "path": req.path, "request_hash": req.request_hash, "status": "in_progress", "response_status": None,
                "response_body": None, "response_headers": None, "locked_until": now + self.lease,
                "expires_at": now + self.ttl, "created_at": now}

    def pending(self, req: Request) -> PendingClaim:
        """A claim to write with the request's first write (bind it with `bound()`); `claim` is the way on
        when that write finds the key taken."""
        return PendingClaim(self._row(req))

    async def claim(self, req: Request) -> Claim:
        """The key as another request left it, or this request's own when it is free again."""
        now = self.clock.now()
        async with self.db.tx() as conn:
            found = (await conn.execute(sa.select(ik).where(*req.where()).with_for_update())).mappings().first()
            if found is None or found["expires_at"] <= now:
                # Purged or expired meanwhile: the key is new again.
                await conn.execute(ik.delete().where(*req.where()))
                await prepared.execute(conn, INSERT, self._row(req))
                return Claim("acquired")
            if (found["method"], found["path"], found["request_hash"]) != (req.method, req.path, req.request_hash):
                return Claim("mismatch")
            if found["status"] == "completed":
                return Claim("replay", found["response_status"], found["response_body"], found["response_headers"])
            if found["locked_until"] is not None and found["locked_until"] > now:
                return Claim("in_progress")
            # The first request's process died: take the key over.
            await conn.execute(ik.update().where(*req.where()).values(locked_until=now + self.lease))
            return Claim("resumed")

    async def complete(self, req: Request, status: int, body: bytes, headers: dict[str, Any], *,
                       claimed: bool) -> bool:
        """Keep the response. A key not yet claimed (the request wrote nothing) is claimed and completed in one
        write; False if another request holds it by then."""
        completed = {"status": "completed", "response_status": status, "response_body": body,
                     "response_headers": headers, "locked_until": None}
        async with self.db.autocommit() as conn:
            if claimed:
                await prepared.execute(conn, COMPLETE, {**completed, **req.params()})
                return True
            try:
                await prepared.execute(conn, INSERT, {**self._row(req), **completed})
            except IntegrityError:
                return False
        return True

    async def release(self, req: Request) -> None:
        async with self.db.tx() as conn:
            await conn.execute(ik.delete().where(*req.where(), ik.c.status == "in_progress"))

    async def purge(self) -> int:
        async with self.db.tx() as conn:
            res = await conn.execute(ik.delete().where(ik.c.expires_at <= self.clock.now()))
        return int(res.rowcount or 0)
