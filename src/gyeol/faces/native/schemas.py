"""Pydantic shapes of the native API. Amounts are strict JSON integers in minor units."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from itertools import combinations
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from gyeol.connectors.base import CardData
from gyeol.core.events.types import EVENT_TYPES
from gyeol.core.money import EXPONENTS, MAX_AMOUNT
from gyeol.core.payments.commands import BankInfo, MethodSpec
from gyeol.faces.bodies import JSON_VALUE_REF

Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
Metadata = Annotated[dict[str, Any], Field(max_length=50, json_schema_extra={"additionalProperties": JSON_VALUE_REF})]
# What core.money.check_currency takes, in any case: the schema says it as a pattern (JSON Schema has no flags).
CURRENCY_PATTERN = "^(?:" + "|".join("".join(f"[{c}{c.lower()}]" for c in code) for code in sorted(EXPONENTS)) + ")$"
Currency = Annotated[StrictStr, Field(min_length=3, max_length=3, json_schema_extra={"pattern": CURRENCY_PATTERN})]
EventType = Annotated[StrictStr, Field(json_schema_extra={"enum": sorted(EVENT_TYPES | {"*"})})]
# 13 to 19 digits, a space or a hyphen between any two of them.
CARD_NUMBER = re.compile(r"[0-9](?:[ -]?[0-9]){12,18}")
METHODS = ("token", "paymentMethodId", "card")


def _well_formed(url: str) -> str:
    """A URL the checkout's redirects and the webhook sender can use: it parses, names a host, and its port is
    1 to 65535 (`URL_PATTERN`, and what urlsplit makes of it)."""
    if not _URL.fullmatch(url):
        raise ValueError("must be an http(s) URL with a host, in ASCII, and a port from 1 to 65535")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("must be a well-formed URL") from None
    if not parts.hostname or port == 0:
        raise ValueError("must name a host, and a port from 1 to 65535")
    return url


# A URL as the schema says it, and as it is checked before `_well_formed`: a scheme, a host (a name, an IPv4 address,
# or an IPv6 one in brackets, in ASCII: an international name is sent as its xn-- form), an optional port from 1 to
# 65535, then a path, query or fragment.
_HEX = "[0-9A-Fa-f]{1,4}"
_IPV4 = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}"
_LS32 = f"(?:{_HEX}:{_HEX}|{_IPV4})"
_IPV6 = "|".join([
    f"(?:{_HEX}:){{6}}{_LS32}", f"::(?:{_HEX}:){{5}}{_LS32}", f"(?:{_HEX})?::(?:{_HEX}:){{4}}{_LS32}",
    *(f"(?:(?:{_HEX}:){{0,{n - 1}}}{_HEX})?::(?:{_HEX}:){{{4 - n}}}{_LS32}" for n in (2, 3)),
    f"(?:(?:{_HEX}:){{0,3}}{_HEX})?::{_HEX}:{_LS32}", f"(?:(?:{_HEX}:){{0,4}}{_HEX})?::{_LS32}",
    f"(?:(?:{_HEX}:){{0,5}}{_HEX})?::{_HEX}", f"(?:(?:{_HEX}:){{0,6}}{_HEX})?::"])
_NAME = "[A-Za-z0-9._~!$&'()*+,;=%-]"
_PORT = "0*(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = rf"^https?://(?:(?:{_NAME}|:)*@)?(?:{_NAME}+|\[(?:{_IPV6})\])(?::(?:{_PORT})?)?(?:[/?#][\s\S]*)?$"
_URL = re.compile(URL_PATTERN)
Url = Annotated[StrictStr, Field(max_length=2000, json_schema_extra={"pattern": URL_PATTERN}),
                AfterValidator(_well_formed)]
_CARD_SEPARATORS = re.compile(r"[ -]")


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(_ISO_DATE.pattern + r"[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
                                               r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")


def _written(pattern: re.Pattern[str], what: str) -> Any:
    """A query's date or instant as the schema's `format` says it (RFC 3339), and nothing else a parser would make
    one of (`0` is no date)."""
    def check(v: Any) -> Any:
        if isinstance(v, str) and not pattern.fullmatch(v):
            raise ValueError(f"must be {what}")
        return v
    return BeforeValidator(check)


IsoDate = Annotated[date, _written(_ISO_DATE, "a date: YYYY-MM-DD")]
IsoDateTime = Annotated[datetime, _written(_ISO_DATETIME, "an instant: YYYY-MM-DDThh:mm:ssZ, or with its offset")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _digits(v: str) -> bool:
    return v.isascii() and v.isdigit()  # str.isdigit alone takes '²' and other scripts' digits


def not_expired(schema: dict[str, Any]) -> None:
    """`to_card`'s rule in the schema: a card that has not expired, written with this month's bounds (the document
    is built again when the month turns, `faces.contract`). A 2-digit year is 2000 and more."""
    now = datetime.now(UTC)
    year, month = now.year, now.month
    schema["anyOf"] = [
        {"properties": {"expYear": {"anyOf": [{"minimum": year + 1 - 2000, "maximum": 99}, {"minimum": year + 1}]}}},
        {"properties": {"expYear": {"enum": [year - 2000, year]}, "expMonth": {"minimum": month}}},
    ]


def two_methods() -> dict[str, Any]:
    """`MethodIn.to_spec`'s refusal in the schema: two of token, paymentMethodId and card, neither null."""
    return {"anyOf": [
        {"required": [a, b], "properties": {a: {"not": {"type": "null"}}, b: {"not": {"type": "null"}}}}
        for a, b in combinations(METHODS, 2)]}


