"""SIGTERM during traffic: `gyeol serve` and `gyeol worker` finish what is in flight, release their leases and
exit (0, or by the re-raised signal as uvicorn does) within GYEOL_SHUTDOWN_GRACE_SECONDS."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from procs import Server, gyeol_env, start_worker
from receiver import Received, Receiver

KEY = "test_sk_shutdown"
AUTH = {"Authorization": f"Bearer {KEY}"}
GRACE = 10.0


def _env(db_url: str, var: Path, **extra: str) -> dict[str, str]:
    return gyeol_env(db_url, var, GYEOL_TEST_SECRET_KEY=KEY, GYEOL_SHUTDOWN_GRACE_SECONDS=str(GRACE), **extra)


def _leases(db_url: str) -> list[tuple[str, str]]:
    url = make_url(db_url)
    if url.drivername.startswith("postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(sa.text("SELECT name, holder FROM job_leases"))]
    finally:
        engine.dispose()


def _terminated(proc: subprocess.Popen[str]) -> tuple[int, float]:
    """SIGTERM, then the exit code and how long the process took to exit."""
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=GRACE + 20)
    return code, time.monotonic() - began


async def test_serve_finishes_requests_in_flight_and_releases_its_lease(db_url: str, tmp_path: Path) -> None:
    with Server(_env(db_url, tmp_path / "var")) as s:
        s.wait_ready()
        started = [asyncio.Event() for _ in range(5)]

        async def slow_body(i: int) -> AsyncIterator[bytes]:
            yield b'{"orderId": "drain-%d", ' % i
            started[i].set()
            await asyncio.sleep(1.5)
            yield b'"amount": 5000, "currency": "KRW"}'

        async with httpx.AsyncClient(headers={**AUTH, "content-type": "application/json"}, timeout=30) as c:
            assert any(name.startswith("process:") for name, _ in _leases(db_url))
            sent = [asyncio.create_task(c.post(s.url + "/api/v1/payments/intent", content=slow_body(i)))
                    for i in range(len(started))]
            for e in started:
                await e.wait()
            code, took = await asyncio.to_thread(_terminated, s.proc)
            answers = await asyncio.gather(*sent)
        assert [r.status_code for r in answers] == [200] * len(started), [r.text for r in answers]
        assert code in (0, -signal.SIGTERM), s.output()
        assert took < GRACE
        assert _leases(db_url) == []


async def test_worker_finishes_deliveries_in_flight_and_exits_zero(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path / "var")
    arrived = asyncio.Event()

    def answer(_: Received) -> int:
        arrived.set()
        return 200

    async with Receiver(answer=answer, delay=2.0) as rx:
        with Server(env) as s:
            s.wait_ready()
            async with httpx.AsyncClient(base_url=s.url, headers=AUTH, timeout=30) as c:
                r = await c.post("/api/v1/webhook-endpoints", json={"url": rx.url, "events": ["*"]})
                assert r.status_code == 200, r.text
                endpoint = r.json()["endpointId"]
                for i in range(3):
                    r = await c.post("/api/v1/payments/intent", json={"orderId": f"hook-{i}", "amount": 5000,
                                                                      "currency": "KRW"})
                    assert r.status_code == 200, r.text
                worker = start_worker(env, "--interval", "0.2")
                try:
                    await asyncio.wait_for(arrived.wait(), 60)
                    code, took = await asyncio.to_thread(_terminated, worker)
                finally:
                    if worker.poll() is None:
                        worker.kill()
                    out = worker.communicate()[0]
                assert code == 0, out
                assert took < GRACE
                # Every delivery sent was answered and recorded: none is left claimed, waiting for its claim to
                # run out before it is sent again.
                assert rx.calls and all(call.status == 200 for call in rx.calls)
                log = (await c.get(f"/api/v1/webhook-endpoints/{endpoint}/deliveries?size=100")).json()
                sent = {call.headers["webhook-id"] for call in rx.calls}
                statuses = {d["eventId"]: d["status"] for d in log["items"]}
                assert {statuses[e] for e in sent} == {"succeeded"}, log
                # The only lease left is the server's own heartbeat.
                assert [name for name, _ in _leases(db_url) if not name.startswith("process:")] == []
                assert len(_leases(db_url)) == 1


async def test_serve_cuts_off_a_request_that_outlasts_the_grace(db_url: str, tmp_path: Path) -> None:
    with Server(_env(db_url, tmp_path / "var") | {"GYEOL_SHUTDOWN_GRACE_SECONDS": "1"}) as s:
        s.wait_ready()
        started = asyncio.Event()

        async def endless_body() -> AsyncIterator[bytes]:
            yield b'{"orderId": "slow", '
            started.set()
            for _ in range(20):  # a byte a second: within the body deadline, far beyond the grace
                await asyncio.sleep(1)
                yield b" "
            yield b'"amount": 5000, "currency": "KRW"}'

        async with httpx.AsyncClient(headers={**AUTH, "content-type": "application/json"}, timeout=30) as c:
            sent = asyncio.create_task(c.post(s.url + "/api/v1/payments/intent", content=endless_body()))
            await started.wait()
            code, took = await asyncio.to_thread(_terminated, s.proc)
            sent.cancel()
        assert code in (0, -signal.SIGTERM), s.output()
        assert took < 5, took
        assert _leases(db_url) == []
