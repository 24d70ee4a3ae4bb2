"""Prometheus metrics: what an operator watches to see a fault before a merchant does.

Two kinds, so that serving pays next to nothing for them:
- counted where the work happens, in the process that does it (a counter's `inc`, a histogram's `observe`): HTTP
  requests, PG calls, webhook delivery attempts, waits for a database connection. The core and the database
  report them through plain callables (`pg_call`, `webhook_delivery`, `db_wait`) and know nothing of Prometheus.
- read from the database when `/metrics` is scraped (`DatabaseView.read`), across every merchant and mode (the
  operator's view): the outbox's backlog, the deliveries due, the attempts in `unknown`, the keys in flight. Each is
  a count and an oldest row over an index, all in one statement, so a scrape stays cheap however big the tables
  (payments by status, the one family from before, still counts the whole table). Every process reading the same
  database shows the same values.

docs/operations.md lists the families; docs/grafana-dashboard.json and docs/prometheus-alerts.yml are built on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from gyeol.db.engine import Database
from gyeol.models import idempotency_keys, outbox_events, payment_attempts, payments, webhook_deliveries

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
# A PG answers in tens to hundreds of milliseconds; a call cut off by its timeout lands in the top buckets.
PG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30)

dl, ev, at, ik = webhook_deliveries.c, outbox_events.c, payment_attempts.c, idempotency_keys.c


def _backlog(now: datetime) -> sa.Select[Any]:
    """One round trip for every gauge of the backlogs, each over its own index: the deliveries due
    (ix_webhook_deliveries_due), the unpublished events (ix_outbox_events_unpublished, the oldest by `seq`), the
    attempts in `unknown` (ix_payment_attempts_open) and the keys held by a request (ix_idempotency_keys_holder)."""
    due = (dl.status == "pending", dl.next_attempt_at <= now)
    unpublished = ev.published_at.is_(None)
    unknown = at.status == "unknown"

    def scalar(q: sa.Select[Any], name: str) -> Any:
        return q.scalar_subquery().label(name)

    return sa.select(
        scalar(sa.select(sa.func.count()).select_from(webhook_deliveries).where(*due), "due"),
        scalar(sa.select(sa.func.min(dl.next_attempt_at)).where(*due), "oldest_due"),
        scalar(sa.select(sa.func.count()).select_from(outbox_events).where(unpublished), "unpublished"),
        scalar(sa.select(ev.created_at).where(unpublished).order_by(ev.seq).limit(1), "oldest_unpublished"),
        scalar(sa.select(sa.func.count()).select_from(payment_attempts).where(unknown), "unknown"),
        scalar(sa.select(sa.func.min(at.created_at)).where(unknown), "oldest_unknown"),
        scalar(sa.select(sa.func.count()).select_from(idempotency_keys).where(ik.holder.is_not(None)), "in_flight"),
    )


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


# The gauges read at scrape time: name, help, and how each is read from the row of `_backlog` and the time.
GAUGES: tuple[tuple[str, str, Callable[[Mapping[Any, Any], datetime], float]], ...] = (
    ("gyeol_webhook_deliveries_due", "Webhook deliveries due now and not yet sent",
     lambda row, now: row["due"] or 0),
    ("gyeol_webhook_oldest_due_age_seconds", "How long the longest-waiting due webhook delivery has been due",
     lambda row, now: _age(now, row["oldest_due"])),
    ("gyeol_outbox_backlog", "Events written and not yet published", lambda row, now: row["unpublished"] or 0),
    ("gyeol_outbox_oldest_unpublished_age_seconds", "Age of the oldest event not yet published",
     lambda row, now: _age(now, row["oldest_unpublished"])),
    ("gyeol_attempts_unknown", "Payment attempts whose outcome at the PG is unknown",
     lambda row, now: row["unknown"] or 0),
    ("gyeol_attempts_unknown_oldest_age_seconds", "Age of the oldest payment attempt in unknown",
     lambda row, now: _age(now, row["oldest_unknown"])),
    ("gyeol_idempotency_keys_in_flight", "Idempotency keys held by a request at work",
     lambda row, now: row["in_flight"] or 0),
)


class DatabaseView:
    """The database's gauges as last read (`read`), for the registry to collect. Nothing until a first read: a
    process that serves no `/metrics` (`gyeol worker`) shows its own counters only, never stale zeros."""

    def __init__(self) -> None:
        self.read_at: datetime | None = None
        self.by_status: list[tuple[str, int]] = []
        self.values: list[float] = []

    async def read(self, db: Database, now: datetime) -> None:
        async with db.read() as conn:
            by_status = (await conn.execute(sa.select(payments.c.status, sa.func.count())
                                            .group_by(payments.c.status))).all()
            row = (await conn.execute(_backlog(now))).mappings().one()
        self.by_status = [(status, count) for status, count in by_status]
        self.values = [value(row, now) for _, _, value in GAUGES]
        self.read_at = now

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("gyeol_payments", "Payments by status", labels=["status"])
        for name, doc, _ in GAUGES:
            yield GaugeMetricFamily(name, doc)

    def collect(self) -> Iterator[Metric]:
        if self.read_at is None:
            return
        payments_by_status = GaugeMetricFamily("gyeol_payments", "Payments by status", labels=["status"])
        for status, count in self.by_status:
            payments_by_status.add_metric([status], count)
        yield payments_by_status
        for (name, doc, _), value in zip(GAUGES, self.values, strict=True):
            yield GaugeMetricFamily(name, doc, value=value)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("gyeol_http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("gyeol_http_request_duration_seconds", "HTTP request latency", ["route"],
                                 registry=r, buckets=HTTP_BUCKETS)
        self.pg_calls = Counter(
            "gyeol_pg_calls_total", "Calls to a PG by connector, operation and outcome: succeeded (an answer), "
            "declined (a refusal), timeout (no answer it could read), unknown (an answer that tells no outcome yet)",
            ["connector", "operation", "outcome"], registry=r)
        self.pg_latency = Histogram("gyeol_pg_call_duration_seconds", "Time a PG took to answer a call, or to fail to",
                                    ["connector", "operation"], registry=r, buckets=PG_BUCKETS)
        self.deliveries = Counter(
            "gyeol_webhook_deliveries_total", "Webhook delivery attempts by outcome: succeeded, failed (to be "
            "retried), dead (no retry left, or the endpoint gone)", ["outcome"], registry=r)
        self.db_waits = Histogram("gyeol_db_connection_wait_seconds",
                                  "Waits for a database connection (none is counted when one is free at once)",
                                  ["pool"], registry=r, buckets=WAIT_BUCKETS)
        self.db_wait_timeouts = Counter("gyeol_db_connection_wait_timeouts_total",
                                        "Waits for a database connection that gave up (answered 503)", ["pool"],
                                        registry=r)
        self.database = DatabaseView()
        r.register(self.database)

    # --- reported where the work happens ------------------------------------------------------
    def pg_call(self, connector: str, operation: str, outcome: str, seconds: float) -> None:
        self.pg_calls.labels(connector, operation, outcome).inc()
        self.pg_latency.labels(connector, operation).observe(seconds)

    def webhook_delivery(self, outcome: str) -> None:
        self.deliveries.labels(outcome).inc()

    def db_wait(self, pool: str, seconds: float, gave_up: bool) -> None:
        self.db_waits.labels(pool).observe(seconds)
        if gave_up:
            self.db_wait_timeouts.labels(pool).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