def at_most_one(schema: dict[str, Any]) -> None:
    schema["not"] = two_methods()


def one_method() -> dict[str, Any]:
    """A method to pay with: one of token, paymentMethodId or card, not null."""
    return {"anyOf": [{"required": [m], "properties": {m: {"not": {"type": "null"}}}} for m in METHODS]}


class CardIn(Strict):
    model_config = ConfigDict(json_schema_extra=not_expired)

    number: StrictStr = Field(max_length=30, json_schema_extra={"pattern": f"^{CARD_NUMBER.pattern}$"})
    exp_month: StrictInt = Field(alias="expMonth", ge=1, le=12)
    exp_year: StrictInt = Field(alias="expYear", ge=0, le=9999)  # 0-99 or 2000 on: `not_expired` says which
    cvc: StrictStr = Field(json_schema_extra={"pattern": "^[0-9]{3,4}$"})

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        if not CARD_NUMBER.fullmatch(v):
            raise ValueError("must be 13-19 digits")
        return _CARD_SEPARATORS.sub("", v)

    @field_validator("cvc")
    @classmethod
    def _cvc(cls, v: str) -> str:
        if not _digits(v) or not 3 <= len(v) <= 4:
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
    model_config = ConfigDict(json_schema_extra=at_most_one)

    token: StrictStr | None = Field(default=None, min_length=1, max_length=80)
    payment_method_id: StrictStr | None = Field(default=None, alias="paymentMethodId", min_length=1, max_length=40)
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


def _card_method(schema: dict[str, Any]) -> None:
    """A card payment (the default) takes at most one method; a bank or virtual account one reads none of them."""
    card = {"anyOf": [{"not": {"required": ["paymentMethod"]}}, {"properties": {"paymentMethod": {"const": "CARD"}}}]}
    schema["not"] = {"allOf": [two_methods(), card]}


class UserPaymentIn(MethodIn):
    """`POST /api/v1/payments`: a user's payment, processed at once when it carries a method."""

    model_config = ConfigDict(json_schema_extra=_card_method)

    order_id: StrictStr = Field(alias="orderId", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    amount: Amount
    currency: Currency = "KRW"
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
    currency: Currency
    customer_id: StrictStr | None = Field(default=None, alias="customerId", max_length=64)
    user_id: StrictStr | None = Field(default=None, alias="userId", max_length=128)
    order_name: StrictStr | None = Field(default=None, alias="orderName", max_length=200)
    items: list[ItemIn] | None = Field(default=None, min_length=1, max_length=500)
    metadata: Metadata = Field(default_factory=dict)


def _confirm_needs_method(schema: dict[str, Any]) -> None:
    """`confirm: true` pays at once: with one method in methodOptions."""
    schema["if"] = {"required": ["confirm"], "properties": {"confirm": {"const": True}}}
    schema["then"] = {"required": ["methodOptions"], "properties": {"methodOptions": one_method()}}


class IntentIn(Strict):
    model_config = ConfigDict(json_schema_extra=_confirm_needs_method)

    order_id: StrictStr = Field(alias="orderId", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    amount: Amount
    currency: Currency
    description: StrictStr | None = Field(default=None, max_length=1000)
    customer_id: StrictStr | None = Field(default=None, alias="customerId", max_length=64)
    capture: StrictBool = True
    confirm: StrictBool = False
    return_url: Url | None = Field(default=None, alias="returnUrl")
    cancel_url: Url | None = Field(default=None, alias="cancelUrl")
    method_options: MethodIn | None = Field(default=None, alias="methodOptions")
    metadata: Metadata = Field(default_factory=dict)
    order_name: StrictStr | None = Field(default=None, alias="orderName", max_length=200)


def _one_method(schema: dict[str, Any]) -> None:
    at_most_one(schema)
    schema.update(one_method())


class ConfirmIn(MethodIn):
    """One method to pay with (a confirm that resumes a payment already under way needs none)."""

    model_config = ConfigDict(json_schema_extra=_one_method)


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
    billing_details: dict[str, Any] | None = Field(default=None, alias="billingDetails",
                                                    json_schema_extra={"additionalProperties": JSON_VALUE_REF})


class SandboxTokenIn(Strict):
    card: CardIn


class ThreeDSIn(Strict):
    result: Literal["approve", "fail"]
