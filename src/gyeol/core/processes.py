"""This server process's identity and heartbeat, so that work a crashed process held can be taken over at once
instead of after a lease runs out. A process renews `process:<id>` in `job_leases` every few seconds and
removes it when it stops; a process whose row is missing or expired is gone."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog

from gyeol.core import leases
from gyeol.core.clock import Clock
from gyeol.db.engine import Conn, Database, database_unreachable
from gyeol.models import job_leases

log = structlog.get_logger(__name__)
PROCESS_ID = secrets.token_hex(8)
BEAT = timedelta(seconds=2)
TTL = timedelta(seconds=6)  # three beats missed: gone


def _name(process_id: str) -> str:
    return f"process:{process_id}"


async def beat(db: Database, clock: Clock) -> None:
    await leases.acquire(db, _name(PROCESS_ID), f"{socket.gethostname()[:40]}:{os.getpid()}", clock.now(), TTL)


async def heartbeat(db: Database, clock: Clock, stop: asyncio.Event,
                    each: Callable[[], Awaitable[object]] | None = None) -> None:
    """Beat until `stop` is set, then say goodbye; `each` runs after every beat."""
    while not stop.is_set():
        try:
            await beat(db, clock)
            if each is not None:
                await each()
        except Exception as exc:  # the database may be away for a while: beat again next time
            if database_unreachable(exc):
                log.warning("heartbeat_failed", error=type(exc).__name__)
            else:
                log.exception("heartbeat_failed")
        try:
            await asyncio.wait_for(stop.wait(), BEAT.total_seconds())
        except TimeoutError:
            pass
    try:
        async with db.tx() as conn:
            await conn.execute(job_leases.delete().where(job_leases.c.name == _name(PROCESS_ID)))
    except Exception as exc:  # the database is away: the row expires by itself (TTL)
        if not database_unreachable(exc):
            raise
        log.warning("heartbeat_goodbye_failed", error=type(exc).__name__)


async def alive(conn: Conn, process_id: str, now: datetime) -> bool:
    """Whether another process still beats (core.idempotency judges this process's own requests itself)."""
    q = sa.select(job_leases.c.expires_at).where(job_leases.c.name == _name(process_id))
    expires_at = (await conn.execute(q)).scalar()
    return expires_at is not None and expires_at > now


def beating_elsewhere(holder: sa.ColumnElement[str], now: datetime) -> sa.ColumnElement[bool]:
    """SQL: whether `holder` (`<process id>/<request>`) names another process that still beats."""
    process = sa.func.substr(holder, 1, len(PROCESS_ID))
    return sa.exists().where(job_leases.c.name == sa.literal("process:") + process, job_leases.c.expires_at > now,
                             process != PROCESS_ID)
