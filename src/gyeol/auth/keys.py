"""Merchant secret keys on the wire: `Basic base64("<key>:")` or `Bearer <key>`."""

from __future__ import annotations

import base64
import binascii
import time

from gyeol.core.context import Caller
from gyeol.core.merchants.service import KeyRecord, MerchantService, mode_of

CACHE_SECONDS = 5.0  # a revoked key stops working in every process within this time


def key_from_header(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return value if mode_of(value) else None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, _password = decoded.partition(":")
        return user if sep and mode_of(user) else None
    return None


class KeyAuthenticator:
    def __init__(self, merchants: MerchantService) -> None:
        self.merchants = merchants
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    async def caller(self, authorization: str | None) -> Caller | None:
        key = key_from_header(authorization)
        if key is None:
            return None
        digest = self.merchants.hasher.hash(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            record = hit[1]
        else:
            record = await self.merchants.find_key(key)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + CACHE_SECONDS, record)
        if record is None:
            return None
        return Caller(merchant_id=record.merchant_id, mode=record.mode, key_id=record.key_id)

    def forget(self) -> None:
        self._cache.clear()
