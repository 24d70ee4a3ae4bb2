"""After one mixed workload with raw card numbers, CVCs and account numbers (native card confirms, saved methods,
bank transfers, virtual accounts, the shopping face's CARD and BANK, with Idempotency-Keys and webhook
deliveries), none of them is anywhere Gyeol keeps or says things: a stored field, the database file or a
`pg_dump`, the server's log, the idempotency records, the webhook delivery log."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from conftest import Env
from gyeol.models import idempotency_keys, webhook_deliveries
from sensitive import ACCOUNT_NUMBERS, CONTACTS, LEAK_CVCS, leaks
from test_card_leak import _dump, _every_card_flow, _leaves, _stored_values
from test_data_protection import _every_user_flow
from users import order_for, user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _keyed_and_delivered(env: Env) -> list[str]:
    """The flows again under Idempotency-Keys (their answers are kept), and every event sent to an endpoint."""
    ep = await env.client.post("/api/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]})
    assert ep.status_code == 200, ep.text
    u = user(env, "leaky")
    issued = []
    for i, (method, extra) in enumerate([
            ("CARD", {"cardInfo": {"cardNumber": "4000 0000 0000 0002", "expiryDate": "11/39", "cvc": LEAK_CVCS[0]}}),
            ("BANK", {"bankInfo": {"bankCode": "088", "accountNumber": "110-234-567890", "holderName": "김결제"}}),
            ("VIRTUAL_ACCOUNT", {})]):
        order = await order_for(env, "leaky", 5000 + i)
        body = {"orderNumber": order, "paymentMethod": method, "amount": 5000 + i, **extra}
        for _ in range(2):  # the second is answered from the idempotency record
            r = await u.post("/api/shopping/payments", json=body, headers={"Idempotency-Key": f"secret-{i}"})
            assert r.status_code in (200, 400), r.text
        if method == "VIRTUAL_ACCOUNT":
            issued.append(r.json()["data"]["virtualAccount"]["accountNumber"])
    r = await env.client.post("/api/v1/payments/intent", headers={"Idempotency-Key": "secret-native"}, json={
        "orderId": "secret-native", "amount": 1000, "currency": "KRW", "confirm": True, "methodOptions": {"card": {
            "number": "5555-5555-5555-4444", "expMonth": 3, "expYear": 2041, "cvc": LEAK_CVCS[1]}}})
    assert r.status_code == 200, r.text
    await env.svc.relay.run_once()
    await env.svc.dispatcher.run_once()
    return issued


async def test_no_card_cvc_or_account_number_anywhere_after_the_whole_workload(
        env: Env, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await _every_card_flow(env)
    issued = await _every_user_flow(env)
    issued += await _keyed_and_delivered(env)
    secrets = [*ACCOUNT_NUMBERS, *CONTACTS, *issued]

    stored = await _stored_values(env)
    assert any(v.startswith("enc:v1:") for v in stored) and any(v in ("4242", "4444") for v in stored), \
        "nothing was encrypted or no card was kept: the scan would prove nothing"
    async with env.svc.db.read() as conn:
        kept = (await conn.execute(sa.select(idempotency_keys))).mappings().all()
        deliveries = (await conn.execute(sa.select(webhook_deliveries))).mappings().all()
    assert len(kept) >= 4 and deliveries, "no idempotency record or webhook delivery to scan"
    places = {
        "a stored field": "\n".join(stored),
        "an idempotency record": "\n".join(str(dict(row)) for row in kept),
        "the webhook delivery log": "\n".join(str(dict(row)) for row in deliveries),
    }
    log_page = await env.client.get(f"/api/v1/webhook-endpoints/{deliveries[0]['endpoint_id']}/deliveries")
    places["the webhook delivery log (API)"] = log_page.text
    await env.svc.db.dispose()  # SQLite's WAL goes into the file before it is read
    places["the database file" if db_url.startswith("sqlite") else "pg_dump"] = _dump(env, db_url)
    logged = capsys.readouterr()
    places["the server's log"] = logged.out + logged.err
    assert "request" in places["the server's log"], "no log line was captured: the scan would prove nothing"

    for where, text in places.items():
        assert not leaks(text), f"{where} holds {leaks(text)}"
        for secret in secrets:
            assert secret not in text, f"{where} holds {secret}"
    for cvc in LEAK_CVCS:
        assert cvc not in stored, f"a stored field is a CVC ({cvc})"
        for where, text in places.items():
            assert f'"{cvc}"' not in text and f"'{cvc}'" not in text and f"={cvc}" not in text, (where, cvc)
    for line in places["the server's log"].splitlines():
        fields = json.loads(line[line.index("{"):]) if line.startswith("{") else {}
        assert not set(LEAK_CVCS) & set(_leaves(fields)), line
