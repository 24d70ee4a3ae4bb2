"""Payment data at rest: card numbers and CVCs never stored; account numbers, contacts and credentials encrypted;
`gyeol keys rotate-data` moves everything to the current key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from conftest import Env, make_env
from gyeol.core.rotation import rotate_all
from gyeol.crypto import DataCipher
from sensitive import CONTACTS, LEAK_CVCS
from test_card_leak import _stored_values
from users import enable_users, order_for, user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _every_user_flow(env: Env) -> list[str]:
    """Seed 002 and 003 flows with cards, bank accounts, virtual accounts and billing details."""
    await enable_users(env)
    u = user(env, "leaky")
    issued: list[str] = []
    for i, spelled in enumerate(("1234-5678-9012-3456", "1234 5678 9012 3456", "1234567890123456")):
        order = await order_for(env, "leaky", 1000)
        r = await u.post("/api/shopping/payments", json={
            "orderNumber": order, "paymentMethod": "CARD", "amount": 1000,
            "cardInfo": {"cardNumber": spelled, "expiryDate": "12/39", "cvc": LEAK_CVCS[i % 2]}})
        assert r.status_code == 200, r.text
    for number in ("110-234-567890", "1002-345-678901"):
        order = await order_for(env, "leaky", 2000)
        r = await u.post("/api/shopping/payments", json={
            "orderNumber": order, "paymentMethod": "BANK", "amount": 2000,
            "bankInfo": {"bankCode": "004", "accountNumber": number, "holderName": "김결제"}})
        assert r.status_code == 200, r.text
    for _ in range(2):
        order = await order_for(env, "leaky", 3000)
        r = await u.post("/api/shopping/payments", json={"orderNumber": order, "paymentMethod": "VIRTUAL_ACCOUNT",
                                                         "amount": 3000})
        assert r.status_code == 200, r.text
        issued.append(r.json()["data"]["virtualAccount"]["accountNumber"])
    r = await u.post("/api/v1/payments", json={
        "orderId": await order_for(env, "leaky", 4000), "amount": 4000, "paymentMethod": "CARD",
        "card": {"number": "4242 4242 4242 4242", "expMonth": 1, "expYear": 2040, "cvc": LEAK_CVCS[0]}})
    assert r.status_code == 200, r.text
    tok = (await env.client.post("/api/v1/sandbox/tokens", json={"card": {
        "number": "5555555555554444", "expMonth": 2, "expYear": 2041, "cvc": LEAK_CVCS[1]}})).json()["token"]
    r = await env.client.post("/api/v1/customers/cus-leaky/payment-methods", json={
        "token": tok, "billingDetails": {"name": "김결제", "email": CONTACTS[0], "phone": CONTACTS[1]}})
    assert r.status_code == 200, r.text
    return issued


async def test_rotate_data_moves_everything_to_the_new_key(db_url: str, tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = await make_env(db_url, tmp_path, encryption_keys=old)
    try:
        await _every_user_flow(env)
        await env.svc.merchants.update_settings(env.merchant_id, {"pg": {"toss": {
            "secretKey": env.svc.cipher.encrypt("test_sk_toss_for_rotation")}}})
        member = await env.svc.staff.create(env.merchant_id, "totp@acme.example", "owner", "a long password")
        totp_secret, _ = await env.svc.staff.totp_begin(member.id)
        before = [v for v in await _stored_values(env) if v.startswith("enc:v1:")]
        assert before
        # the operator puts the new key first and keeps the old one to read what is stored
        env.svc.cipher = DataCipher([new, old])
        counts = await rotate_all(env.svc)
        assert counts["paymentAccounts"] == 4 and counts["billingDetails"] == 1 and counts["merchantSecrets"] == 1
        assert counts["staffSecrets"] == 1
        after = [v for v in await _stored_values(env) if v.startswith("enc:v1:")]
        only_new = DataCipher([new])
        plain = [only_new.decrypt(v) for v in after]
        assert "110-234-567890" in plain and "test_sk_toss_for_rotation" in plain and totp_secret in plain
        with pytest.raises(ValueError):
            DataCipher([old]).decrypt(after[0])
    finally:
        await env.close()


def test_cipher_refuses_plaintext_and_unknown_keys() -> None:
    a = DataCipher([Fernet.generate_key().decode()])
    b = DataCipher([Fernet.generate_key().decode()])
    sealed: Any = a.encrypt("110-234-567890")
    assert sealed.startswith("enc:v1:") and "567890" not in sealed
    with pytest.raises(ValueError):
        b.decrypt(sealed)
    with pytest.raises(ValueError):
        a.decrypt("110-234-567890")


def test_a_generated_key_is_never_read_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two servers starting at once on one var directory both generate the development key. The second must read
    the first's whole key, never the file the first has created but not yet written (it once started with '')."""
    from gyeol import secrets_store

    seen: list[str] = []
    started: list[bool] = []
    real_write = secrets_store.os.write

    def write_while_another_starts(fd: int, data: bytes) -> int:
        if not started:  # the other server starts in the middle of this one's write
            started.append(True)
            seen.append(secrets_store.var_secret(tmp_path, "encryption_key", make="fernet"))
        return real_write(fd, data)

    monkeypatch.setattr(secrets_store.os, "write", write_while_another_starts)
    first = secrets_store.var_secret(tmp_path, "encryption_key", make="fernet")
    assert seen == [first] and DataCipher([first]).decrypt(DataCipher([first]).encrypt("x")) == "x"
    assert (tmp_path / "encryption_key").read_text() == first
    assert [p.name for p in tmp_path.iterdir()] == ["encryption_key"]  # no temporary file left behind
    assert (tmp_path / "encryption_key").stat().st_mode & 0o777 == 0o600
