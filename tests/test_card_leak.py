"""Every card-accepting flow, with each test card in each spelling, and the ways to read what Gyeol keeps (its
stored fields, a dump of its database): `test_secrets.py` runs the flows and scans everything once."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from conftest import Env
from gyeol.models import metadata
from sensitive import CARD_NUMBERS, LEAK_CVCS, spellings


async def _every_card_flow(env: Env) -> None:
    """Each card-accepting endpoint, with each test card in each spelling."""
    for i, number in enumerate(CARD_NUMBERS):
        for j, spelled in enumerate(spellings(number)):
            card = {"number": spelled, "expMonth": 9, "expYear": 2038, "cvc": LEAK_CVCS[(i + j) % 2]}
            tag = f"{i}-{j}"
            await env.client.post("/api/v1/payments/intent", json={
                "orderId": f"leak-a-{tag}", "amount": 1000, "currency": "KRW", "confirm": True,
                "methodOptions": {"card": card}})
            pay = await env.intent(2000, orderId=f"leak-b-{tag}")
            await env.client.post(f"/api/v1/payments/{pay['paymentId']}/confirm", json={"card": card},
                                  headers={"Idempotency-Key": f"leak-{tag}"})
            tok = await env.client.post("/api/v1/sandbox/tokens", json={"card": card})
            if tok.status_code == 200:
                await env.client.post(f"/api/v1/customers/cus-{tag}/payment-methods",
                                      json={"token": tok.json()["token"]})
    # bad input carrying a card must not echo it either
    await env.client.post("/api/v1/payments/intent", json={
        "orderId": "leak-bad", "amount": "1", "currency": "KRW", "confirm": True,
        "methodOptions": {"card": {"number": CARD_NUMBERS[0], "expMonth": 99, "expYear": 1, "cvc": LEAK_CVCS[0]}}})


async def _stored_values(env: Env) -> list[str]:
    values: list[str] = []
    async with env.svc.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).mappings():
                for v in row.values():
                    if isinstance(v, dict | list):
                        values.extend(_leaves(v))
                    elif isinstance(v, bytes):
                        values.append(v.decode("utf-8", "replace"))
                    elif v is not None:
                        values.append(str(v))
    return values


def _leaves(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _leaves(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _leaves(v)]
    return [str(obj)]


def _dump(env: Env, db_url: str) -> str:
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()]
        return "\n".join(p.read_bytes().decode("latin-1") for p in files)
    url = make_url(db_url)
    done = subprocess.run(["pg_dump", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U",
                           url.username or "postgres", "--no-owner", url.database or ""],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout
