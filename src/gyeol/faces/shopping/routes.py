"""Seed 002's shopping-service payment API at /api/shopping/payments: users' JWTs, envelopes, S0xx/C0xx codes.

The rules of the seed that are this face's own (card format, refunds by ADMIN only) live here, and its cancel
rules (the 7-day window, no cancel of a bank transfer) are a policy it hands the core, which checks it under the
payment's lock; money moves only through the core's payments and refunds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field, StrictStr

from gyeol.connectors.base import CardData
from gyeol.core.clock import KST, iso
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.payments.commands import METHOD_TYPES, BankInfo, CancelPolicy, CreateIntent, MethodSpec
from gyeol.core.payments.records import Channel, Payment
from gyeol.core.refunds.service import RefundCommand
from gyeol.core.states import PAYMENT_CLOSED, PAYMENT_MONEY_TAKEN
from gyeol.faces.http import JSONRoute, raises
from gyeol.faces.native.deps import Fault, Sensitive, Svc
from gyeol.faces.native.deps import caller as any_caller
from gyeol.faces.native.schemas import BankInfoIn, Strict
from gyeol.faces.toss_schemas import Amount
from gyeol.services import Services

router = APIRouter(route_class=JSONRoute, prefix="/api/shopping/payments", tags=["Shopping mall: user payments (KRW)"])

CANCEL_POLICY = CancelPolicy(window=timedelta(days=7), refunded_only=frozenset({"bank"}))
METHOD_NAMES = {v: k for k, v in METHOD_TYPES.items()}
STATUS = {"created": "PENDING", "pending": "PROCESSING", "authorized": "PROCESSING", "succeeded": "COMPLETED",
          "captured": "COMPLETED", "failed": "FAILED", "canceled": "CANCELLED", "voided": "CANCELLED",
          "refunded": "REFUNDED"}
_SEPARATORS = re.compile(r"[ -]")
_CARD_NUMBER = re.compile(r"[0-9](?:[ -]?[0-9]){15}")
_EXPIRY = re.compile(r"(0[1-9]|1[0-2])/([0-9]{2})")
_MONTH = "(?:0[1-9]|1[0-2])"


class CardInfoIn(Strict):
    card_number: StrictStr = Field(alias="cardNumber", max_length=40)
    expiry_date: StrictStr = Field(alias="expiryDate", max_length=10)
    cvc: StrictStr = Field(max_length=10)

    def __repr__(self) -> str:
        return "CardInfoIn(…)"


def _years_after(yy: int) -> str | None:
    """A pattern of the two-digit years after `yy`."""
    tens, ones = divmod(yy, 10)
    parts = ([f"{tens}[{ones + 1}-9]"] if ones < 9 else []) + ([f"[{tens + 1}-9][0-9]"] if tens < 9 else [])
    return "|".join(parts) or None


def _card_rules(schema: dict[str, Any]) -> None:
    """`card_data`'s and `create`'s rules in the schema: a card payment carries a card (16 digits, MM/YY not past in
    Korea this month, a 3-4 digit CVC), a bank one a bank; the other method's details are not read."""
    today = datetime.now(KST)
    yy = today.year % 100
    later = _years_after(yy)
    expiry: list[dict[str, Any]] = [{"enum": [f"{m:02d}/{yy:02d}" for m in range(today.month, 13)]}]
    if later:
        expiry.append({"pattern": f"^{_MONTH}/(?:{later})$"})
    card = {"type": "object", "properties": {
        "cardNumber": {"pattern": f"^{_CARD_NUMBER.pattern}$"}, "expiryDate": {"anyOf": expiry},
        "cvc": {"pattern": "^[0-9]{3,4}$"}}}
    schema["allOf"] = [
        {"if": {"required": ["paymentMethod"], "properties": {"paymentMethod": {"const": method}}},
         "then": {"required": [field], "properties": {field: then}}}
        for method, field, then in (("CARD", "cardInfo", card), ("BANK", "bankInfo", {"type": "object"}))]


