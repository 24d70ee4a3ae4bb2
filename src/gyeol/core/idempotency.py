"""Idempotency keys, Stripe's and brandur's way: the first completed response is kept and replayed, and a retry
of work that was cut short resumes it instead of repeating it.

A keyed request is served by `serve`, the one way to (the API guard's routes, the dashboard's actions): it binds
the request's key (`bind`) while the work runs. The service claims it explicitly, with `claim(conn, ...)`,
inside its first transaction that writes, together with what that transaction creates (the recovery point: a
payment, a refund). A request that finds the key taken there is rolled back and answered from the key's record.
A key whose holder process is gone, or whose request ended without an answer to keep, is resumed by the next retry:
the service finds its recovery point with `resumed(...)`, settles what the first try left open, and answers with it.
Only a hash of the request body is stored: bodies may carry card data. The response kept for replays is stored
encrypted, as account numbers are: an answer may show a virtual account's number.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
import structlog

from gyeol.core import processes
from gyeol.core.clock import Clock
from gyeol.crypto import PREFIX, DataCipher
from gyeol.db import commits, sql
from gyeol.db.engine import Conn, Database
from gyeol.models import idempotency_keys as ik

ClaimKind = Literal["acquired", "resumed", "replay", "mismatch", "in_progress"]
Resource = Literal["payment", "refund"]
# The claims a request is answered from instead of doing its work: another request's.
ANSWERED = ("replay", "mismatch", "in_progress")
R = TypeVar("R")
log = structlog.get_logger(__name__)


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


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] | None = None
    resource_type: str | None = None
    resource_id: str | None = None


@dataclass(frozen=True)
class Kept:
    """What a request answered, kept for its key's replays."""

    status: int
    body: bytes
    headers: dict[str, Any]


class KeyTaken(Exception):
    """Another request holds the key; its record says what to answer."""


@dataclass
class RequestKey:
    """The key of the request being served. `holder` names this request and its process (core.processes)."""

    req: Request
    store: IdempotencyStore
    holder: str = field(default_factory=lambda: f"{processes.PROCESS_ID}/{secrets.token_hex(6)}")
    resumed: Claim | None = None


_current: ContextVar[RequestKey | None] = ContextVar("gyeol_request_key", default=None)
_serving: set[str] = set()  # the holders of this process's requests in flight


@contextmanager
def bind(key: RequestKey) -> Iterator[None]:
    """Serve the request that holds `key` inside: its services claim the key, and its commits are counted (the
    tests' crash stop, `db.commits`)."""
    token = _current.set(key)
    _serving.add(key.holder)
    try:
        with commits.counted():
            yield
    finally:
        _serving.discard(key.holder)
        _current.reset(token)


async def _held(conn: Conn, holder: str, now: datetime) -> bool:
    """Whether the request that holds a key is still at work: one of this process's requests in flight, or one of
    another process that still beats."""
    process = holder.partition("/")[0]
    if process == processes.PROCESS_ID:
        return holder in _serving
    return await processes.alive(conn, process, now)


async def claim(conn: Conn, resource: Resource | None = None, resource_id: str | None = None) -> None:
    """Claim the request's key in this transaction, with what the transaction creates. A request without a key
    claims nothing; a key this request already holds only records the resource. Raises KeyTaken when another
    request holds it: the transaction is then rolled back."""
    key = _current.get()
    if key is None:
        return
    req, now = key.req, key.store.clock.now()
    row = {**key.store.fresh(req, key.holder), "resource_type": resource, "resource_id": resource_id}
    if await sql.insert_new(conn, ik, row):
        return
    found = await sql.one(conn, sa.select(ik.c.holder, ik.c.status).where(*req.where()).with_for_update())
    if found is None or found["holder"] != key.holder or found["status"] != "in_progress":
        raise KeyTaken()
    values: dict[str, Any] = {"locked_until": now + key.store.lease}
    if resource is not None:
        values |= {"resource_type": resource, "resource_id": resource_id}
    await conn.execute(ik.update().where(*req.where()).values(values))


def resumed(resource: Resource) -> str | None:
    """The id of the `resource` that this request's key created on an earlier try, when this is a retry."""
    key = _current.get()
    if key is None or key.resumed is None or key.resumed.resource_type != resource:
        return None
    return key.resumed.resource_id


async def serve(held: RequestKey, work: Callable[[], Awaitable[R]], kept: Callable[[R], Kept | None]) -> R | Claim:
    """Run `work`, a request under the key `held`: its services claim the key in their first transaction that
    writes. A key another request holds is answered from that request's record: the claim is returned (replay,
    mismatch, in_progress, `ANSWERED`) and this request changed nothing. A first try that was cut short is resumed
    (`resumed`). `kept(outcome)` is what to keep for the key's replays; None keeps nothing, and the key is let go
    for a retry."""
    store = held.store
    with bind(held):
        try:
            try:
                outcome = await work()
            except KeyTaken:
                claim = await store.take(held)
                if claim.kind in ANSWERED:
                    return claim
                held.resumed = claim
                outcome = await work()
        except BaseException:
            await _let_go(held)
            raise
        keep = kept(outcome)
        if keep is None:
            await _let_go(held)
        elif not await store.complete(held, keep.status, keep.body, keep.headers):
            # The request wrote nothing, so it claimed nothing, and another one claimed the key meanwhile.
            claim = await store.take(held)
            if claim.kind in ANSWERED:
                return claim
            await store.complete(held, keep.status, keep.body, keep.headers)
    return outcome


