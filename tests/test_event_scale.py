"""Events at scale with real processes, on PostgreSQL only (once, not per store): 10,000 events to a receiver that
fails 30 % of requests while the worker is killed with SIGKILL and restarted; and 2 servers + 2 workers with a
broker. Figures are printed (run with -s to see them)."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from conftest import make_settings, truncate_all
from gyeol.core.context import Caller
from gyeol.core.events import outbox
from gyeol.models import webhook_deliveries
from gyeol.services import build_services
from natsd import stream_messages
from procs import GYEOL, Server, gyeol_env
from receiver import Received, Receiver

EVENTS = 10_000
MAX_FAILS_IN_A_ROW = 5  # the receiver fails 30 % at random, but no event more than 5 times running


def flaky(rate: float, seed: int) -> Any:
    import random
    rng = random.Random(seed)  # noqa: S311
    streak: dict[str, int] = {}

    def answer(got: Received) -> int:
        event_id = got.headers["webhook-id"]
        if streak.get(event_id, 0) < MAX_FAILS_IN_A_ROW and rng.random() < rate:
            streak[event_id] = streak.get(event_id, 0) + 1
            return 500
        streak[event_id] = 0
        return 200
    return answer


def worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([GYEOL, "worker", "--interval", "0.05"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


async def wait_for(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
def pg(pg_url: str | None) -> str:
    if pg_url is None:
        pytest.skip("PostgreSQL is unreachable")
    truncate_all(pg_url)
    return pg_url


async def test_10k_events_flaky_receiver_and_a_killed_worker(pg: str, tmp_path: Path) -> None:
    svc = build_services(make_settings(pg, tmp_path))
    worker_env = gyeol_env(pg, tmp_path / "var", GYEOL_WEBHOOK_RETRY_SCALE="0.0005", GYEOL_WEBHOOK_LEASE_SECONDS="3",
                           GYEOL_KEY_HASH_SECRET="test-key-hash-secret")
    procs: list[subprocess.Popen[str]] = []
    try:
        merchant, _ = await svc.merchants.create("scale")
        async with Receiver(answer=flaky(0.3, seed=11)) as rx:
            ep = await svc.webhooks.create(Caller(merchant["id"], "test"), rx.url, ["*"], None)
            async with svc.db.tx() as conn:
                for i in range(EVENTS):
                    await outbox.add(conn, merchant_id=merchant["id"], type="order.paid",
                                     obj={"orderId": f"o-{i}", "n": i, "livemode": False}, resource_id=f"o-{i}",
                                     now=svc.clock.now())
            started = time.monotonic()
            procs.append(worker(worker_env))
            await wait_for(lambda: len(rx.ok_ids()) >= EVENTS * 0.3, 180, "a third of the deliveries")
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(timeout=10)
            killed_at = len(rx.ok_ids())
            procs.append(worker(worker_env))
            await wait_for(lambda: len(rx.ok_ids()) >= EVENTS, 300, "every event delivered")
            elapsed = time.monotonic() - started
            calls = list(rx.calls)
        verifier = Webhook(ep.secret)
        for call in calls:
            verifier.verify(call.body, call.headers)  # raises on any bad signature
        async with svc.db.read() as conn:
            statuses = dict((await conn.execute(sa.select(webhook_deliveries.c.status, sa.func.count())
                                                .group_by(webhook_deliveries.c.status))).all())
        failed = sum(1 for c in calls if c.status >= 300)
        print(f"\n10k events: {len(calls)} requests, {failed} failed ({failed / len(calls):.1%}), "
              f"{len(rx.ok_ids())} distinct events delivered, worker killed after {killed_at}, "
              f"{elapsed:.1f} s, {len(calls) / elapsed:.0f} requests/s, deliveries {statuses}")
        assert len(rx.ok_ids()) == EVENTS
        assert statuses.get("dead", 0) == 0
        assert 0.2 < failed / len(calls) < 0.4
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        await svc.close()


async def test_two_servers_two_workers_webhooks_and_broker(pg: str, tmp_path: Path) -> None:
    tag = secrets.token_hex(4)
    stream, prefix = f"GYEOL_S_{tag}", f"gscale{tag}"
    env = gyeol_env(pg, tmp_path / "var", GYEOL_TEST_SECRET_KEY="test_sk_scaleout",
                    GYEOL_EVENT_BROKER_URL=f"nats://127.0.0.1:4222?stream={stream}&prefix={prefix}",
                    GYEOL_WEBHOOK_RETRY_SCALE="0.001")
    procs: list[subprocess.Popen[str]] = []
    servers = [Server(env), Server(env)]
    try:
        for s in servers:
            s.wait_ready()
        import httpx
        async with Receiver(answer=flaky(0.1, seed=5)) as rx:
            async with httpx.AsyncClient(headers={"Authorization": "Bearer test_sk_scaleout"}, timeout=30) as http:
                r = await http.post(servers[0].url + "/api/v1/webhook-endpoints",
                                    json={"url": rx.url, "events": ["*"]})
                assert r.status_code == 200, r.text
                secret = r.json()["secret"]
                procs += [worker(env), worker(env)]

                async def pay(i: int) -> None:
                    r = await http.post(servers[i % 2].url + "/api/v1/payments/intent", json={
                        "orderId": f"scale-{i}", "amount": 1000 + i, "currency": "KRW", "confirm": True,
                        "methodOptions": {"token": "tok_visa"}}, headers={"Idempotency-Key": f"k-{i}"})
                    assert r.status_code == 200, r.text

                await asyncio.gather(*(pay(i) for i in range(100)))
                ids: list[str] = []
                after = None
                while True:
                    page = (await http.get(servers[1].url + "/api/v1/events",
                                           params={"size": 100, **({"after": after} if after else {})})).json()
                    ids += [e["id"] for e in page["items"]]
                    after = page["nextAfter"]
                    if not page["hasMore"]:
                        break
            assert len(ids) >= 100 * 5  # created, succeeded, completed, order.paid, settlement.created
            await wait_for(lambda: rx.ok_ids() >= set(ids), 120, "every event delivered")
            verifier = Webhook(secret)
            for call in rx.calls:
                verifier.verify(call.body, call.headers)
        msgs = await stream_messages("nats://127.0.0.1:4222", stream, f"{prefix}.>")
        published = [m.headers["Nats-Msg-Id"] for m in msgs]
        print(f"\n2 servers + 2 workers: {len(ids)} events, {len(rx.calls)} webhook requests, "
              f"{len(published)} broker messages")
        assert sorted(published) == sorted(ids), "each event exactly once in the stream"
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for s in servers:
            s.stop()
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()
