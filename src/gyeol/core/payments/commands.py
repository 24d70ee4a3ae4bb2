"""What callers ask of the payment core, independent of any face's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gyeol.connectors.base import CardData


@dataclass(frozen=True)
class MethodSpec:
    token: str | None = None
    payment_method_id: str | None = None
    card: CardData | None = None
    payment_key: str | None = None
    type: str = "card"

    @property
    def given(self) -> bool:
        return bool(self.token or self.payment_method_id or self.card or self.payment_key)


@dataclass(frozen=True)
class CreateIntent:
    order_id: str
    amount: int
    currency: str = "KRW"
    capture: bool = True
    description: str | None = None
    customer_id: str | None = None
    user_id: str | None = None
    return_url: str | None = None
    cancel_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    order_name: str | None = None
    confirm: bool = False
    method: MethodSpec | None = None
    face: str = "native"
    payment_key: str | None = None
    payment_number: str | None = None


@dataclass(frozen=True)
class ResolvedMethod:
    type: str
    token: str | None = None
    payment_method_id: str | None = None
    brand: str | None = None
    last4: str | None = None
    payment_key: str | None = None
    connector: str | None = None  # chosen at resolution for paymentKey flows (the merchant's Toss, or sandbox)
