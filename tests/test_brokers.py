"""The outbox relay and the brokers: NATS JetStream and Redis Streams on this machine's servers, a private NATS
that is restarted mid-stream, and a broker that is down (events wait in the outbox, in order). Kafka runs only
with GYEOL_TEST_KAFKA_URL."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import orjson
import pytest
import redis.asyncio as redis
import sqlalchemy as sa

from conftest import Env
from gyeol.brokers import KafkaBroker, NatsBroker, RedisBroker
from gyeol.core.events import outbox
from gyeol.models import outbox_events
from natsd import PrivateNats, stream_messages

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
    async with env.svc.db.read() as conn:
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
