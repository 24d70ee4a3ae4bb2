"""Encryption at rest for sensitive fields (account numbers, PG credentials, contact details).

Keys come from GYEOL_ENCRYPTION_KEYS, a comma-separated list of Fernet keys whose first key is
current; older keys still decrypt, so keys can be rotated and data re-encrypted at leisure
(`gyeol keys rotate-data`). Without the variable a development key is generated into ./var/.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gyeol.secrets_store import var_secret

PREFIX = "enc:v1:"


class DataCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        self._current = Fernet(keys[0].strip().encode())

    @classmethod
    def from_settings(cls, configured: str | None, var_dir: Path) -> DataCipher:
        if configured:
            return cls([k for k in configured.split(",") if k.strip()])
        key = var_secret(var_dir, "encryption_key", make="fernet", warn=True)
        return cls([key])

    def encrypt(self, plain: str | None) -> str | None:
        if plain is None:
            return None
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str | None) -> str | None:
        if stored is None:
            return None
        if not stored.startswith(PREFIX):
            raise ValueError("not an encrypted value")
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise ValueError("no configured key decrypts this value") from None

    def rotate(self, stored: str | None) -> str | None:
        """Re-encrypt under the current key (a no-op for values already under it, but a fresh token)."""
        if stored is None:
            return None
        return PREFIX + self._fernet.rotate(stored[len(PREFIX):].encode()).decode()
