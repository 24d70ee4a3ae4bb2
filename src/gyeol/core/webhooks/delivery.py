"""Delivering events to merchants' endpoints, in the Standard Webhooks format, at least once.

A worker claims due deliveries by pushing their `next_attempt_at` forward by a lease, so any number of workers
share the work and a killed worker's claims come back when the lease runs out. Retries follow SCHEDULE with
jitter; after the last one a delivery is `dead`. An endpoint that has failed without a single success for 5 days
is disabled, with an `endpoint.disabled` event.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog
from standardwebhooks.webhooks import Webhook

from gyeol.core.clock import Clock
from gyeol.core.errors import DomainError
from gyeol.core.events import outbox
from gyeol.core.webhooks import repository as repo
from gyeol.core.webhooks.ssrf import Resolver, check_url, system_resolver
from gyeol.crypto import DataCipher
from gyeol.db.engine import Conn, Database

log = structlog.get_logger(__name__)
Row = dict[str, Any]

# Seconds before each attempt: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
DISABLE_AFTER = timedelta(days=5)
EXCERPT = 500


def signature(secrets: list[str], msg_id: str, at: datetime, body: str) -> str:
    """`v1,<sig>` for each live secret, space-separated, as Standard Webhooks allows during a rotation."""
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)


@dataclass
class Result:
    d: Row
    status: str  # succeeded | pending (retry) | dead
    code: int | None = None
    excerpt: str | None = None
    error: str | None = None
    next_at: datetime | None = None
    counts: bool = True  # an attempt was made (not so for an endpoint disabled meanwhile)


class WebhookDispatcher:
    def __init__(self, db: Database, clock: Clock, cipher: DataCipher, *, resolver: Resolver = system_resolver,
                 retry_scale: float = 1.0, lease: timedelta = timedelta(seconds=60), timeout: float = 10.0,
                 concurrency: int = 16, observe: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.observe = observe  # told each attempt's outcome once it is recorded: succeeded, failed or dead
        self.clock = clock
        self.cipher = cipher
        self.resolver = resolver
        self.retry_scale = retry_scale
        self.lease = lease
        self.concurrency = concurrency
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                                        limits=httpx.Limits(max_connections=concurrency))

    async def run_once(self, limit: int = 500) -> dict[str, int]:
        """Claim due deliveries, send them concurrently, then record every result in one transaction."""
        claimed = await self._claim(limit)
        if not claimed:
            return {"delivered": 0, "failed": 0, "dead": 0}
        sem = asyncio.Semaphore(self.concurrency)

        async def one(d: Row) -> Result:
            async with sem:
                return await self._send(d)

        results = await asyncio.gather(*(one(d) for d in claimed))
        await self._record(results)
        outcome = {"delivered": 0, "failed": 0, "dead": 0}
        for r in results:
            outcome[{"succeeded": "delivered", "pending": "failed", "dead": "dead"}[r.status]] += 1
            if self.observe is not None:
                self.observe("failed" if r.status == "pending" else r.status)
        return outcome

    async def _claim(self, limit: int) -> list[Row]:
        now = self.clock.now()
        async with self.db.read() as conn:  # nothing due, the usual case: no write transaction
            if not await repo.any_due(conn, now):
                return []
        async with self.db.tx() as conn:
            claimed = await repo.claim_due(conn, now, now + self.lease, limit)
        return claimed

    async def _send(self, d: Row) -> Result:
        if not d["enabled"]:
            return Result(d, "dead", error="endpoint disabled", counts=False)
        now = self.clock.now()
        body = orjson.dumps(d["payload"]).decode()
        secrets = [self.cipher.decrypt(d["secret"]) or ""]
        if d["previous_secret"] and d["previous_secret_expires_at"] and d["previous_secret_expires_at"] > now:
            secrets.append(self.cipher.decrypt(d["previous_secret"]) or "")
        sent_at = datetime.now(UTC)  # the receiver checks the timestamp against its wall clock
        headers = {"content-type": "application/json", "user-agent": "Gyeol-Webhooks/1",
                   "webhook-id": d["event_id"], "webhook-timestamp": str(int(sent_at.timestamp())),
                   "webhook-signature": signature(secrets, d["event_id"], sent_at, body)}
        code: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            await check_url(d["url"], bool(d["livemode"]), self.resolver)  # again: DNS may have changed
            response = await self.client.post(d["url"], content=body, headers=headers)
            code, excerpt = response.status_code, response.text[:EXCERPT]
        except DomainError as err:
            error = str(err.details.get("reason") or err.code)
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        if code is not None and 200 <= code < 300:
            return Result(d, "succeeded", code=code, excerpt=excerpt)
        error = error or f"HTTP {code}"
        if d["attempts"] + 1 >= len(SCHEDULE):
            return Result(d, "dead", code=code, excerpt=excerpt, error=error)
        delay = SCHEDULE[d["attempts"] + 1] * self.retry_scale * random.uniform(0.85, 1.15)  # noqa: S311 - jitter
        return Result(d, "pending", code=code, excerpt=excerpt, error=error,
                      next_at=self.clock.now() + timedelta(seconds=delay))

    async def _record(self, results: list[Result]) -> None:
        now = self.clock.now()
        async with self.db.tx() as conn:
            for r in results:
                await repo.finish_attempt(conn, r.d["id"], {
                    "status": r.status, "attempts": r.d["attempts"] + r.counts, "next_attempt_at": r.next_at,
                    "last_status_code": r.code, "last_error": r.error, "last_response_excerpt": r.excerpt,
                    "delivered_at": now if r.status == "succeeded" else None, "updated_at": now})
            # Each endpoint's failure streak, written only when it changes: any success ends it, failures only
            # start it; 5 days of nothing but failures disables the endpoint.
            by_endpoint: dict[str, list[Result]] = {}
            for r in results:
                if r.counts:
                    by_endpoint.setdefault(r.d["endpoint_id"], []).append(r)
            for endpoint_id, rs in by_endpoint.items():
                failing_since = rs[0].d["failing_since"]
                if any(r.status == "succeeded" for r in rs):
                    if failing_since is not None:
                        await repo.end_failing(conn, endpoint_id)
                elif failing_since is None:
                    await repo.start_failing(conn, endpoint_id, now)
                elif failing_since <= now - DISABLE_AFTER:
                    await self._disable(conn, rs[0].d["merchant_id"], endpoint_id, now)

    async def _disable(self, conn: Conn, merchant_id: str, endpoint_id: str, now: datetime) -> None:
        if await repo.disable_failing(conn, endpoint_id, now - DISABLE_AFTER, "failing_for_5_days", now):
            endpoint = await repo.get_endpoint_any(conn, endpoint_id)
            assert endpoint is not None  # endpoints are never deleted, only marked so
            await outbox.add(conn, merchant_id=merchant_id, type="endpoint.disabled", obj=endpoint,
                             resource_id=endpoint_id, now=now)
            log.warning("webhook_endpoint_disabled", endpoint_id=endpoint_id)

    async def aclose(self) -> None:
        await self.client.aclose()
