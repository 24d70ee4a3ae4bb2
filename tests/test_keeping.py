"""Keeping the data (issue 28, part 4): `gyeol backup` copies a SQLite database while a server writes to it, and
the copy serves again with every payment; `gyeol check` verifies an installation, and says what is wrong."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.fernet import Fernet

from procs import Server, free_port, gyeol_env, run_cli

KEY = "test_sk_keeping"
AUTH = {"Authorization": f"Bearer {KEY}"}
JWT_SECRET = "keeping-jwt-secret-0123456789abcdef-0123"
BAD_SETTINGS = 78


def _env(tmp_path: Path, db: Path, var: Path, **extra: str) -> dict[str, str]:
    return gyeol_env(f"sqlite:///{db}", var, GYEOL_TEST_SECRET_KEY=KEY, GYEOL_JWT_SECRET=JWT_SECRET, **extra)


def _pay(c: httpx.Client, url: str, order_id: str) -> str:
    r = c.post(url + "/api/v1/payments/intent", json={"orderId": order_id, "amount": 1000, "currency": "KRW",
                                                      "confirm": True, "methodOptions": {"token": "tok_visa"}})
    assert r.status_code == 200, r.text
    pid: str = r.json()["paymentId"]
    return pid


def _virtual_account(c: httpx.Client, url: str, order_id: str) -> str:
    """A user's virtual-account payment: its account number is stored encrypted."""
    r = c.post(url + "/api/v1/orders", json={"orderId": order_id, "amount": 3000, "currency": "KRW",
                                             "userId": "keeper"})
    assert r.status_code == 200, r.text
    now = int(time.time())
    token = jwt.encode({"sub": "keeper", "roles": ["USER"], "iat": now, "exp": now + 600}, JWT_SECRET, "HS256")
    r = c.post(url + "/api/v1/payments", headers={"Authorization": f"Bearer {token}"},
               json={"orderId": order_id, "amount": 3000, "paymentMethod": "VIRTUAL_ACCOUNT"})
    assert r.status_code == 200, r.text
    pid: str = r.json()["paymentId"]
    return pid


