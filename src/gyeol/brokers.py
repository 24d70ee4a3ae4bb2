"""Message brokers the outbox relay publishes to (`GYEOL_EVENT_BROKER_URL`): NATS JetStream, Redis Streams, Kafka.

Each message is the event's JSON with its id as a header, so consumers can deduplicate; JetStream does it itself
through `Nats-Msg-Id` within its duplicate window. A broker that cannot take a message raises BrokerUnavailable,
and the relay leaves that event, and every later one, in the outbox for the next pass: order is kept.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

import orjson
import structlog

log = structlog.get_logger(__name__)


class BrokerUnavailable(Exception):
    pass


class Broker(Protocol):
    async def publish(self, event: dict[str, Any]) -> None: ...
    async def close(self) -> None: ...


def _options(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", parts.fragment)), options


async def _quiet(exc: Exception) -> None:
    log.debug("nats_error", error=type(exc).__name__)


async def _quiet_event() -> None:
    return None


class NatsBroker:
    def __init__(self, url: str) -> None:
        self.server, options = _options(url)
        self.stream = options.get("stream", "GYEOL")
        self.prefix = options.get("prefix", "gyeol")
        self._nc: Any = None
        self._js: Any = None

    async def _connect(self) -> Any:
        import nats

        if self._nc is None or self._nc.is_closed:
            self._nc = await asyncio.wait_for(nats.connect(
                servers=[self.server], connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1,
                error_cb=_quiet, disconnected_cb=_quiet_event, closed_cb=_quiet_event), timeout=5)
            self._js = self._nc.jetstream(timeout=5)
            try:
                await self._js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"])
            except Exception:  # noqa: BLE001 - it exists already (perhaps with other settings): use it as it is
                await self._js.stream_info(self.stream)
        return self._js

    async def publish(self, event: dict[str, Any]) -> None:
        try:
            js = await self._connect()
            await js.publish(f"{self.prefix}.{event['type']}", orjson.dumps(event),
                             headers={"Nats-Msg-Id": event["id"], "Gyeol-Event-Id": event["id"]}, timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means "not published": keep it in the outbox
            await self.close()
            raise BrokerUnavailable(f"nats: {type(exc).__name__}") from exc

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), 2)
            except Exception:  # noqa: BLE001, S110 - closing a broken connection
                pass


class RedisBroker:
    def __init__(self, url: str) -> None:
        self.url, options = _options(url)
        self.stream = options.get("stream", "gyeol:events")
        self.maxlen = int(options.get("maxlen", "100000"))
        self._client: Any = None

    async def publish(self, event: dict[str, Any]) -> None:
        import redis.asyncio as redis

        try:
            if self._client is None:
                self._client = redis.from_url(self.url, socket_timeout=3, socket_connect_timeout=2)
            await self._client.xadd(self.stream, {"id": event["id"], "type": event["type"],
                                                  "event": orjson.dumps(event)},
                                    maxlen=self.maxlen, approximate=True)
        except Exception as exc:  # noqa: BLE001
            await self.close()
            raise BrokerUnavailable(f"redis: {type(exc).__name__}") from exc

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001, S110
                pass


class KafkaBroker:
    """`pip install 'gyeol[kafka]'`: topic `<prefix>.<type>`, key = the resource id, an idempotent producer."""

    def __init__(self, url: str) -> None:
        server, options = _options(url)
        self.bootstrap = urlsplit(server).netloc
        self.prefix = options.get("prefix", "gyeol")
        self._producer: Any = None

    async def publish(self, event: dict[str, Any]) -> None:
        try:
            from aiokafka import AIOKafkaProducer

            if self._producer is None:
                self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True,
                                                  acks="all", request_timeout_ms=5000)
                await self._producer.start()
            obj = (event.get("data") or {}).get("object") or {}
            key = str(obj.get("paymentId") or obj.get("orderId") or event["id"]).encode()
            await self._producer.send_and_wait(f"{self.prefix}.{event['type']}", orjson.dumps(event), key=key,
                                               headers=[("Gyeol-Event-Id", event["id"].encode())])
        except Exception as exc:  # noqa: BLE001
            await self.close()
            raise BrokerUnavailable(f"kafka: {type(exc).__name__}") from exc

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception:  # noqa: BLE001, S110
                pass


def broker_from_url(url: str | None) -> Broker | None:
    if not url:
        return None
    scheme = urlsplit(url).scheme
    if scheme in ("nats", "tls"):
        return NatsBroker(url)
    if scheme in ("redis", "rediss"):
        return RedisBroker(url)
    if scheme == "kafka":
        return KafkaBroker(url)
    raise ValueError(f"GYEOL_EVENT_BROKER_URL: unknown scheme {scheme!r} (nats://, redis://, kafka://)")
