"""Users' bearer tokens: JWTs minted by a merchant's own identity service, verified with that merchant's settings.

A token names its merchant in the optional `mid` claim (the default merchant otherwise) and must verify with that
merchant's keys, so one merchant's identity service can never mint tokens for another's users. Each key is used
only with its own algorithm family (an HS256 secret for HS256, a public key or JWKS for RS256/ES256), which is what
closes the HS/RS confusion attack; `alg: none` is never in the allowed list.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import jwt
import structlog

from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.merchants.service import MerchantService
from gyeol.crypto import DataCipher

log = structlog.get_logger(__name__)

ROLES = frozenset({"USER", "ADMIN"})
ASYMMETRIC = ["RS256", "ES256"]
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class JwtConfig:
    hs256_secret: str | None = None
    public_key: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    mode: str = "test"  # users' payments go to the test or the live PG

    @property
    def configured(self) -> bool:
        return bool(self.hs256_secret or self.public_key or self.jwks_url)

    def stored(self, cipher: DataCipher) -> dict[str, Any]:
        """The merchant-settings form: the HS256 secret is encrypted at rest."""
        return {"hs256Secret": cipher.encrypt(self.hs256_secret), "publicKey": self.public_key,
                "jwksUrl": self.jwks_url, "issuer": self.issuer, "audience": self.audience, "mode": self.mode}

    @classmethod
    def from_stored(cls, stored: dict[str, Any], cipher: DataCipher) -> JwtConfig:
        return cls(hs256_secret=cipher.decrypt(stored.get("hs256Secret")), public_key=stored.get("publicKey"),
                   jwks_url=stored.get("jwksUrl"), issuer=stored.get("issuer"), audience=stored.get("audience"),
                   mode=stored.get("mode") or "test")


def roles_of(claims: dict[str, Any]) -> frozenset[str]:
    raw = claims.get("roles", claims.get("role"))
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return frozenset(str(v).upper().removeprefix("ROLE_") for v in values if isinstance(v, str)) & ROLES


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


class UserAuthenticator:
    def __init__(self, merchants: MerchantService, cipher: DataCipher, default: JwtConfig) -> None:
        self.merchants = merchants
        self.cipher = cipher
        self.default = default
        self._configs: dict[str, tuple[float, str | None, JwtConfig | None]] = {}
        self._jwks: dict[str, jwt.PyJWKClient] = {}

    async def caller(self, token: str) -> Caller | None:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        mid = unverified.get("mid")
        if mid is not None and not isinstance(mid, str):
            return None
        merchant_id, config = await self._config(mid)
        if merchant_id is None or config is None or not config.configured:
            return None
        try:
            claims = await self._verify(token, str(header.get("alg")), config)
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("user_token_refused", reason=type(exc).__name__)
            return None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 128:
            return None
        return Caller(merchant_id=merchant_id, mode=config.mode, user_id=sub, roles=roles_of(claims))

    async def _verify(self, token: str, alg: str, config: JwtConfig) -> dict[str, Any]:
        key: Any
        if alg == "HS256" and config.hs256_secret:
            key, algorithms = config.hs256_secret, ["HS256"]
        elif alg in ASYMMETRIC and config.public_key:
            key, algorithms = config.public_key, ASYMMETRIC
        elif alg in ASYMMETRIC and config.jwks_url:
            client = self._jwks.setdefault(config.jwks_url, jwt.PyJWKClient(config.jwks_url, cache_keys=True))
            key, algorithms = (await asyncio.to_thread(client.get_signing_key_from_jwt, token)).key, ASYMMETRIC
        else:
            raise jwt.InvalidAlgorithmError(f"algorithm {alg!r} is not accepted for this merchant")
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=algorithms, issuer=config.issuer, audience=config.audience,
            options={"require": ["exp", "sub"], "verify_aud": config.audience is not None},
            leeway=30,
        )
        return claims

    async def _config(self, mid: str | None) -> tuple[str | None, JwtConfig | None]:
        slot = mid or ""
        now = time.monotonic()
        hit = self._configs.get(slot)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        try:
            merchant = await (self.merchants.get(mid) if mid else self.merchants.default())
        except DomainError:  # an unknown merchant: the token is simply not accepted
            merchant = None
        merchant_id, config = None, None
        if merchant is not None:
            merchant_id = merchant["id"]
            stored = (merchant.get("settings") or {}).get("jwt")
            if stored:
                config = JwtConfig.from_stored(stored, self.cipher)
            elif merchant["is_default"]:
                config = self.default
        if len(self._configs) > 10_000:
            self._configs.clear()
        self._configs[slot] = (now + CACHE_SECONDS, merchant_id, config)
        return merchant_id, config

    def forget(self) -> None:
        self._configs.clear()


def mint(secret: str, sub: str, roles: list[str], ttl_seconds: int, *, mid: str | None = None,
         issuer: str | None = None, audience: str | None = None) -> str:
    """An HS256 development token (`gyeol token`)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "roles": roles, "iat": now, "exp": now + ttl_seconds}
    if mid:
        claims["mid"] = mid
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