class PaymentIn(Strict):
    model_config = ConfigDict(json_schema_extra=_card_rules)

    order_number: StrictStr = Field(alias="orderNumber", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    payment_method: Literal["CARD", "BANK", "VIRTUAL_ACCOUNT"] = Field(alias="paymentMethod")
    amount: Amount
    card_info: CardInfoIn | None = Field(default=None, alias="cardInfo")
    bank_info: BankInfoIn | None = Field(default=None, alias="bankInfo")


def _invalid(message: str, field: str) -> DomainError:
    return DomainError("validation", "INVALID_REQUEST", message, details={"field": field})


def card_data(info: CardInfoIn | None, svc: Services) -> CardData:
    """Seed 002's card rules: 16 digits (hyphens and spaces allowed), MM/YY not past, a 3-4 digit CVC."""
    if info is None:
        raise _invalid("CARD 결제에는 cardInfo가 필요합니다.", "cardInfo")
    if not _CARD_NUMBER.fullmatch(info.card_number):
        raise _invalid("카드 번호는 16자리 숫자여야 합니다.", "cardInfo.cardNumber")
    digits = _SEPARATORS.sub("", info.card_number)
    match = _EXPIRY.fullmatch(info.expiry_date)
    if match is None:
        raise _invalid("유효기간은 MM/YY 형식이어야 합니다.", "cardInfo.expiryDate")
    month, year = int(match.group(1)), 2000 + int(match.group(2))
    today = svc.clock.now().astimezone(KST)
    if (year, month) < (today.year, today.month):
        raise _invalid("유효기간이 지난 카드입니다.", "cardInfo.expiryDate")
    if not (info.cvc.isascii() and info.cvc.isdigit()) or not 3 <= len(info.cvc) <= 4:
        raise _invalid("CVC는 3~4자리 숫자여야 합니다.", "cardInfo.cvc")
    return CardData(number=digits, exp_month=month, exp_year=year, cvc=info.cvc)


@raises("authentication", "permission")
async def shopper(request: Request) -> Caller:
    found = await any_caller(request)  # a user's token without a role is refused as on /api/v1
    if not found.is_user:
        raise DomainError("authentication", "UNAUTHORIZED", "A user's bearer token is required.")
    return found


@raises("authentication", "permission")
async def admin(found: Annotated[Caller, Depends(shopper)]) -> Caller:
    if not found.is_admin:
        raise DomainError("permission", "ADMIN_ONLY", "Only an ADMIN may do this.")
    return found


Shopper = Annotated[Caller, Depends(shopper)]
Admin = Annotated[Caller, Depends(admin)]


def envelope(svc: Services, data: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "data": data, "timestamp": iso(svc.clock.now())}


async def payment_data(svc: Services, p: Payment) -> dict[str, Any]:
    status = STATUS[p.status]
    account = await svc.payments.account(p.id) if p.method_type == "virtual_account" else None
    if account is not None and p.status == "pending" and account.status == "waiting":
        status = "PENDING"  # issued, waiting for the deposit
    data: dict[str, Any] = {
        "paymentNumber": p.payment_number, "orderNumber": p.order_id, "userId": p.user_id,
        "paymentMethod": METHOD_NAMES.get(p.method_type or "card", "CARD"), "amount": p.amount,
        "status": status, "transactionId": p.pg_transaction_id, "paidAt": iso(p.captured_at),
        "createdAt": iso(p.created_at), "updatedAt": iso(p.updated_at),
    }
    if status == "CANCELLED":
        data["cancelledAt"] = iso(p.canceled_at or p.updated_at)
    if status == "REFUNDED":
        data["refundedAt"] = iso(p.updated_at)
    if account is not None:
        data["virtualAccount"] = {"bankCode": account.bank_code, "accountNumber": account.account_number,
                                  "holderName": account.holder_name, "dueDate": iso(account.due_at)}
    return data


@router.post("", summary="Pay for an order as a signed-in user")
async def create(body: PaymentIn, svc: Svc, caller: Shopper, _: Sensitive, fault: Fault) -> Any:
    if "USER" not in caller.roles:
        raise DomainError("permission", "USER_ONLY", "Payments are made by a USER.")
    method_type = METHOD_TYPES[body.payment_method]
    if method_type == "card":
        method = MethodSpec(card=card_data(body.card_info, svc), type="card")
    elif method_type == "bank":
        if body.bank_info is None:
            raise _invalid("BANK 결제에는 bankInfo.bankCode가 필요합니다.", "bankInfo")
        info = body.bank_info
        method = MethodSpec(type="bank", bank=BankInfo(info.bank_code, info.account_number, info.holder_name))
    else:
        method = MethodSpec(type="virtual_account")
    cmd = CreateIntent(order_id=body.order_number, amount=body.amount, currency="KRW",
                       channel=Channel.SHOPPING, user_id=caller.user_id, assign_payment_number=True,
                       order_must_exist=True, confirm=True, method=method)
    created = await svc.payments.create_intent(caller, cmd, fault=fault)
    return envelope(svc, await payment_data(svc, await svc.payments.get_payment(caller, created.charge.payment.id)))


@router.get("/{payment_number}", summary="Get a payment by its number")
async def get(payment_number: str, svc: Svc, caller: Shopper) -> Any:
    return envelope(svc, await payment_data(svc, await svc.payments.get_by_number(caller, payment_number)))


@router.post("/{payment_number}/cancel", summary="Cancel one's own payment")
async def cancel(payment_number: str, svc: Svc, caller: Shopper, _: Sensitive, fault: Fault) -> Any:
    p = await svc.payments.get_by_number(caller, payment_number)
    if p.user_id != caller.user_id:  # the owner cancels; an ADMIN refunds
        raise DomainError("not_found", "NOT_FOUND", f"No such payment: '{payment_number}'.")
    await svc.payments.cancel(caller, p.id, "canceled by the buyer", fault=fault, policy=CANCEL_POLICY)
    data = await payment_data(svc, await svc.payments.get_payment(caller, p.id))
    return envelope(svc, data)


@router.post("/{payment_number}/refund", summary="Refund a payment (ADMIN)")
async def refund(payment_number: str, svc: Svc, caller: Admin, _: Sensitive, fault: Fault) -> Any:
    p = await svc.payments.get_by_number(caller, payment_number)
    if p.status in PAYMENT_CLOSED:
        raise DomainError("conflict", "ALREADY_CANCELED", "The payment is already canceled or refunded.")
    if p.status not in PAYMENT_MONEY_TAKEN:
        raise DomainError("conflict", "NOT_REFUNDABLE", "Only a completed payment can be refunded.")
    await svc.refunds.refund(caller, RefundCommand(p.id, None, "refunded by an admin"), fault=fault)
    return envelope(svc, await payment_data(svc, await svc.payments.get_payment(caller, p.id)))