def test_a_backup_taken_while_serving_restores_every_payment(tmp_path: Path) -> None:
    db, var = tmp_path / "live" / "gyeol.db", tmp_path / "live" / "var"
    env = _env(tmp_path, db, var)
    target = tmp_path / "backups" / "gyeol-copy.db"
    acknowledged: list[str] = []
    stop = threading.Event()
    with Server(env) as server, httpx.Client(headers=AUTH, timeout=30) as c:
        server.wait_ready()
        acknowledged += [_pay(c, server.url, f"before-{i}") for i in range(20)]
        acknowledged.append(_virtual_account(c, server.url, "before-va"))

        def keep_paying() -> None:
            i = 0
            while not stop.is_set():
                acknowledged.append(_pay(c, server.url, f"during-{i}"))
                i += 1

        writer = threading.Thread(target=keep_paying)
        writer.start()
        time.sleep(0.3)
        before_backup = len(acknowledged)
        try:
            done = run_cli(["backup", str(target)], env)
        finally:
            stop.set()
            writer.join()
        assert done.stdout.strip() == f"backed up to {target}"
        # The generated encryption key is not beside the copy: the command says so, naming what it is for.
        assert "encryption_key" in done.stderr and "Warning:" in done.stderr, done.stderr
    assert len(acknowledged) > before_backup, "no payment was made while the backup ran: the test proves little"

    # The operator keeps the generated secret with the backup; a second backup then has nothing to warn of.
    shutil.copy(var / "encryption_key", target.parent / "encryption_key")
    again = run_cli(["backup", str(target.parent / "second.db")], env)
    assert again.stderr == "", again.stderr
    assert run_cli(["backup", str(target)], env, check=False).returncode != 0  # never over an existing file

    # Restore on another machine: the copy and the secret kept beside it.
    restored_var = tmp_path / "restored" / "var"
    restored_var.mkdir(parents=True)
    shutil.copy(target.parent / "encryption_key", restored_var / "encryption_key")
    restored_env = _env(tmp_path, target, restored_var)
    assert run_cli(["check"], restored_env).returncode == 0
    with Server(restored_env) as server, httpx.Client(headers=AUTH, timeout=30) as c:
        server.wait_ready()
        copied = {p["paymentId"] for p in _all_payments(c, server.url)}
        for pid in acknowledged[:before_backup]:
            assert pid in copied, f"{pid}, acknowledged before the backup began, is not in the copy"
            r = c.get(server.url + f"/api/v1/payments/{pid}")
            assert r.status_code == 200 and r.json()["status"] in ("succeeded", "pending"), r.text
        assert copied <= set(acknowledged)
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def _all_payments(c: httpx.Client, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        r = c.get(url + "/api/v1/payments", params={"page": page, "size": 100})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        if len(items) >= r.json()["total"]:
            return items
        page += 1


def test_backup_of_postgres_points_to_pg_dump(tmp_path: Path) -> None:
    env = gyeol_env("postgresql://postgres@127.0.0.1:5432/test", tmp_path / "var")
    done = run_cli(["backup", str(tmp_path / "x.db")], env, check=False)
    assert done.returncode != 0 and "pg_dump" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.fixture
def installed(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """An installation that has served: migrated, its secrets generated, a virtual account stored encrypted."""
    db, var = tmp_path / "gyeol.db", tmp_path / "var"
    env = _env(tmp_path, db, var)
    with Server(env) as server, httpx.Client(headers=AUTH, timeout=30) as c:
        server.wait_ready()
        _virtual_account(c, server.url, "va-check")
    return env, db, var


def _check(env: dict[str, str]) -> tuple[int, str, str]:
    done = run_cli(["check"], env, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def test_check_passes_on_a_whole_installation(installed: tuple[dict[str, str], Path, Path]) -> None:
    env, _, _ = installed
    status, out, err = _check(env)
    assert status == 0 and err == "", (out, err)
    for what in ("var directory", "database", "migrations", "secrets"):
        assert f"ok   {what}:" in out, out
    assert "opens what is stored" in out
    status, out, err = _check({**env, "GYEOL_EVENT_BROKER_URL": "redis://127.0.0.1:6379"})
    assert status == 0 and "ok   event broker:" in out, (out, err)


def test_check_fails_with_the_reason(installed: tuple[dict[str, str], Path, Path], tmp_path: Path) -> None:
    env, db, var = installed

    status, _, err = _check({**env, "GYEOL_RATE_LIMIT_PUBLIC": "-1"})
    assert status == BAD_SETTINGS and "GYEOL_RATE_LIMIT_PUBLIC=-1 is not accepted" in err, err

    status, _, err = _check({**env, "GYEOL_DATABASE_URL": f"postgresql://u:hunter2@127.0.0.1:{free_port()}/x"})
    assert status != 0 and "FAIL database: Cannot use the database" in err and "hunter2" not in err, err

    status, _, err = _check({**env, "GYEOL_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert status != 0 and "FAIL migrations: The database is not at the newest migration" in err, err

    status, _, err = _check({**env, "GYEOL_EVENT_BROKER_URL": f"nats://127.0.0.1:{free_port()}"})
    assert status != 0 and "FAIL event broker:" in err and "cannot be reached" in err, err

    key = (var / "encryption_key").read_text()
    (var / "encryption_key").write_text(Fernet.generate_key().decode())
    status, _, err = _check(env)
    assert status != 0 and "FAIL secrets:" in err and "does not open the stored account numbers" in err, err

    (var / "encryption_key").unlink()
    status, _, err = _check(env)
    assert status != 0 and "FAIL secrets:" in err and "is missing, but the database holds merchants" in err, err

    (var / "encryption_key").write_text("")
    status, _, err = _check(env)
    assert status != 0 and "FAIL secrets:" in err and "encryption_key is empty" in err, err

    (var / "encryption_key").write_text(key)
    assert _check(env)[0] == 0
