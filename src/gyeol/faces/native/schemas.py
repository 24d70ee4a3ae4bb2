"""Pydantic shapes of the native API. Amounts are strict JSON integers in minor units."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from gyeol.connectors.base import CardData
from gyeol.core.money import MAX_AMOUNT
from gyeol.core.payments.commands import BankInfo, MethodSpec

Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
Metadata = Annotated[dict[str, Any], Field(max_length=50)]


def _well_formed(url: str) -> str:
    """A URL the checkout's redirects and the webhook sender can use: it parses, names a host, and its port is
    1 to 65535 (`http://[::1/x` and `https://host:99999/` pass the pattern alone)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("must be a well-formed URL") from None
    if not parts.hostname or port == 0:
        raise ValueError("must name a host, and a port from 1 to 65535")
    return url


Url = Annotated[StrictStr, Field(max_length=2000, pattern=r"^https?://"), AfterValidator(_well_formed)]
_CARD_SEPARATORS = re.compile(r"[ -]")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CardIn(Strict):
    number: StrictStr = Field(max_length=30)
    exp_month: StrictInt = Field(alias="expMonth", ge=1, le=12)
    exp_year: StrictInt = Field(alias="expYear", ge=0, le=9999)
    cvc: StrictStr

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        digits = _CARD_SEPARATORS.sub("", v)
        if not digits.isdigit() or not 13 <= len(digits) <= 19:
            raise ValueError("must be 13-19 digits")
        return digits

    @field_validator("cvc")
    @classmethod
    def _cvc(cls, v: str) -> str:
        if not v.isdigit() or not 3 <= len(v) <= 4:
            raise ValueError("must be 3-4 digits")
        return v

    @field_validator("exp_year")
    @classmethod
    def _year(cls, v: int) -> int:
        if v < 100:
            v += 2000
        if v < 2000:
            raise ValueError("must be a 2- or 4-digit year")
        return v

    def to_card(self) -> CardData:
        now = datetime.now(UTC)
        if (self.exp_year, self.exp_month) < (now.year, now.month):
            from gyeol.core.errors import DomainError

            raise DomainError("validation", "INVALID_EXPIRY", "The card's expiry date is in the past.",
                              details={"field": "card.expYear"})
        return CardData(self.number, self.exp_month, self.exp_year, self.cvc)


class MethodIn(Strict):
    token: StrictStr | None = Field(default=None, max_length=80)
    payment_method_id: StrictStr | None = Field(default=None, alias="paymentMethodId", max_length=40)
    card: CardIn | None = None

    def to_spec(self) -> MethodSpec:
        given = [x for x in (self.token, self.payment_method_id, self.card) if x is not None]
        if len(given) > 1:
            from gyeol.core.errors import DomainError

            raise DomainError("validation", "AMBIGUOUS_PAYMENT_METHOD",
                              "Give only one of paymentMethodId, token or card.")
        return MethodSpec(token=self.token, payment_method_id=self.payment_method_id,
                          card=self.card.to_card() if self.card else None)


class BankInfoIn(Strict):
    bank_code: StrictStr = Field(alias="bankCode", min_length=2, max_length=16, pattern=r"^[0-9A-Za-z]+$")
    account_number: StrictStr | None = Field(default=None, alias="accountNumber", max_length=30,
                                             pattern=r"^[0-9-]{6,30}$")
    holder_name: StrictStr | None = Field(default=None, alias="holderName", max_length=60)


class UserPaymentIn(MethodIn):
    """`POST /api/v1/payments`: a user's payment, processed at once when it carries a method."""

    order_id: StrictStr = Field(alias="orderId", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    amount: Amount
    currency: StrictStr = Field(default="KRW", min_length=3, max_length=3)
    payment_method: Literal["CARD", "BANK", "VIRTUAL_ACCOUNT"] = Field(default="CARD", alias="paymentMethod")
    bank_info: BankInfoIn | None = Field(default=None, alias="bankInfo")
    order_name: StrictStr | None = Field(default=None, alias="orderName", max_length=200)
    return_url: Url | None = Field(default=None, alias="returnUrl")
    cancel_url: Url | None = Field(default=None, alias="cancelUrl")
    metadata: Metadata = Field(default_factory=dict)

    def method_spec(self) -> MethodSpec | None:
        if self.payment_method == "VIRTUAL_ACCOUNT":
            return MethodSpec(type="virtual_account")
        if self.payment_method == "BANK":
            if self.bank_info is None:
                return None
            b = self.bank_info
            return MethodSpec(type="bank", bank=BankInfo(b.bank_code, b.account_number, b.holder_name))
        spec = self.to_spec()
        return spec if spec.given else None


class CompleteIn(Strict):
    payment_id: StrictStr = Field(alias="paymentId", min_length=1, max_length=40)
    pg_transaction_id: StrictStr = Field(alias="pgTransactionId", min_length=1, max_length=200)
    amount: Amount


class SandboxPayIn(Strict):
    client_token: StrictStr = Field(alias="clientToken", min_length=1, max_length=120)
    card: CardIn


class ItemIn(Strict):
    name: StrictStr = Field(min_length=1, max_length=200)
    amount: StrictInt = Field(ge=0, le=MAX_AMOUNT)
    quantity: StrictInt = Field(default=1, ge=1, le=10_000)


class OrderIn(Strict):
    order_id: StrictStr = Field(alias="orderId", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    amount: Amount
    currency: StrictStr = Field(min_length=3, max_length=3)
    customer_id: StrictStr | None = Field(default=None, alias="customerId", max_length=64)
    user_id: StrictStr | None = Field(default=None, alias="userId", max_length=128)
    order_name: StrictStr | None = Field(default=None, alias="orderName", max_length=200)
    items: list[ItemIn] | None = Field(default=None, max_length=500)
    metadata: Metadata = Field(default_factory=dict)


class IntentIn(Strict):
    order_id: StrictStr = Field(alias="orderId", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    amount: Amount
    currency: StrictStr = Field(min_length=3, max_length=3)
    description: StrictStr | None = Field(default=None, max_length=1000)
    customer_id: StrictStr | None = Field(default=None, alias="customerId", max_length=64)
    capture: StrictBool = True
    confirm: StrictBool = False
    return_url: Url | None = Field(default=None, alias="returnUrl")
    cancel_url: Url | None = Field(default=None, alias="cancelUrl")
    method_options: MethodIn | None = Field(default=None, alias="methodOptions")
    metadata: Metadata = Field(default_factory=dict)
    order_name: StrictStr | None = Field(default=None, alias="orderName", max_length=200)


class ConfirmIn(MethodIn):
    pass


class CaptureIn(Strict):
    amount: Amount | None = None


class CancelIn(Strict):
    reason: StrictStr | None = Field(default=None, max_length=500)


class RefundIn(Strict):
    payment_id: StrictStr = Field(alias="paymentId", max_length=40)
    amount: Amount | None = None
    reason: StrictStr | None = Field(default=None, max_length=500)
    metadata: Metadata = Field(default_factory=dict)


class AttachMethodIn(Strict):
    token: StrictStr = Field(min_length=1, max_length=80)
    type: Literal["card"] = "card"
    billing_details: dict[str, Any] | None = Field(default=None, alias="billingDetails")


class SandboxTokenIn(Strict):
    card: CardIn


class ThreeDSIn(Strict):
    result: Literal["approve", "fail"]
