"""A merchant's own accounts at PGs, in its settings: `{"pg": {<connector name>: {"secretKey": <encrypted>}}}`.
A merchant with an account at a PG has its paymentKey flows served by that PG's connector."""

from __future__ import annotations

from typing import Any

from gyeol.crypto import DataCipher


def accounts(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The merchant's PG accounts by connector name; their secrets still encrypted."""
    found = settings.get("pg") or {}
    return {name: dict(account) for name, account in found.items() if isinstance(account, dict)}


def secret_key(settings: dict[str, Any], connector: str, cipher: DataCipher) -> str | None:
    value = accounts(settings).get(connector, {}).get("secretKey")
    return cipher.decrypt(value) if isinstance(value, str) else None


def with_secret_key(settings: dict[str, Any], connector: str, secret: str, cipher: DataCipher) -> dict[str, Any]:
    """The settings' `pg` part with the merchant's secret key at `connector`, encrypted."""
    return {**accounts(settings), connector: {"secretKey": cipher.encrypt(secret)}}


def rotated(settings: dict[str, Any], cipher: DataCipher) -> dict[str, Any] | None:
    """The settings' `pg` part with every secret re-encrypted under the current key; None when it has none."""
    found = accounts(settings)
    if not any(a.get("secretKey") for a in found.values()):
        return None
    return {name: {**a, "secretKey": cipher.rotate(a["secretKey"])} if a.get("secretKey") else a
            for name, a in found.items()}
