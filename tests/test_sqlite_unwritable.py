"""SQLite that cannot write. `gyeol serve` refuses to start on a database file or directory it cannot write, with one
line naming the path (exit 78). On a disk that fills while Gyeol serves, a write that needs room it cannot get is
answered 503 DATABASE_NOT_WRITABLE with Retry-After, in each face's format, and leaves no row of the refused
transaction; reads go on, and once there is room again the same process writes again and each refused request
retried under its key goes through once. (A running server's directory cannot be made read-only under it: the
kernel refuses to remount a file system with files open for writing.)"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from faces import assert_face_error
from procs import Server, free_port, gyeol_env, run_cli
from stores import fill, read_only, small_disk

KEY = "test_sk_full"
MERCHANT = {"Authorization": f"Bearer {KEY}"}
KIOSK = {"Authorization": "Basic dGVzdF9za19mdWxsOg=="}  # test_sk_full:
JWT_SECRET = "test-jwt-secret-for-the-full-disk-0123456789"


@pytest.mark.parametrize("existing", [True, False], ids=["database", "new-database"])
def test_serve_refuses_a_sqlite_path_it_cannot_write(existing: bool, sqlite_template: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    db = store / "gyeol.db"
    if existing:
        shutil.copy(sqlite_template, db)
    env = gyeol_env(f"sqlite:///{db}", tmp_path / "var", GYEOL_TEST_SECRET_KEY=KEY)
    with read_only(store):
        done = run_cli(["serve", "--port", str(free_port())], env, check=False)
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 78, said
    assert len(said.splitlines()) == 1 and "Traceback" not in said, said
    assert f"{db if existing else store} is not writable" in said, said
    assert sorted(p.name for p in store.iterdir()) == (["gyeol.db"] if existing else []), "it wrote there"


def _room_for(db: Path) -> int:
    """A disk, in megabytes, with room for the database and a little more."""
    return db.stat().st_size // (1 << 20) + 8


def _rows(db: Path) -> dict[str, int]:
    """Every table's row count, read beside the server (a read-only connection writes nothing)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _user(sub: str) -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": sub, "roles": ["USER"], "iat": now, "exp": now + 3600}, JWT_SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def _pay(order: str, amount: int) -> dict[str, Any]:
    return {"orderId": order, "amount": amount, "currency": "KRW", "confirm": True,
            "methodOptions": {"token": "tok_visa"}}


TRIES = 10  # writes of a face until one is refused: a small one may still fit where a bigger one did not


def _face_write(face: str, n: int) -> tuple[str, dict[str, Any], dict[str, str]]:
    """A write of `face`, its n-th; the shop's and the shopping face's pay orders made before the disk filled."""
    if face == "native":
        return "/api/v1/payments/intent", _pay(f"full-native-{n}", 3000), {}
    if face == "kiosk":
        return "/v1/payments", {"paymentKey": f"pk_full_{n}", "orderId": f"full-kiosk-{n}", "amount": 5000}, KIOSK
    if face == "shop":
        return "/api/payments/confirm", {"paymentKey": f"pk_shop_{n}", "orderId": f"full-shop-{n}", "amount": 5000}, {}
    card = {"cardNumber": "4242424242424242", "expiryDate": "12/39", "cvc": "123"}
    return "/api/shopping/payments", {"orderNumber": f"full-shopping-{n}", "paymentMethod": "CARD", "amount": 5000,
                                      "cardInfo": card}, _user("full-user")


def _answered(face: str, body: Any) -> bool:
    """What a face answers to a write that went through."""
    if face == "native":
        return bool(body["status"] == "succeeded")
    if face == "kiosk":
        return bool(body["status"] == "INITIATED")
    if face == "shop":
        return body["success"] is True
    return bool(body["data"]["status"] == "COMPLETED")