async def _let_go(held: RequestKey) -> None:
    # Best effort: the database may be what failed. A key left held by a request that has ended is resumed by the
    # next retry all the same (`IdempotencyStore.take`).
    try:
        await held.store.release(held)
    except Exception:
        log.warning("idempotency_release_failed", key=held.req.key)


class IdempotencyStore:
    def __init__(self, db: Database, clock: Clock, *, ttl: timedelta, lease: timedelta,
                 cipher: DataCipher | None = None) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.lease = lease
        self.cipher = cipher

    def _sealed(self, body: bytes) -> bytes:
        if self.cipher is None:
            return body
        return str(self.cipher.encrypt(body.decode("latin-1"))).encode()

    def _opened(self, stored: bytes | None) -> bytes | None:
        if stored is None or self.cipher is None or not stored.startswith(PREFIX.encode()):
            return stored  # kept before responses were sealed
        return str(self.cipher.decrypt(stored.decode())).encode("latin-1")

    def fresh(self, req: Request, holder: str | None) -> dict[str, Any]:
        now = self.clock.now()
        return {"merchant_id": req.merchant_id, "caller": req.caller, "key": req.key, "method": req.method,
                "path": req.path, "request_hash": req.request_hash, "status": "in_progress", "response_status": None,
                "response_body": None, "response_headers": None, "locked_until": now + self.lease, "holder": holder,
                "resource_type": None, "resource_id": None, "expires_at": now + self.ttl, "created_at": now}

    async def take(self, key: RequestKey) -> Claim:
        """The key as another request left it; or this request's, when it is free or its holder is gone."""
        req, now = key.req, self.clock.now()
        async with self.db.tx() as conn:
            found = await sql.one(conn, sa.select(ik).where(*req.where()).with_for_update())
            if found is None or found["expires_at"] <= now:
                # Purged or expired meanwhile: the key is new again.
                await conn.execute(ik.delete().where(*req.where()))
                await sql.insert(conn, ik, self.fresh(req, key.holder))
                return Claim("acquired")
            if (found["method"], found["path"], found["request_hash"]) != (req.method, req.path, req.request_hash):
                return Claim("mismatch")
            if found["status"] == "completed":
                return Claim("replay", found["response_status"], self._opened(found["response_body"]),
                             found["response_headers"])
            holder = found["holder"]
            if holder is not None and found["locked_until"] > now and await _held(conn, holder, now):
                return Claim("in_progress")
            # The first try ended without an answer to keep, or its process died: resume its work.
            await conn.execute(ik.update().where(*req.where()).values(holder=key.holder,
                                                                      locked_until=now + self.lease))
            return Claim("resumed", resource_type=found["resource_type"], resource_id=found["resource_id"])

    async def complete(self, key: RequestKey, status: int, body: bytes, headers: dict[str, Any]) -> bool:
        """Keep the response. A key the request never claimed (it wrote nothing) is claimed and completed in one
        write; False if another request holds it by then."""
        completed = {"status": "completed", "response_status": status, "response_body": self._sealed(body),
                     "response_headers": headers, "locked_until": None, "holder": None}
        async with self.db.autocommit() as conn:
            req = key.req
            if await sql.update(conn, ik, completed, merchant_id=req.merchant_id, caller=req.caller, key=req.key,
                                holder=key.holder) == 1:
                return True
            return await sql.insert_new(conn, ik, {**self.fresh(key.req, None), **completed})

    async def release(self, key: RequestKey) -> None:
        """The request ended without an answer to keep (an error, a PG timeout). A key whose work created
        something stays, free for the next retry to resume at once; one whose work created nothing is forgotten."""
        mine = (*key.req.where(), ik.c.holder == key.holder, ik.c.status == "in_progress")
        async with self.db.tx() as conn:
            await conn.execute(ik.delete().where(*mine, ik.c.resource_id.is_(None)))
            await conn.execute(ik.update().where(*mine).values(holder=None))

    async def orphans(self, limit: int = 100) -> list[dict[str, Any]]:
        """Keys whose work created something and whose holder process is gone: that work is to be settled."""
        # Other processes' first: this process's own are its requests in flight, but for the rare one that ended
        # without an answer, and there may be more of them than `limit`.
        mine = sa.func.substr(ik.c.holder, 1, len(processes.PROCESS_ID)) == processes.PROCESS_ID
        q = sa.select(ik).where(ik.c.status == "in_progress", ik.c.resource_id.is_not(None),
                                ik.c.holder.is_not(None), ~processes.beating_elsewhere(ik.c.holder, self.clock.now())
                                ).order_by(mine).limit(limit)
        async with self.db.read() as conn:
            rows = await sql.rows(conn, q)
        return [r for r in rows if r["holder"] not in _serving]

    async def free(self, row: dict[str, Any]) -> bool:
        """Free an orphaned key for its client's retry; False if someone took it over meanwhile."""
        async with self.db.tx() as conn:
            q = ik.update().where(ik.c.merchant_id == row["merchant_id"], ik.c.caller == row["caller"],
                                  ik.c.key == row["key"], ik.c.holder == row["holder"]).values(holder=None)
            return bool((await conn.execute(q)).rowcount == 1)

    async def purge(self) -> int:
        async with self.db.tx() as conn:
            res = await conn.execute(ik.delete().where(ik.c.expires_at <= self.clock.now()))
        return int(res.rowcount or 0)
