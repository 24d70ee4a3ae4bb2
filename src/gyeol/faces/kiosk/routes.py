"""Seed 001's kiosk module at /v1/payments: create, confirm, cancel, and reads. Basic auth with the secret key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictStr

from gyeol.core.payments.records import Channel, Payment
from gyeol.faces.http import JSONRoute
from gyeol.faces.kiosk.views import payment_object
from gyeol.faces.native.deps import Fault, MerchantCaller, Sensitive, Svc
from gyeol.faces.native.schemas import Strict, Url
from gyeol.faces.toss_schemas import Amount, KeyedPaymentIn
from gyeol.services import Services

router = APIRouter(route_class=JSONRoute, prefix="/v1/payments", tags=["Kiosk (Toss-style)"])



class CreateIn(KeyedPaymentIn):
    """{paymentKey, orderId, amount}, plus where the buyer's payment window (`checkout.url`) sends the buyer back,
    as Toss's does: `successUrl` and `failUrl`. The window is Gyeol's hosted checkout, or the window the merchant's
    PG opened for the payment where that PG has its own (Toss's: the answer's paymentKey is then the PG's)."""

    success_url: Url | None = Field(default=None, alias="successUrl")
    fail_url: Url | None = Field(default=None, alias="failUrl")


class CancelIn(Strict):
    cancel_reason: StrictStr = Field(alias="cancelReason", min_length=1, max_length=200)
    cancel_amount: Amount | None = Field(default=None, alias="cancelAmount")


async def _object(svc: Services, p: Payment) -> dict[str, Any]:
    cancels = await svc.keyed.cancels(p.id) if p.refunded_amount else None
    return payment_object(p, svc.keyed.receipt_url(p), cancels, checkout_url=svc.payments.window_url(p))


@router.post("", summary="Create a payment by paymentKey")
async def create(body: CreateIn, svc: Svc, caller: MerchantCaller, _: Sensitive) -> Any:
    p = await svc.keyed.open(caller, body.payment_key, body.order_id, body.amount, channel=Channel.TOSS_PAYMENT,
                             success_url=body.success_url, fail_url=body.fail_url)
    return await _object(svc, p)


@router.post("/confirm", summary="Confirm a payment")
async def confirm(body: KeyedPaymentIn, svc: Svc, caller: MerchantCaller, _: Sensitive, fault: Fault) -> Any:
    p = await svc.keyed.confirm(caller, body.payment_key, body.order_id, body.amount, fault=fault)
    return await _object(svc, p)


@router.post("/{payment_key}/cancel", summary="Cancel a payment, in full or in part")
async def cancel(payment_key: str, body: CancelIn, svc: Svc, caller: MerchantCaller, _: Sensitive,
                 fault: Fault) -> Any:
    merchant = await svc.merchants.get(caller.merchant_id)
    allow = bool((merchant.get("settings") or {}).get("allowPartialCancel", False))
    p = await svc.keyed.cancel(caller, payment_key, body.cancel_reason, body.cancel_amount, allow_partial=allow,
                                fault=fault)
    return await _object(svc, p)


@router.get("/orders/{order_id}", summary="Get a payment by orderId")
async def by_order(order_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await _object(svc, await svc.keyed.find_by_order(caller, order_id))


@router.get("/{payment_key}", summary="Get a payment by paymentKey")
async def get(payment_key: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await _object(svc, await svc.keyed.find(caller, payment_key))
