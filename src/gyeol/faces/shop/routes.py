"""Seed 004's shop flow: the shop's server confirms, Toss's webhook calls back (`PaymentService.apply_pg_notice`
asks the PG), and both end in the one shared post-approval step (`PaymentService.process_payment_after_approval`)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request

from gyeol.core.errors import DomainError
from gyeol.core.payments.notices import PgNotice
from gyeol.core.payments.records import Channel, Payment
from gyeol.core.settlements.records import Settlement
from gyeol.core.states import PAYMENT_MONEY_TAKEN
from gyeol.faces.bodies import JSON_VALUE_REF
from gyeol.faces.http import JSONRoute, raises
from gyeol.faces.native.deps import Fault, MerchantCaller, Sensitive, Svc
from gyeol.faces.toss_schemas import KeyedPaymentIn
from gyeol.services import Services

router = APIRouter(route_class=JSONRoute, prefix="/api/payments", tags=["Shop: Toss confirm and callback"])
DONE_MESSAGE = "결제 완료 및 정산 생성 완료"


def _done(p: Payment, settlement: Settlement) -> dict[str, Any]:
    return {"success": True, "message": DONE_MESSAGE, "orderId": p.order_id, "settlementId": settlement.id,
            "paymentId": p.id}


@router.post("/confirm", summary="Confirm a Toss payment for an order and book its settlement")
async def confirm(body: KeyedPaymentIn, svc: Svc, caller: MerchantCaller, _: Sensitive, fault: Fault) -> Any:
    try:
        order = await svc.orders.get(caller, body.order_id)
    except DomainError as err:
        if err.kind == "not_found":
            raise DomainError("not_found", "ORDER_NOT_FOUND", "주문을 찾을 수 없습니다.") from None
        raise
    if order.amount != body.amount:
        raise DomainError("validation", "AMOUNT_MISMATCH", "결제 금액이 주문 금액과 일치하지 않습니다.")
    p = await svc.keyed.create(caller, body.payment_key, body.order_id, body.amount,
                               channel=Channel.TOSS_CONFIRM)
    if p.status not in PAYMENT_MONEY_TAKEN:  # else the webhook (or an earlier confirm) already did it all
        p = await svc.keyed.confirm(caller, body.payment_key, body.order_id, body.amount, fault=fault)
    if p.status not in PAYMENT_MONEY_TAKEN:
        # A virtual account waiting for its deposit: the settlement is booked when the money arrives.
        raise DomainError("conflict", "WAITING_FOR_DEPOSIT",
                          "입금 대기 중인 결제입니다. 입금이 확인되면 정산이 생성됩니다.",
                          details={"paymentId": p.id, "status": p.status})
    return _done(p, await svc.settlements.of_payment(caller, p.id))


# The route reads its body itself: the document says what it takes.
NOTICE = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"anyOf": [
    {"type": "object", "required": ["data"], "description": "PAYMENT_STATUS_CHANGED",
     "properties": {"data": {"type": "object", "required": ["paymentKey"], "properties": {
         "paymentKey": {"type": "string"}}, "additionalProperties": JSON_VALUE_REF}},
     "additionalProperties": JSON_VALUE_REF},
    {"type": "object", "required": ["secret", "orderId"], "description": "DEPOSIT_CALLBACK",
     "properties": {"secret": {"type": "string"}, "orderId": {"type": "string"}},
     "additionalProperties": JSON_VALUE_REF},
]}}}}}


@router.post("/callback", summary="Receive Toss's payment webhook (default merchant)", openapi_extra=NOTICE)
@raises("gateway")
async def callback_default(request: Request, svc: Svc) -> Any:
    merchant = await svc.merchants.default()
    return await _callback(request, svc, merchant["id"])


@router.post("/callback/{merchant_id}", summary="Receive Toss's payment webhook for a merchant", openapi_extra=NOTICE)
@raises("gateway")
async def callback(merchant_id: str, request: Request, svc: Svc) -> Any:
    merchant = await svc.merchants.get(merchant_id)
    return await _callback(request, svc, merchant["id"])


async def _callback(request: Request, svc: Services, merchant_id: str) -> Any:
    """Toss's payment webhooks are unsigned: the body only says where to look; the PG's own answer decides."""
    try:
        body = orjson.loads(await request.body())
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        raise DomainError("validation", "INVALID_JSON", "The body is not valid JSON.") from None
    data = body.get("data")
    delivery = request.headers.get("tosspayments-webhook-transmission-id")
    if isinstance(data, dict) and isinstance(data.get("paymentKey"), str):  # PAYMENT_STATUS_CHANGED
        notice = PgNotice("toss", payment_key=data["paymentKey"], delivery_id=delivery)
    elif isinstance(body.get("secret"), str) and isinstance(body.get("orderId"), str):  # DEPOSIT_CALLBACK
        notice = PgNotice("toss", order_id=body["orderId"], secret=body["secret"], delivery_id=delivery)
    else:
        raise DomainError("validation", "INVALID_EVENT", "Expected {eventType, data: {paymentKey}} or a deposit "
                                                         "callback {secret, orderId, status}.")
    outcome = await svc.payments.apply_pg_notice(merchant_id, notice)
    if outcome.duplicate:
        return {"received": True, "duplicate": True}
    return {"received": True, "applied": outcome.applied}
