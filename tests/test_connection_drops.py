"""PostgreSQL ends every Gyeol backend, several times, during traffic: each drop costs the requests it cut, never
the process. The server recovers by itself on fresh connections, every payment retried under its own key ends as
its own success, and nothing is charged twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from conftest import truncate_all
from procs import Server, gyeol_env

KEY = "test_sk_drops"


def _terminate_backends(pg_url: str) -> int:
    u = make_url(pg_url)
    admin = sa.create_engine(u.set(drivername="postgresql+psycopg", database="postgres"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": u.database}).scalar()
    admin.dispose()
    return int(ended or 0)


async def test_terminated_backends_cost_requests_never_the_process(pg_url: str | None, tmp_path: Path) -> None:
    if pg_url is None:
        pytest.skip("PostgreSQL unreachable")
    truncate_all(pg_url)
    with Server(gyeol_env(pg_url, tmp_path / "var", GYEOL_TEST_SECRET_KEY=KEY)) as s:
        s.wait_ready()
        async with httpx.AsyncClient(base_url=s.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                                     limits=httpx.Limits(max_connections=16)) as c:
            answers: dict[int, httpx.Response] = {}
            failures = 0

            async def pay(n: int) -> None:
                nonlocal failures
                body = {"orderId": f"drop-{n}", "amount": 1000 + n, "currency": "KRW", "confirm": True,
                        "methodOptions": {"token": "tok_visa"}}
                for _ in range(100):
                    r = await c.post("/api/v1/payments/intent", json=body, headers={"Idempotency-Key": f"drop-{n}"})
                    if r.status_code == 200:
                        answers[n] = r
                        return
                    # Cut off by a drop: retryable, in the face's own format, never a 500.
                    assert r.status_code == 503 and r.headers.get("retry-after"), (r.status_code, r.text)
                    assert r.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
                    failures += 1
                    await asyncio.sleep(0.1)
                raise AssertionError(f"payment {n}: {r.status_code} {r.text}")

            async def drops() -> int:
                ended = 0
                for _ in range(5):
                    await asyncio.sleep(0.4)
                    ended += await asyncio.to_thread(_terminate_backends, pg_url)
                return ended

            sem = asyncio.Semaphore(16)

            async def bounded(n: int) -> None:
                async with sem:
                    await pay(n)

            ended, *_ = await asyncio.gather(drops(), *(bounded(n) for n in range(300)))
            assert ended >= 5 and failures > 0, "no request was cut: the test did not test"
            assert sorted(answers) == list(range(300))
            for n, r in answers.items():
                got = r.json()
                assert (got["status"], got["orderId"], got["amount"]) == ("succeeded", f"drop-{n}", 1000 + n)
            # Recovered by itself: readiness and a fresh payment, on the same process.
            assert (await c.get("/readyz")).status_code == 200
            r = await c.post("/api/v1/payments/intent", json={"orderId": "after", "amount": 500, "currency": "KRW",
                                                              "confirm": True, "methodOptions": {"token": "tok_visa"}})
            assert r.status_code == 200, r.text
            for n in range(0, 300, 37):
                pid = answers[n].json()["paymentId"]
                charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": pid})).json()["items"]
                assert [(x["kind"], x["status"]) for x in charges] == [("charge", "succeeded")], charges
        assert s.proc.poll() is None, "the server died"
