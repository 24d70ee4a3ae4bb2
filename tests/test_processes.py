"""Real processes: two servers on one PostgreSQL, the CLI, `gyeol reconcile` after a PG timeout."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import httpx
import pytest

from procs import Server, gyeol_env, run_cli


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


async def test_two_servers_on_one_postgres_charge_once(pg_url: str | None, tmp_path: Path) -> None:
    if pg_url is None:
        pytest.skip("PostgreSQL unreachable")
    from conftest import truncate_all

    truncate_all(pg_url)
    env = gyeol_env(pg_url, tmp_path / "var", GYEOL_TEST_SECRET_KEY="test_sk_twoprocs")
    with Server(env) as a:
        a.wait_ready()
        with Server(env) as b:
            b.wait_ready()
            auth = {"Authorization": "Bearer test_sk_twoprocs"}
            async with httpx.AsyncClient(headers=auth, timeout=30) as c:
                r = await c.post(a.url + "/api/v1/payments/intent", json={"orderId": "two-procs", "amount": 7000,
                                                                          "currency": "KRW"})
                assert r.status_code == 200, r.text
                pid = r.json()["paymentId"]
                urls = [(a.url if i % 2 else b.url) + f"/api/v1/payments/{pid}/confirm" for i in range(40)]
                results = await asyncio.gather(*(c.post(u, json={"token": "tok_visa"}) for u in urls))
                assert {r.status_code for r in results} <= {200, 409}
                assert any(r.status_code == 200 for r in results)
                charges = (await c.get(b.url + "/api/v1/sandbox/charges", params={"paymentId": pid})).json()
                assert [(x["kind"], x["status"]) for x in charges["items"]] == [("charge", "succeeded")]
                got = (await c.get(a.url + f"/api/v1/payments/{pid}")).json()
                assert got["status"] == "succeeded"
    assert "no difference" in run_cli(["ledger", "verify"], env).stdout


def test_cli_help_documents_every_command(sqlite_db: str, tmp_path: Path) -> None:
    env = gyeol_env(sqlite_db, tmp_path / "var")
    out = run_cli(["--help"], env).stdout
    for cmd in ("serve", "migrate", "merchants", "keys", "reconcile", "worker"):
        assert cmd in out
    assert "--workers" in run_cli(["serve", "--help"], env).stdout
    for sub in ("list", "create", "revoke"):
        assert sub in run_cli(["keys", "--help"], env).stdout


def test_cli_merchants_and_keys(sqlite_db: str, tmp_path: Path) -> None:
    env = gyeol_env(sqlite_db, tmp_path / "var")
    run_cli(["migrate"], env)
    out = run_cli(["merchants", "create", "--name", "cafe"], env).stdout
    key = max(re.finditer(r"test_sk_[A-Za-z0-9_-]+", out), key=lambda m: len(m.group(0)))
    assert len(key.group(0)) > 20, out
    listed = run_cli(["merchants", "list"], env).stdout
    assert "cafe" in listed
    keys = run_cli(["keys", "list", "--merchant", "cafe"], env).stdout
    assert key.group(0) not in keys  # only a prefix is ever shown again
    created = run_cli(["keys", "create", "--merchant", "cafe"], env).stdout
    key2 = max(re.finditer(r"test_sk_[A-Za-z0-9_-]+", created), key=lambda m: len(m.group(0)))
    assert len(key2.group(0)) > 20
    key_id = re.search(r'"(key_[A-Za-z0-9]+)"', created) or re.search(r"(key_[A-Za-z0-9]+)", created)
    assert key_id, created
    run_cli(["keys", "revoke", key_id.group(1)], env)
    with Server(env) as s:
        s.wait_ready()
        assert httpx.get(s.url + "/api/v1/payments", headers={"Authorization": f"Bearer {key.group(0)}"}
                         ).status_code == 200
        assert httpx.get(s.url + "/api/v1/payments", headers={"Authorization": f"Bearer {key2.group(0)}"}
                         ).status_code == 401
    conn = sqlite3.connect(sqlite_db.removeprefix("sqlite:///"))
    dump = "\n".join(conn.iterdump())
    assert key.group(0) not in dump and key2.group(0) not in dump  # keys are stored only as a keyed hash


def test_serve_creates_the_default_merchant_with_the_configured_key(sqlite_db: str, tmp_path: Path) -> None:
    env = gyeol_env(sqlite_db, tmp_path / "var", GYEOL_TEST_SECRET_KEY="test_sk_dummy")
    with Server(env) as s:
        s.wait_ready()
        r = httpx.get(s.url + "/api/v1/payments", headers={"Authorization": "Basic dGVzdF9za19kdW1teTo="})
        assert r.status_code == 200
        assert r.headers["request-id"]
    assert "default" in run_cli(["merchants", "list"], env).stdout


def test_a_renamed_merchant_is_what_buyers_see_and_stays_the_default(sqlite_db: str, tmp_path: Path) -> None:
    env = gyeol_env(sqlite_db, tmp_path / "var", GYEOL_TEST_SECRET_KEY="test_sk_dummy")
    kiosk = {"Authorization": "Basic dGVzdF9za19kdW1teTo="}

    def merchant_on(page_url: str) -> str:
        page = httpx.get(page_url).text
        found = re.search(r'id="merchant-name">([^<]*)<', page) or re.search(r"<dt>가맹점</dt><dd>([^<]*)<", page)
        assert found, page
        return found.group(1)

    with Server(env) as s:
        s.wait_ready()
        unpaid = {"paymentKey": "pk_unpaid", "orderId": "o-unpaid", "amount": 5000}
        checkout = httpx.post(s.url + "/v1/payments", json=unpaid, headers=kiosk).json()["checkout"]["url"]
        paid = {"paymentKey": "pk_paid", "orderId": "o-paid", "amount": 7000}
        assert httpx.post(s.url + "/v1/payments", json=paid, headers=kiosk).status_code == 200
        receipt = httpx.post(s.url + "/v1/payments/confirm", json=paid, headers=kiosk).json()["receipt"]["url"]
        assert merchant_on(checkout) == merchant_on(receipt) == "default"

        out = run_cli(["merchants", "update", "--merchant", "default", "--name", "결 커피"], env).stdout
        assert json.loads(out)["name"] == "결 커피"
        assert merchant_on(checkout) == merchant_on(receipt) == "결 커피"
        assert "결 커피" in run_cli(["merchants", "list"], env).stdout
        # Still the default merchant: Toss's callback that names no merchant finds it.
        r = httpx.post(s.url + "/api/payments/callback", json={"eventType": "PAYMENT_STATUS_CHANGED",
                                                               "data": {"paymentKey": "pk_nobody"}})
        assert r.status_code == 200 and r.json()["applied"] is False, r.text
    run_cli(["merchants", "create", "--name", "cafe"], env)
    taken = run_cli(["merchants", "update", "--merchant", "cafe", "--name", "결 커피"], env, check=False)
    assert taken.returncode == 1 and "already exists" in taken.stderr and "Traceback" not in taken.stderr
    blank = run_cli(["merchants", "update", "--merchant", "cafe", "--name", " "], env, check=False)
    assert blank.returncode == 1 and "1 to 200 printable characters" in blank.stderr


def test_serve_prints_a_random_key_once_when_none_is_configured(sqlite_db: str, tmp_path: Path) -> None:
    env = gyeol_env(sqlite_db, tmp_path / "var")
    s = Server(env)
    s.wait_ready()
    out = s.stop()
    key = re.search(r"test_sk_[A-Za-z0-9_-]+", out)
    assert key, out
    s2 = Server(env)
    s2.wait_ready()
    assert httpx.get(s2.url + "/api/v1/payments", headers={"Authorization": f"Bearer {key.group(0)}"}
                     ).status_code == 200
    assert "test_sk_" not in s2.stop()


def test_auto_migrate_false_does_not_migrate(sqlite_db: str, tmp_path: Path) -> None:
    env = gyeol_env(sqlite_db, tmp_path / "var", GYEOL_AUTO_MIGRATE="false", GYEOL_TEST_SECRET_KEY="test_sk_x")
    s = Server(env)
    deadline = 0
    import time

    while s.proc.poll() is None and deadline < 100:
        try:
            r = httpx.get(s.url + "/readyz", timeout=1)
            if r.status_code in (200, 503):
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
        deadline += 1
    s.stop()
    conn = sqlite3.connect(sqlite_db.removeprefix("sqlite:///"))
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert "payments" not in tables


async def test_timeout_then_gyeol_reconcile_settles_with_one_charge(sqlite_db: str, tmp_path: Path) -> None:
    env = gyeol_env(sqlite_db, tmp_path / "var", GYEOL_TEST_SECRET_KEY="test_sk_recon")
    with Server(env) as s:
        s.wait_ready()
        async with httpx.AsyncClient(headers={"Authorization": "Bearer test_sk_recon"}, timeout=30) as c:
            r = await c.post(s.url + "/api/v1/payments/intent", json={"orderId": "recon-1", "amount": 4000,
                                                                      "currency": "KRW"})
            pid = r.json()["paymentId"]
            r = await c.post(s.url + f"/api/v1/payments/{pid}/confirm", json={"token": "tok_visa"},
                             headers={"Gyeol-Sandbox-Fault": "timeout"})
            assert r.status_code == 504, r.text
            assert r.json()["error"]["type"] == "gateway"
            got = (await c.get(s.url + f"/api/v1/payments/{pid}")).json()
            assert got["status"] == "pending" and got["lastAttempt"]["status"] == "unknown"
            out = json.loads(run_cli(["reconcile"], env).stdout)
            assert [(a["paymentId"], a["status"]) for a in out["attempts"]] == [(pid, "succeeded")]
            got = (await c.get(s.url + f"/api/v1/payments/{pid}")).json()
            assert got["status"] == "succeeded", got
            charges = (await c.get(s.url + "/api/v1/sandbox/charges", params={"paymentId": pid})).json()["items"]
            assert [(x["kind"], x["status"]) for x in charges] == [("charge", "succeeded")]
    assert "no difference" in run_cli(["ledger", "verify"], env).stdout


async def test_serve_runs_the_jobs_in_process_by_default(sqlite_db: str, tmp_path: Path) -> None:
    """The single-machine mode: with no `gyeol worker`, the server itself relays and delivers webhooks."""
    from receiver import Receiver

    env = gyeol_env(sqlite_db, tmp_path / "var", GYEOL_TEST_SECRET_KEY="test_sk_embedded", GYEOL_WORKER="embedded",
                    GYEOL_WORKER_INTERVAL="0.1")
    async with Receiver() as rx:
        with Server(env) as s:
            s.wait_ready()
            async with httpx.AsyncClient(headers={"Authorization": "Bearer test_sk_embedded"}) as c:
                r = await c.post(s.url + "/api/v1/webhook-endpoints",
                                 json={"url": rx.url, "events": ["payment.completed"]})
                assert r.status_code == 200, r.text
                r = await c.post(s.url + "/api/v1/payments/intent", json={
                    "orderId": "emb-1", "amount": 500, "currency": "KRW", "confirm": True,
                    "methodOptions": {"token": "tok_visa"}})
                assert r.status_code == 200, r.text
                for _ in range(100):
                    if rx.calls:
                        break
                    await asyncio.sleep(0.1)
        assert [json.loads(c.body)["type"] for c in rx.calls] == ["payment.completed"]


def test_a_server_process_freezes_its_startup_objects_out_of_the_collector(sqlite_db: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = gyeol_env(sqlite_db, tmp_path / "var")
    probe = "import gc; from gyeol.app import factory; factory(); print(gc.get_freeze_count(), len(gc.get_objects()))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stdout.splitlines()[-1].split()
    frozen, tracked = int(out[0]), int(out[1])
    assert frozen > 50_000 and tracked < frozen // 10, out
