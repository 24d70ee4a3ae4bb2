"""The outbox relay and the brokers: NATS JetStream and Redis Streams on this machine's servers, a private NATS
that is restarted mid-stream, and a broker that is down (events wait in the outbox, in order), also for a real
server taking payments meanwhile. Kafka runs only with GYEOL_TEST_KAFKA_URL."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import httpx
import orjson
import pytest
import redis.asyncio as redis
import sqlalchemy as sa

from conftest import Env, make_settings
from gyeol.brokers import KafkaBroker, NatsBroker, RedisBroker
from gyeol.core.events import outbox
from gyeol.db.engine import Database
from gyeol.models import outbox_events
from gyeol.services import build_services
from natsd import PrivateNats, stream_messages
from procs import Server, gyeol_env

NATS_URL = os.environ.get("GYEOL_TEST_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("GYEOL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def add_events(env: Env, n: int, type: str = "order.paid") -> list[str]:
    ids = []
    async with env.svc.db.tx() as conn:
        for i in range(n):
            ids.append(await outbox.add(conn, merchant_id=env.merchant_id, type=type,
                                        obj={"orderId": f"o{i}", "livemode": False}, resource_id=f"o{i}",
                                        now=env.svc.clock.now()))
    return ids


async def unpublished(env: Env) -> int:
    return await waiting_in(env.svc.db)


async def waiting_in(db: Database) -> int:
    async with db.read() as conn:
        q = sa.select(sa.func.count()).select_from(outbox_events).where(outbox_events.c.published_at.is_(None))
        return int((await conn.execute(q)).scalar_one())


async def test_redis_streams_in_order_and_bounded(env: Env) -> None:
    stream = f"gyeol:test:{secrets.token_hex(4)}"
    client = redis.from_url(REDIS_URL)
    try:
        env.svc.relay.broker = RedisBroker(f"{REDIS_URL}?stream={stream}&maxlen=1000")
        pay = await env.paid(100)
        ids = [e["id"] for e in (await env.client.get("/api/v1/events?size=100")).json()["items"]]
        result = await env.svc.relay.run_once()
        assert result["published"] == len(ids) and await unpublished(env) == 0
        entries = await client.xrange(stream)
        assert [e[1][b"id"].decode() for e in entries] == ids
        first = orjson.loads(entries[0][1][b"event"])
        assert first["type"] == "payment.created" and first["data"]["object"]["paymentId"] == pay["paymentId"]
        await add_events(env, 3000)
        await env.svc.relay.run_once(max_batches=100)
        assert await client.xlen(stream) < 2000, "MAXLEN ~ keeps the stream bounded"
    finally:
        await client.delete(stream)
        await client.aclose()
        await env.svc.relay.broker.close()  # type: ignore[union-attr]


async def test_broker_down_keeps_events_in_order_until_it_is_back(env: Env) -> None:
    stream = f"gyeol:test:{secrets.token_hex(4)}"
    client = redis.from_url(REDIS_URL)
    try:
        env.svc.relay.broker = RedisBroker("redis://127.0.0.1:1/0")  # nothing listens there
        first = await add_events(env, 5)
        result = await env.svc.relay.run_once()
        assert result == {"published": 0, "blocked": True} and await unpublished(env) == 5
        later = await add_events(env, 5)
        env.svc.relay.broker = RedisBroker(f"{REDIS_URL}?stream={stream}")
        await env.svc.relay.run_once()
        assert [e[1][b"id"].decode() for e in await client.xrange(stream)] == first + later
        assert await unpublished(env) == 0
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_nats_jetstream_subjects_and_dedupe(env: Env) -> None:
    tag = secrets.token_hex(4)
    stream, prefix = f"GYEOL_T_{tag}", f"gyeoltest{tag}"
    broker = NatsBroker(f"{NATS_URL}?stream={stream}&prefix={prefix}")
    env.svc.relay.broker = broker
    try:
        await env.paid(100)
        ids = [e["id"] for e in (await env.client.get("/api/v1/events?size=100")).json()["items"]]
        await env.svc.relay.run_once()
        # a relay that crashed after publishing publishes again: JetStream drops it by Nats-Msg-Id
        event = (await env.client.get(f"/api/v1/events/{ids[0]}")).json()
        await broker.publish(event)
        msgs = await stream_messages(NATS_URL, stream, f"{prefix}.>")
        assert [m.headers["Nats-Msg-Id"] for m in msgs] == ids
        assert msgs[0].subject == f"{prefix}.payment.created"
        assert orjson.loads(msgs[0].data)["id"] == ids[0]
    finally:
        await broker.close()
        import nats
        nc = await nats.connect(NATS_URL)
        await nc.jetstream().delete_stream(stream)
        await nc.close()


async def test_nats_restart_mid_stream_loses_nothing(env: Env, tmp_path: Path) -> None:
    server = PrivateNats(tmp_path / "js")
    server.start()
    broker = NatsBroker(f"{server.url}?stream=GYEOL&prefix=gyeol")
    env.svc.relay.broker = broker
    try:
        ids = await add_events(env, 300)
        await env.svc.relay.run_once()
        server.stop()
        ids += await add_events(env, 300)
        down = await env.svc.relay.run_once()
        assert down["blocked"] and await unpublished(env) == 300
        server.start()
        ids += await add_events(env, 300)
        await env.svc.relay.run_once()
        assert await unpublished(env) == 0
        msgs = await stream_messages(server.url, "GYEOL", "gyeol.>")
        assert [m.headers["Nats-Msg-Id"] for m in msgs] == ids
    finally:
        await broker.close()
        server.stop()


# How long the broker is down while a server takes payments: long enough for many relay passes to find it down
# and for events to pile up behind the first refused one (the 30 s proves no more, at three times the cost).
OUTAGE_SECONDS = 10


async def test_nats_down_during_traffic_payments_go_on_and_events_follow_in_order(db_url: str,
                                                                                 tmp_path: Path) -> None:
    """A real server whose embedded relay publishes to a private NATS takes payments at concurrency 4; NATS is
    stopped for OUTAGE_SECONDS in the middle. Every payment succeeds; the events wait in the outbox and, once NATS
    is back, reach the stream in the outbox's order, each once."""
    nats_server = PrivateNats(tmp_path / "js")
    nats_server.start()
    key = "test_sk_brokerdown"
    env = gyeol_env(db_url, tmp_path / "var", GYEOL_TEST_SECRET_KEY=key, GYEOL_WORKER="embedded",
                    GYEOL_WORKER_INTERVAL="0.2", GYEOL_EVENT_BROKER_URL=f"{nats_server.url}?stream=GYEOL&prefix=gyeol")
    server = Server(env)
    svc = build_services(make_settings(db_url, tmp_path))  # reads the outbox
    answers: list[int] = []
    stop = asyncio.Event()
    try:
        server.wait_ready()
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {key}"},
                                     timeout=30) as c:
            async def traffic(n: int) -> None:
                i = 0
                while not stop.is_set():
                    r = await c.post("/api/v1/payments/intent", json={
                        "orderId": f"bd-{n}-{i}", "amount": 1000 + i, "currency": "KRW", "confirm": True,
                        "methodOptions": {"token": "tok_visa"}})
                    answers.append(r.status_code)
                    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
                    i += 1

            clients = [asyncio.create_task(traffic(n)) for n in range(4)]
            await asyncio.sleep(1)
            await asyncio.to_thread(nats_server.stop)
            before = len(answers)
            await asyncio.sleep(OUTAGE_SECONDS)
            during = len(answers) - before
            waiting = await waiting_in(svc.db)
            await asyncio.to_thread(nats_server.start)
            await asyncio.sleep(1)
            stop.set()
            await asyncio.gather(*clients)
        assert during > 0 and waiting > 0, (during, waiting)  # payments went on; their events waited
        for _ in range(600):
            if await waiting_in(svc.db) == 0:
                break
            await asyncio.sleep(0.1)
        assert await waiting_in(svc.db) == 0
        async with svc.db.read() as conn:
            ids = list((await conn.execute(sa.select(outbox_events.c.id).order_by(outbox_events.c.seq))).scalars())
        msgs = await stream_messages(nats_server.url, "GYEOL", "gyeol.>")
        assert [m.headers["Nats-Msg-Id"] for m in msgs] == ids
        assert sum(m.subject == "gyeol.payment.succeeded" for m in msgs) == len(answers)
    finally:
        stop.set()
        log = server.stop()
        nats_server.stop()
        await svc.close()
    assert "Traceback" not in log, log


@pytest.mark.skipif(not os.environ.get("GYEOL_TEST_KAFKA_URL"), reason="GYEOL_TEST_KAFKA_URL is not set")
async def test_kafka(env: Env) -> None:
    broker = KafkaBroker(os.environ["GYEOL_TEST_KAFKA_URL"] + f"?prefix=gyeoltest{secrets.token_hex(3)}")
    env.svc.relay.broker = broker
    try:
        await env.paid(100)
        result = await env.svc.relay.run_once()
        assert result["published"] > 0 and not result["blocked"]
    finally:
        await broker.close()
