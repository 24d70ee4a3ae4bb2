"""Migrations run over data: a database filled through the app, downgraded past a revision and upgraded again, on
SQLite and PostgreSQL. The app reads what was written before, and the schema's rules still hold. (The app writes
only the newest schema, so the data is written at the head and carried down and up again.)"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from conftest import PG_URL, _admin_engine, client, make_env, make_settings
from gyeol.app import create_app
from gyeol.db.engine import sync_url
from gyeol.db.migrate import alembic_config, upgrade
from gyeol.ids import new_id
from gyeol.models import merchants, outbox_events, payments
from gyeol.services import build_services

BEFORE_PARTIAL_KEYS = "0005_events"
KIOSK_AUTH = {"Authorization": "Basic dGVzdF9za19kdW1teTo="}  # base64("test_sk_dummy:")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str | None) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    if pg_url is None:
        pytest.skip("PostgreSQL is unreachable")
    name = f"gyeol_mig_{secrets.token_hex(4)}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def _fill(url: str, tmp_path: Path) -> tuple[str, list[str]]:
    """A keyed (kiosk) payment and two paid native ones without a key, through HTTP."""
    env = await make_env(url, tmp_path)
    try:
        await env.svc.merchants.ensure_default("test_sk_dummy")
        kiosk = env.client_for(**KIOSK_AUTH)
        r = await kiosk.post("/v1/payments", json={"paymentKey": "pk_migrated", "orderId": "o-keyed", "amount": 5000})
        assert r.status_code == 200, r.text
        plain = [(await env.paid(orderId=f"o-plain-{i}"))["paymentId"] for i in range(2)]
        return r.json()["paymentId"], plain
    finally:
        await env.close()


def _copy(engine: sa.Engine, payment_id: str) -> None:
    """Insert a copy of a payment under a new id: its keys, and their NULLs, as they are."""
    with engine.begin() as conn:
        row = dict(conn.execute(sa.select(payments).where(payments.c.id == payment_id)).mappings().one())
        conn.execute(payments.insert().values({**row, "id": new_id("pay"), "receipt_id": None}))


async def test_partial_key_indexes_keep_the_rows_and_the_uniqueness(empty_url: str, tmp_path: Path) -> None:
    cfg = alembic_config(empty_url)
    upgrade(empty_url)
    keyed, plain = await _fill(empty_url, tmp_path)
    command.downgrade(cfg, BEFORE_PARTIAL_KEYS)
    upgrade(empty_url)

    engine = sa.create_engine(sync_url(empty_url))
    try:
        # A paymentKey is still one payment's per merchant; payments without one never collide.
        with pytest.raises(IntegrityError):
            _copy(engine, keyed)
        _copy(engine, plain[0])
        _copy(engine, plain[0])
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar() == 5
    finally:
        engine.dispose()

    svc = build_services(make_settings(empty_url, tmp_path))
    try:
        async with client(httpx.ASGITransport(app=create_app(svc.settings, svc)), KIOSK_AUTH) as kiosk:
            found = await kiosk.get("/v1/payments/pk_migrated")
            assert found.status_code == 200 and found.json()["paymentId"] == keyed, found.text
            again = await kiosk.post("/v1/payments", json={"paymentKey": "pk_migrated", "orderId": "o-keyed",
                                                           "amount": 5000})
            assert again.status_code == 200 and again.json()["paymentId"] == keyed, again.text
    finally:
        await svc.close()


BEFORE_LIVEMODE = "0007_key_recovery"
CHILDREN = ("payment_attempts", "refunds", "settlements")


async def test_livemode_is_filled_from_each_rows_parent(empty_url: str, tmp_path: Path) -> None:
    """Rows written before every table had a mode take their parent's: a live payment's attempts, refunds,
    settlements, order and events are live, a test payment's are test; an endpoint's deliveries are of its mode."""
    upgrade(empty_url)
    env = await make_env(empty_url, tmp_path)
    try:
        live, test = (await env.paid(orderId="o-live"))["paymentId"], (await env.paid(orderId="o-test"))["paymentId"]
        for pid in (live, test):
            assert (await env.client.post("/api/v1/refunds", json={"paymentId": pid, "amount": 100})).status_code == 200
        ep = (await env.client.post("/api/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/h", "events": ["*"]})
              ).json()["endpointId"]
        event = (await env.client.get("/api/v1/events")).json()["items"][0]["id"]
        assert (await env.client.post(f"/api/v1/events/{event}/redeliver")).status_code == 200
    finally:
        await env.close()
    command.downgrade(alembic_config(empty_url), BEFORE_LIVEMODE)
    engine = sa.create_engine(sync_url(empty_url))
    try:
        with engine.begin() as conn:  # what a live key would have made, before the children had a mode
            conn.execute(sa.text("UPDATE payments SET livemode = TRUE WHERE id = :id"), {"id": live})
            conn.execute(sa.text("UPDATE webhook_endpoints SET livemode = TRUE WHERE id = :id"), {"id": ep})
        upgrade(empty_url)
        with engine.connect() as conn:
            def modes(sql: str, **params: str) -> set[bool]:
                return {bool(r[0]) for r in conn.execute(sa.text(sql), params)}
            for pid, mode in ((live, True), (test, False)):
                for table in CHILDREN:
                    assert modes(f"SELECT livemode FROM {table} WHERE payment_id = :p", p=pid) == {mode}, table
                assert modes("SELECT o.livemode FROM orders o JOIN payments p ON p.order_pk = o.id WHERE p.id = :p",
                             p=pid) == {mode}
                assert modes("SELECT livemode FROM outbox_events WHERE resource_id = :p", p=pid) == {mode}
            assert modes("SELECT livemode FROM webhook_deliveries") == {True}
    finally:
        engine.dispose()


def test_alerts_a_race_wrote_twice_are_kept_once_and_then_never_twice(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "0007_key_recovery")
    engine = sa.create_engine(sync_url(empty_url))

    def alert(attempt_id: str) -> dict[str, object]:
        return {"id": new_id("evt"), "merchant_id": "mer_1", "type": "attempt.unresolved", "resource_id": attempt_id,
                "payload": {}, "created_at": datetime.now(UTC)}

    try:
        first, twice, alone = alert("att_1"), alert("att_1"), alert("att_2")
        with engine.begin() as conn:
            conn.execute(outbox_events.insert(), [first, twice, alone])
        upgrade(empty_url)
        with engine.connect() as conn:
            kept = conn.execute(sa.select(outbox_events.c.id).order_by(outbox_events.c.seq)).scalars().all()
        assert kept == [first["id"], alone["id"]]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(outbox_events.insert(), [alert("att_2")])
    finally:
        engine.dispose()


def test_the_merchant_named_default_is_marked_the_default(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "0007_key_recovery")
    engine = sa.create_engine(sync_url(empty_url))
    try:
        with engine.begin() as conn:
            for name in ("acme", "default"):
                conn.execute(sa.text("INSERT INTO merchants (id, name, settings, created_at) VALUES "
                                     "(:id, :name, '{}', :now)"), {"id": f"mer_{name}", "name": name,
                                                                    "now": datetime.now(UTC)})
        upgrade(empty_url)
        with engine.connect() as conn:
            marked = conn.execute(sa.select(merchants.c.name).where(merchants.c.is_default)).scalars().all()
        assert marked == ["default"]
    finally:
        engine.dispose()


async def test_payments_approved_before_receipts_were_given_at_approval_get_one(empty_url: str,
                                                                                 tmp_path: Path) -> None:
    """A payment approved before its approval wrote its receipt id has one after the upgrade, unguessable and its own;
    a payment that took no money gets none."""
    upgrade(empty_url)
    env = await make_env(empty_url, tmp_path)
    try:
        paid = [(await env.paid(orderId=f"o-r{i}"))["paymentId"] for i in range(2)]
        unpaid = (await env.intent(orderId="o-unpaid"))["paymentId"]
    finally:
        await env.close()
    command.downgrade(alembic_config(empty_url), "0010_livemode")
    engine = sa.create_engine(sync_url(empty_url))
    try:
        with engine.begin() as conn:  # as the old code left a payment that no kiosk confirm or checkout page saw
            conn.execute(sa.text("UPDATE payments SET receipt_id = NULL"))
        upgrade(empty_url)
        with engine.connect() as conn:
            got = dict(conn.execute(sa.select(payments.c.id, payments.c.receipt_id)).all())
    finally:
        engine.dispose()
    assert got[unpaid] is None
    assert all(got[p] and got[p].startswith("rcpt_") and len(got[p]) > 25 for p in paid), got
    assert got[paid[0]] != got[paid[1]]


async def test_a_payments_face_becomes_its_channel(empty_url: str, tmp_path: Path) -> None:
    """The face a payment was created on, as it was stored, is its channel in the core's terms after the upgrade, and
    the app reads the payments written before."""
    upgrade(empty_url)
    paid = await _fill(empty_url, tmp_path)
    command.downgrade(alembic_config(empty_url), "0012_receipts_at_approval")
    engine = sa.create_engine(sync_url(empty_url))
    try:
        with engine.connect() as conn:
            faces = dict(conn.execute(sa.text("SELECT id, face FROM payments")).all())
        assert faces == {paid[0]: "kiosk", paid[1][0]: "native", paid[1][1]: "native"}
        upgrade(empty_url)
        with engine.connect() as conn:
            channels = dict(conn.execute(sa.select(payments.c.id, payments.c.channel)).all())
        assert channels == {paid[0]: "toss_payment", paid[1][0]: "api", paid[1][1]: "api"}
    finally:
        engine.dispose()
    svc = build_services(make_settings(empty_url, tmp_path))
    try:
        async with client(httpx.ASGITransport(app=create_app(svc.settings, svc)), KIOSK_AUTH) as kiosk:
            got = await kiosk.get("/v1/payments/pk_migrated")
            assert got.status_code == 200 and got.json()["status"] == "INITIATED", got.text
    finally:
        await svc.close()


async def test_the_ledger_is_backfilled_as_the_code_books_it_and_verifies(empty_url: str, tmp_path: Path) -> None:
    """Payments, refunds and settlements written by the app, their ledger dropped (0013) and backfilled by 0014:
    the same transfers as the money movements wrote, and `verify` finds no difference."""
    from gyeol.models import ledger_transfers

    upgrade(empty_url)
    env = await make_env(empty_url, tmp_path)
    try:
        c = env.client
        refunded = (await env.paid(9_000, orderId="o-refunded"))["paymentId"]
        assert (await c.post("/api/v1/refunds", json={"paymentId": refunded, "amount": 4_000})).status_code == 200
        refused = await c.post("/api/v1/refunds", json={"paymentId": refunded, "amount": 1_000},
                               headers={"Gyeol-Sandbox-Fault": "error"})
        assert refused.status_code == 402, refused.text
        waiting = await c.post("/api/v1/refunds", json={"paymentId": refunded, "amount": 500},
                               headers={"Gyeol-Sandbox-Fault": "timeout"})
        assert waiting.status_code == 504, waiting.text
        manual = {"capture": False, "confirm": True, "methodOptions": {"token": "tok_visa"}}
        captured = (await env.intent(8_000, orderId="o-captured", **manual))["paymentId"]
        assert (await c.post(f"/api/v1/payments/{captured}/capture", json={"amount": 5_000})).status_code == 200
        voided = (await env.intent(3_000, orderId="o-voided", **manual))["paymentId"]
        assert (await c.post(f"/api/v1/payments/{voided}/cancel")).status_code == 200
        env.svc.clock.advance(timedelta(days=7))
        assert await env.svc.settlements.mark_paid() == 3
        await env.intent(2_000, orderId="o-held", **manual)
        await env.paid(1_500, orderId="o-usd", currency="USD")
    finally:
        await env.close()

    def booked() -> list[tuple[object, ...]]:
        engine = sa.create_engine(sync_url(empty_url))
        try:
            with engine.connect() as conn:
                t = ledger_transfers
                rows = conn.execute(sa.select(t.c.id, t.c.code, t.c.phase, t.c.amount, t.c.held_id, t.c.payment_id,
                                              t.c.pg_transaction_id, t.c.available_on, t.c.debit_account_id,
                                              t.c.credit_account_id)).all()
        finally:
            engine.dispose()
        # A payout's id is made at each booking: its transfer is compared by what it moved.
        return sorted(("(payout)", *r[1:]) if r[1] == "payout" else tuple(r) for r in rows)

    written = booked()
    assert {r[2] for r in written} == {"held", "post", "void", "posted"}
    command.downgrade(alembic_config(empty_url), "0013_payment_channel")
    upgrade(empty_url)
    assert booked() == written
    svc = build_services(make_settings(empty_url, tmp_path))
    try:
        assert (await svc.ledger.verify()).differences == []
    finally:
        await svc.close()


async def test_0017_fills_the_daily_totals_with_what_was_kept_as_it_happened(empty_url: str, tmp_path: Path) -> None:
    """A store that has served (every kind of payment change, over two days, two modes, two merchants) has the same
    daily totals after 0017 fills them from its payments and refunds as those kept with each change."""
    from test_dashboard_totals import kept, summed, workload

    upgrade(empty_url)
    env = await make_env(empty_url, tmp_path)
    try:
        await workload(env)
        before = await kept(env)
        assert before == await summed(env) and len(before) > 5
        command.downgrade(alembic_config(empty_url), "0015_dashboard")
        upgrade(empty_url)
        assert await kept(env) == before
    finally:
        await env.close()