async def test_a_full_disk_refuses_writes_clearly_and_leaves_no_partial_rows(sqlite_template: Path,
                                                                             tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", _room_for(sqlite_template)) as disk:
        db = disk / "gyeol.db"
        shutil.copy(sqlite_template, db)
        env = gyeol_env(f"sqlite:///{db}", tmp_path / "var", GYEOL_TEST_SECRET_KEY=KEY, GYEOL_JWT_SECRET=JWT_SECRET)
        with Server(env) as s:
            await asyncio.to_thread(s.wait_ready)
            async with httpx.AsyncClient(base_url=s.url, headers=MERCHANT, timeout=60) as c:
                for n in range(TRIES):
                    for order, user in ((f"full-shop-{n}", None), (f"full-shopping-{n}", "full-user")):
                        r = await c.post("/api/v1/orders", json={"orderId": order, "amount": 5000, "currency": "KRW",
                                                                 "userId": user})
                        assert r.status_code == 200, r.text

                filler = fill(disk)
                # SQLite writes into the room its WAL already has until it needs more: the first refusal comes
                # after a few writes. Each is one transaction (an order): refused, it leaves no row.
                for n in range(500):
                    before = _rows(db)
                    r = await c.post("/api/v1/orders", json={"orderId": f"fill-{n}", "amount": 100, "currency": "KRW"})
                    if r.status_code != 200:
                        break
                else:
                    raise AssertionError("the disk never filled")
                _not_writable("/api/v1/orders", r)
                assert _rows(db) == before

                # Every face's writes are refused alike; reads still answer. A request of several transactions may
                # have committed its first ones before one was refused: its retry under its key carries it on.
                refused: dict[str, int] = {}
                for face in ("native", "kiosk", "shop", "shopping"):
                    for n in range(TRIES):
                        path, body, headers = _face_write(face, n)
                        r = await c.post(path, json=body, headers={**headers, "Idempotency-Key": f"full-{face}-{n}"})
                        if r.status_code == 200:
                            assert _answered(face, r.json()), (face, r.text)
                            continue
                        _not_writable(path, r)
                        refused[face] = n
                        break
                    else:
                        raise AssertionError(f"no {face} write was refused")
                assert (await c.get("/api/v1/orders/full-shop-0")).status_code == 200

                filler.unlink()
                for face, n in refused.items():
                    path, body, headers = _face_write(face, n)
                    r = await c.post(path, json=body, headers={**headers, "Idempotency-Key": f"full-{face}-{n}"})
                    assert r.status_code == 200 and _answered(face, r.json()), (face, r.text)
                    if face == "native":
                        pid = r.json()["paymentId"]
                        charges = (await c.get("/api/v1/sandbox/charges", params={"paymentId": pid})).json()
                        assert [(x["kind"], x["status"]) for x in charges["items"]] == [("charge", "succeeded")]
                r = await c.post("/api/v1/orders", json={"orderId": "after", "amount": 100, "currency": "KRW"})
                assert r.status_code == 200, r.text
            assert s.proc.poll() is None, "the server died"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            # Nothing doubled: one payment per order, one charge per payment.
            assert conn.execute("SELECT order_id FROM payments GROUP BY merchant_id, order_id HAVING count(*) > 1"
                                ).fetchall() == []
            assert conn.execute("SELECT payment_id FROM sandbox_charges WHERE kind = 'charge' AND status = 'succeeded'"
                                " GROUP BY payment_id HAVING count(*) > 1").fetchall() == []
    assert "Traceback" not in s.output(), s.output()[-3000:]


def _not_writable(path: str, r: httpx.Response) -> None:
    body = assert_face_error(path, r, 503)
    assert r.headers.get("retry-after", "").isdigit(), (path, r.headers)
    if path.startswith("/api/v1/"):
        assert body["error"]["code"] == "DATABASE_NOT_WRITABLE", body
    elif path.startswith("/v1/"):
        assert body["code"] == "DATABASE_NOT_WRITABLE", body
