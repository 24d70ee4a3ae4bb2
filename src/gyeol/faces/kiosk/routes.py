"""Seed 001's kiosk module at /v1/payments: create, confirm, cancel, and reads. Basic auth with the secret key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StrictInt, StrictStr

from gyeol.core.money import MAX_AMOUNT
from gyeol.faces.kiosk.views import payment_object
from gyeol.faces.native.deps import Fault, MerchantCaller, Sensitive, Svc
from gyeol.faces.native.schemas import Strict
from gyeol.services import Services

router = APIRouter(prefix="/v1/payments", tags=["kiosk (seed 001)"])
Key = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-=.]+$")]
OrderId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]


class PaymentIn(Strict):
    payment_key: Key = Field(alias="paymentKey")
    order_id: OrderId = Field(alias="orderId")
    amount: Amount


class CancelIn(Strict):
    cancel_reason: StrictStr = Field(alias="cancelReason", min_length=1, max_length=200)
    cancel_amount: Amount | None = Field(default=None, alias="cancelAmount")


async def _object(svc: Services, p: dict[str, Any]) -> dict[str, Any]:
    cancels = await svc.keyed.cancels(p["id"]) if p["refunded_amount"] else None
    return payment_object(p, svc.keyed.receipt_url(p), cancels)


@router.post("")
async def create(body: PaymentIn, svc: Svc, caller: MerchantCaller, _: Sensitive) -> Any:
    p = await svc.keyed.create(caller, body.payment_key, body.order_id, body.amount, face="kiosk")
    return await _object(svc, p)


@router.post("/confirm")
async def confirm(body: PaymentIn, svc: Svc, caller: MerchantCaller, _: Sensitive, fault: Fault) -> Any:
    p = await svc.keyed.confirm(caller, body.payment_key, body.order_id, body.amount, fault=fault)
    return await _object(svc, p)


@router.post("/{payment_key}/cancel")
async def cancel(payment_key: str, body: CancelIn, svc: Svc, caller: MerchantCaller, _: Sensitive,
                 fault: Fault) -> Any:
    merchant = await svc.merchants.get(caller.merchant_id)
    allow = bool((merchant.get("settings") or {}).get("allowPartialCancel", False))
    p = await svc.keyed.cancel(caller, payment_key, body.cancel_reason, body.cancel_amount, allow_partial=allow,
                                fault=fault)
    return await _object(svc, p)


@router.get("/orders/{order_id}")
async def by_order(order_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await _object(svc, await svc.keyed.find_by_order(caller, order_id))


@router.get("/{payment_key}")
async def get(payment_key: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await _object(svc, await svc.keyed.find(caller, payment_key))
