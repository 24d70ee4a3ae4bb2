"""Who is calling: a merchant's key, or one of the merchant's users with a JWT; and in which mode.

The mode is the caller's as much as the merchant is: a key is a test or a live key, and a user's token takes the
mode of its merchant's JWT settings. Every read is scoped by both, so test and live data never meet.
"""

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
    def is_user(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        """A user token with the ADMIN role: sees every payment of its merchant, and may refund."""
        return self.user_id is not None and "ADMIN" in self.roles

    def owns(self, merchant_id: str, livemode: bool) -> bool:
        """Whether a row read by its id alone, of `merchant_id` in `livemode`, is this caller's: its merchant's, in
        its mode. Reads by id leave both out of the WHERE and check them here: with `merchant_id` in, PostgreSQL
        could plan on the merchant's index instead of the id's (a generic plan made while the table was small, kept
        by the connection's prepared statement), and read all of the merchant's rows for each one; this machine's
        PostgreSQL, which never analyzes, did."""
        return merchant_id == self.merchant_id and bool(livemode) == self.livemode

    @property
    def scope(self) -> str:
        """The idempotency scope: the user in its mode where a user token is used (a merchant may switch its users'
        mode; a key's own mode never changes), else the key."""
        return f"user:{self.mode}:{self.user_id}" if self.user_id else f"key:{self.key_id}"
