"""`/metrics` after a workload with faults, against a real server process on SQLite and PostgreSQL: each family
moves (issue 28, part 5). And the dashboard and the alerting rules in docs/ name only metrics that exist, and cover
every family."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from gyeol.metrics import Metrics
from procs import Server, free_port, gyeol_env, run_cli, start_worker
from receiver import Received, Receiver

DOCS = Path(__file__).resolve().parents[1] / "docs"
KEY = "test_sk_metrics"
AUTH = {"Authorization": f"Bearer {KEY}"}
BORROWERS = 30  # the PostgreSQL connections one process lends at most (db/engine.py: a pool of 20, 10 more)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def exported() -> dict[str, set[str]]:
    """Each family Gyeol exports, with the names of its samples in the text format."""
    m = Metrics()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {f.name: {f.name + s for s in suffixes[f.type]}
            for f in (*m.registry.collect(), *m.database.describe())}


def _family(sample: str, families: dict[str, set[str]]) -> str | None:
    return next((f for f, names in families.items() if sample in names), None)


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(c: httpx.AsyncClient, url: str) -> Samples:
    r = await c.get(url)
    assert r.status_code == 200, r.text
    return parse(r.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


async def until(check: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    """Poll `check` (awaited) until it gives something true; fail naming `what` past `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def _fail_twice() -> Callable[[Received], int]:
    """A merchant's endpoint that fails the first two attempts of each event and takes the third."""
    tries: Counter[str] = Counter()

    def answer(got: Received) -> int:
        tries[got.headers["webhook-id"]] += 1
        return 500 if tries[got.headers["webhook-id"]] <= 2 else 200
    return answer


def _pay(c: httpx.AsyncClient, token: str = "tok_visa", **headers: str) -> Any:
    return c.post("/api/v1/payments/intent", headers=headers, json={
        "orderId": "m-" + uuid.uuid4().hex[:16], "amount": 5000, "currency": "KRW", "confirm": True,
        "methodOptions": {"token": token}})


class HeldLock:
    """Another client of the database holds what every payment writes: Gyeol's requests queue behind it, holding
    their connections (PostgreSQL) or the process's one writer (SQLite), and the rest wait for one."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.pg: psycopg.Connection[Any] | None = None
        self.sqlite: sqlite3.Connection | None = None

    def __enter__(self) -> HeldLock:
        url = make_url(self.db_url)
        if url.drivername.startswith("sqlite"):
            self.sqlite = sqlite3.connect(str(url.database), isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
        else:
            self.pg = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
            self.pg.execute("LOCK TABLE payments IN SHARE MODE")
        return self

    def blocked(self) -> int:
        """PostgreSQL backends waiting on a lock (SQLite cannot tell)."""
        assert self.pg is not None
        # The activity view is read once per transaction unless its snapshot is dropped: this one holds the lock.
        self.pg.execute("SELECT pg_stat_clear_snapshot()")
        row = self.pg.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND wait_event_type = 'Lock'").fetchone()
        return int(row[0]) if row else 0

    def __exit__(self, *exc: object) -> None:
        if self.sqlite is not None:
            self.sqlite.execute("ROLLBACK")
            self.sqlite.close()
        if self.pg is not None:
            self.pg.rollback()
            self.pg.close()


async def _connection_waits(c: httpx.AsyncClient, db_url: str) -> None:
    """More payments at once than the database can take while another client holds its lock."""
    with HeldLock(db_url) as lock:
        many = BORROWERS + 10 if lock.pg is not None else 8
        sent = [asyncio.create_task(_pay(c)) for _ in range(many)]
        if lock.pg is not None:
            await until(lambda: asyncio.to_thread(lambda: lock.blocked() >= BORROWERS),
                        f"{BORROWERS} requests blocked on the lock, each holding a connection")
        await asyncio.sleep(1.5)  # the rest reach the wait for a connection (or for the writer)
    answers = await asyncio.gather(*sent)
    assert [r.status_code for r in answers] == [200] * many, [r.text for r in answers if r.status_code != 200]


async def _keys_in_flight(c: httpx.AsyncClient, metrics_url: str) -> float:
    """The most keys seen held while PG calls take 2 s (the sandbox's `slow` fault)."""
    sent = [asyncio.create_task(_pay(c, **{"Gyeol-Sandbox-Fault": "slow", "Idempotency-Key": uuid.uuid4().hex}))
            for _ in range(3)]
    seen = 0.0
    while not all(t.done() for t in sent):
        seen = max(seen, total(await scrape(c, metrics_url), "gyeol_idempotency_keys_in_flight"))
        await asyncio.sleep(0.05)
    assert [t.result().status_code for t in sent] == [200] * 3
    return seen


async def test_each_metric_moves_under_faults(db_url: str, tmp_path: Path) -> None:
    env = gyeol_env(db_url, tmp_path / "var", GYEOL_TEST_SECRET_KEY=KEY, GYEOL_WEBHOOK_RETRY_SCALE="0.01")
    async with Receiver(answer=_fail_twice()) as rx:
        with Server(env) as s:
            s.wait_ready()
            metrics = s.url + "/metrics"
            async with httpx.AsyncClient(base_url=s.url, headers=AUTH, timeout=60) as c:
                before = await scrape(c, metrics)
                r = await c.post("/api/v1/webhook-endpoints", json={"url": rx.url, "events": ["*"]})
                assert r.status_code == 200, r.text

                # PG calls of each outcome: paid, declined by the card, the PG's error, its answer lost.
                for token in ("tok_visa", "tok_visa", "tok_chargeDeclined"):
                    assert (await _pay(c, token)).status_code in (200, 402)
                assert (await _pay(c, **{"Gyeol-Sandbox-Fault": "error"})).status_code in (200, 402)
                for _ in range(2):
                    assert (await _pay(c, **{"Gyeol-Sandbox-Fault": "timeout"})).status_code == 504
                paid = (await _pay(c)).json()
                r = await c.post("/api/v1/refunds", json={"paymentId": paid["paymentId"], "amount": 1000})
                assert r.status_code == 200, r.text
                in_flight = await _keys_in_flight(c, metrics)
                await _connection_waits(c, db_url)
                after = await scrape(c, metrics)

                families = exported()
                assert [n for n, _ in after if not n.endswith("_created") and _family(n, families) is None] == []
                for outcome in ("succeeded", "declined", "timeout"):
                    assert moved(before, after, "gyeol_pg_calls_total", connector="sandbox", operation="authorize",
                                 outcome=outcome) >= 1, outcome
                assert moved(before, after, "gyeol_pg_calls_total", operation="refund", outcome="succeeded") == 1
                assert moved(before, after, "gyeol_pg_call_duration_seconds_count", operation="authorize") >= 6
                assert total(after, "gyeol_attempts_unknown") == 2
                assert total(after, "gyeol_attempts_unknown_oldest_age_seconds") > 0
                backlog = total(after, "gyeol_outbox_backlog")
                assert backlog > total(before, "gyeol_outbox_backlog")
                assert total(after, "gyeol_outbox_oldest_unpublished_age_seconds") > 0
                assert in_flight >= 1
                assert moved(before, after, "gyeol_db_connection_wait_seconds_count") >= 1
                assert total(after, "gyeol_payments", status="succeeded") >= 2
                assert moved(before, after, "gyeol_http_requests_total", route="/api/v1/payments/intent") >= 8

                # One pass of the jobs: the relay publishes (the outbox drains), the first attempts fail and are
                # due again at once.
                await asyncio.to_thread(run_cli, ["worker", "--once"], env)  # the receiver answers meanwhile
                drained = await scrape(c, metrics)
                assert total(drained, "gyeol_outbox_backlog") < backlog

                async def due() -> Samples | None:
                    got = await scrape(c, metrics)
                    return got if total(got, "gyeol_webhook_deliveries_due") >= 1 else None

                waiting = await until(due, "a webhook delivery due")
                assert total(waiting, "gyeol_webhook_oldest_due_age_seconds") > 0

                # A worker with its own metrics: its delivery attempts, failed and then succeeded.
                port = free_port()
                worker = start_worker(env, "--interval", "0.2", "--metrics-port", str(port))
                try:
                    async def delivered() -> Samples | None:
                        try:
                            got = await scrape(c, f"http://127.0.0.1:{port}/metrics")
                        except httpx.TransportError:
                            return None  # not listening yet
                        succeeded = total(got, "gyeol_webhook_deliveries_total", outcome="succeeded")
                        failed = total(got, "gyeol_webhook_deliveries_total", outcome="failed")
                        return got if succeeded >= 1 and failed >= 1 else None

                    from_worker = await until(delivered, "the worker's deliveries, failed and then succeeded")
                finally:
                    worker.terminate()
                    await asyncio.to_thread(worker.communicate, timeout=30)
                # The worker reads no database view: the gauges are the server's.
                assert not any(n == "gyeol_outbox_backlog" for n, _ in from_worker)
                assert rx.calls and any(call.status == 200 for call in rx.calls)


# --- the dashboard and the alerting rules -------------------------------------------------------------------------
METRIC = re.compile(r"\bgyeol_[a-z_]+")


def _rules() -> Iterator[dict[str, Any]]:
    for group in yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())["groups"]:
        yield from group["rules"]


def _panel_exprs() -> Iterator[str]:
    for panel in json.loads((DOCS / "grafana-dashboard.json").read_text())["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_each_expression_names_exported_metrics_and_each_family_is_covered(source: str) -> None:
    families = exported()
    exprs = [r["expr"] for r in _rules()] if source == "alerts" else list(_panel_exprs())
    covered: set[str] = set()
    for expr in exprs:
        names = METRIC.findall(expr)
        assert names, f"names no metric: {expr}"
        for name in names:
            family = _family(name, families)
            assert family is not None, f"{name} is not exported ({expr})"
            covered.add(family)
    assert covered == set(families), f"no {source} for: {sorted(set(families) - covered)}"


def test_alert_rules_are_complete() -> None:
    rules = list(_rules())
    assert len({r["alert"] for r in rules}) == len(rules)
    for r in rules:
        assert r["labels"]["severity"] in ("warning", "critical"), r["alert"]
        assert r["annotations"]["summary"], r["alert"]
    operations = (DOCS / "operations.md").read_text()
    assert "grafana-dashboard.json" in operations and "prometheus-alerts.yml" in operations
    assert [f for f in exported() if f"`{f}" not in operations] == []


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(DOCS / "prometheus-alerts.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
