"""Who is calling: a merchant's key, or one of the merchant's users with a JWT."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Caller:
    merchant_id: str
    mode: str  # "test" | "live"
    key_id: str | None = None
    user_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def livemode(self) -> bool:
        return self.mode == "live"

    @property
    def scope(self) -> str:
        """The idempotency scope: the user where a user token is used, else the key."""
        return f"user:{self.user_id}" if self.user_id else f"key:{self.key_id}"
