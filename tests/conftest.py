"""Every test talks HTTP to a real app on a real database: SQLite and PostgreSQL, each test isolated.

PostgreSQL comes from GYEOL_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
The session creates a private database there, migrates it once, and truncates it between tests.
Without a reachable server the PostgreSQL half is skipped with one loud line, except under CI=true.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gyeol.app import create_app
from gyeol.config import Settings
from gyeol.db.migrate import upgrade
from gyeol.models import metadata
from gyeol.services import Services, build_services
from sensitive import leaks

PG_URL = os.environ.get("GYEOL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
WEBHOOK_SECRET = "whsec_" + "dGVzdC1zYW5kYm94LXdlYmhvb2stc2VjcmV0LTAxMjM0NTY3"
_pg_skip_reason: list[str] = []
_loud_skips: list[str] = []


def _admin_engine() -> sa.Engine:
    url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    try:
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {PG_URL} is unreachable: {exc}")
        _pg_skip_reason.append(f"PostgreSQL at {PG_URL} is unreachable ({type(exc).__name__})")
        yield None
        return
    name = f"gyeol_t_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "gyeol.db"
    upgrade(f"sqlite:///{path}")
    return path


def truncate_all(url: str) -> None:
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "gyeol.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str | None = request.getfixturevalue("pg_url")
    if url is None:
        pytest.skip(_pg_skip_reason[0])
    truncate_all(url)
    return url


def make_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "var_dir": tmp_path / "var", "public_url": "http://testserver",
        "key_hash_secret": "test-key-hash-secret", "sandbox_webhook_secret": WEBHOOK_SECRET,
        "rate_limit": 1e6, "env": "test", "log_json": True,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Env:
    """One app on one database, with a merchant (`acme`) and a client authenticated as it."""

    settings: Settings
    svc: Services
    app: Any
    transport: httpx.ASGITransport
    client: httpx.AsyncClient
    key: str
    merchant_id: str
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client_for(self, key: str | None = None, **headers: str) -> httpx.AsyncClient:
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        c = client(self.transport, headers)
        self._clients.append(c)
        return c

    async def close(self) -> None:
        for c in self._clients:
            await c.aclose()
        await self.svc.close()

    async def new_merchant(self, name: str) -> tuple[httpx.AsyncClient, str, str]:
        merchant, key = await self.svc.merchants.create(name)
        return self.client_for(key), key, merchant["id"]

    async def intent(self, amount: int = 10_000, **body: Any) -> dict[str, Any]:
        payload = {"orderId": body.pop("orderId", f"ord-{secrets.token_hex(6)}"), "amount": amount,
                   "currency": "KRW", "returnUrl": "https://shop.example/return",
                   "cancelUrl": "https://shop.example/cancel", **body}
        r = await self.client.post("/api/v1/payments/intent", json=payload)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def paid(self, amount: int = 10_000, **body: Any) -> dict[str, Any]:
        return await self.intent(amount, confirm=True, methodOptions={"token": "tok_visa"}, **body)

    async def charges(self, payment_id: str) -> list[dict[str, Any]]:
        r = await self.client.get("/api/v1/sandbox/charges", params={"paymentId": payment_id})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


async def make_env(db_url: str, tmp_path: Path, **overrides: Any) -> Env:
    settings = make_settings(db_url, tmp_path, **overrides)
    svc = build_services(settings)
    app = create_app(settings, svc)
    transport = httpx.ASGITransport(app=app)
    await svc.sandbox_sender.client.aclose()
    svc.sandbox_sender.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    merchant, key = await svc.merchants.create("acme")
    c = client(transport, {"Authorization": f"Bearer {key}"})
    return Env(settings, svc, app, transport, c, key, merchant["id"], [c])


async def _no_card_data_in_responses(response: httpx.Response) -> None:
    found = leaks((await response.aread()).decode("utf-8", "replace"))
    assert not found, f"a response body holds card/account data: {found}"


def client(transport: httpx.AsyncBaseTransport, headers: dict[str, str]) -> httpx.AsyncClient:
    """Every test client checks every response body for card and account numbers."""
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers,
                             event_hooks={"response": [_no_card_data_in_responses]})


@pytest.fixture
async def env(db_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    e = await make_env(db_url, tmp_path)
    try:
        yield e
    finally:
        await e.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Whatever a test printed or logged is scanned for card and account numbers: a leak fails the test."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    captured = "\n".join(content for _, content in report.sections)
    found = leaks(captured)
    if found and report.passed:
        report.outcome = "failed"
        report.longrepr = f"card/account data in captured output or logs: {found}"


def loud_skip(reason: str) -> None:
    """Skip a test that cannot run on this machine (it needs root, a tool): one loud line at the end of the run, and
    a failure under CI=true, where everything it needs is there."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    _loud_skips.append(reason)
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _pg_skip_reason:
        terminalreporter.write_line(f"!!! POSTGRESQL TESTS SKIPPED: {_pg_skip_reason[0]} !!!", red=True, bold=True)
    for reason in dict.fromkeys(_loud_skips):
        terminalreporter.write_line(f"!!! SKIPPED: {reason} !!!", red=True, bold=True)
