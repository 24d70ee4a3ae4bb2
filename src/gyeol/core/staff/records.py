"""Staff accounts, their sessions and audit entries, as the core returns them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from gyeol.core.context import Caller
from gyeol.core.records import Record

ROLES = ("owner", "admin", "viewer")
Role = Literal["owner", "admin", "viewer"]


@dataclass(frozen=True, slots=True)
class Staff(Record):
    id: str
    merchant_id: str
    email: str
    role: str  # one of ROLES
    password_hash: str
    totp_secret: str | None  # encrypted
    totp_enabled: bool
    recovery_codes: list[str]  # hashes of the codes not used yet
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def can_change(self) -> bool:
        """A viewer sees everything of its merchant and changes nothing."""
        return self.role in ("owner", "admin")


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who, for which merchant, viewing test or live data."""

    id: str  # the SHA-256 of the cookie's token
    staff: Staff
    stage: str  # second_factor | signed_in
    livemode: bool
    csrf_token: str
    address: str | None
    last_seen_at: datetime
    created_at: datetime

    @property
    def caller(self) -> Caller:
        """The staff member as the core's services know callers: its merchant, in the mode it is viewing."""
        return Caller(merchant_id=self.staff.merchant_id, mode="live" if self.livemode else "test",
                      key_id=f"staff:{self.staff.id}")

    @property
    def signed_in(self) -> bool:
        return self.stage == "signed_in"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, and from where: what an audit entry records."""

    merchant_id: str
    staff_id: str | None
    email: str | None
    address: str | None
    livemode: bool | None = None

    @classmethod
    def of(cls, session: Session) -> Actor:
        return cls(session.staff.merchant_id, session.staff.id, session.staff.email, session.address,
                   session.livemode)


@dataclass(frozen=True, slots=True)
class AuditEntry(Record):
    seq: int
    merchant_id: str
    livemode: bool | None
    staff_id: str | None
    staff_email: str | None
    action: str
    target: str | None
    details: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    created_at: datetime | None = None
