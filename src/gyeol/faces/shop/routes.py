"""Seed 004's shop flow: the shop's server confirms, Toss's webhook calls back, and both end in the one shared
post-approval step (`PaymentService.process_payment_after_approval`)."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from gyeol.connectors.base import PgPayment
from gyeol.core.errors import DomainError
from gyeol.core.payments.records import Payment
from gyeol.core.settlements import service as settlements
from gyeol.core.settlements.records import Settlement
from gyeol.core.states import PAYMENT_MONEY_TAKEN
from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import Fault, MerchantCaller, Sensitive, Svc
from gyeol.faces.toss_schemas import KeyedPaymentIn
from gyeol.models import inbound_events
from gyeol.services import Services

log = structlog.get_logger(__name__)
router = APIRouter(route_class=JSONRoute, prefix="/api/payments", tags=["shop (seed 004)"])
DONE_MESSAGE = "결제 완료 및 정산 생성 완료"


def _done(p: Payment, settlement: Settlement) -> dict[str, Any]:
    return {"success": True, "message": DONE_MESSAGE, "orderId": p.order_id, "settlementId": settlement.id,
            "paymentId": p.id}


async def _settlement(svc: Services, payment_id: str) -> Settlement:
    async with svc.db.read() as conn:
        return await settlements.for_payment(conn, payment_id)


@router.post("/confirm")
async def confirm(body: KeyedPaymentIn, svc: Svc, caller: MerchantCaller, _: Sensitive, fault: Fault) -> Any:
    try:
        order = await svc.orders.get(caller, body.order_id)
    except DomainError as err:
        if err.kind == "not_found":
            raise DomainError("not_found", "ORDER_NOT_FOUND", "주문을 찾을 수 없습니다.") from None
        raise
    if order.amount != body.amount:
        raise DomainError("validation", "AMOUNT_MISMATCH", "결제 금액이 주문 금액과 일치하지 않습니다.")
    p = await svc.keyed.create(caller, body.payment_key, body.order_id, body.amount, face="shop")
    if p.status not in PAYMENT_MONEY_TAKEN:  # else the webhook (or an earlier confirm) already did it all
        p = await svc.keyed.confirm(caller, body.payment_key, body.order_id, body.amount, fault=fault)
    if p.status not in PAYMENT_MONEY_TAKEN:
        # A virtual account waiting for its deposit: the settlement is booked when the money arrives.
        raise DomainError("conflict", "WAITING_FOR_DEPOSIT",
                          "입금 대기 중인 결제입니다. 입금이 확인되면 정산이 생성됩니다.",
                          details={"paymentId": p.id, "status": p.status})
    return _done(p, await _settlement(svc, p.id))


@router.post("/callback")
async def callback_default(request: Request, svc: Svc) -> Any:
    merchant = await svc.merchants.get_by_name("default")
    return await _callback(request, svc, merchant["id"])


@router.post("/callback/{merchant_id}")
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
    fetched: PgPayment | None
    if isinstance(data, dict) and isinstance(data.get("paymentKey"), str):
        connector, fetched = await svc.payments.find_at_pg(merchant_id, False, payment_key=data["paymentKey"])
    elif isinstance(body.get("secret"), str) and isinstance(body.get("orderId"), str):  # DEPOSIT_CALLBACK
        connector, fetched = await svc.payments.find_at_pg(merchant_id, False, order_id=body["orderId"])
        if fetched is not None and fetched.secret != body["secret"]:
            log.warning("toss_callback_secret_mismatch", merchant_id=merchant_id)
            return {"received": True, "applied": False}
    else:
        raise DomainError("validation", "INVALID_EVENT", "Expected {eventType, data: {paymentKey}} or a deposit "
                                                         "callback {secret, orderId, status}.")
    if fetched is None:
        log.info("toss_callback_unknown_payment", merchant_id=merchant_id)
        return {"received": True, "applied": False}
    state_id = f"{merchant_id}:{fetched.payment_key}:{fetched.status}:{fetched.last_transaction_key}"
    transmission = request.headers.get("tosspayments-webhook-transmission-id")
    if await _seen(svc, "toss-state", state_id) or (transmission and await _seen(svc, "toss-tx", transmission)):
        return {"received": True, "duplicate": True}
    applied = False
    if fetched.status == "approved":
        try:
            await svc.payments.process_payment_after_approval(merchant_id, False, fetched, connector=connector)
            applied = True
        except DomainError as err:  # not one of this merchant's orders, or not its amount: change nothing
            log.warning("toss_callback_not_applied", merchant_id=merchant_id, code=err.code)
            return {"received": True, "applied": False}
    elif fetched.status in ("canceled", "partial_canceled"):
        applied = await svc.refunds.record_pg_cancel(merchant_id, fetched.payment_key, fetched.balance_amount,
                                                     fetched.last_transaction_key) is not None
    await _remember(svc, "toss-state", state_id)
    if transmission:
        await _remember(svc, "toss-tx", transmission)
    return {"received": True, "applied": applied}


async def _seen(svc: Services, source: str, event_id: str) -> bool:
    q = sa.select(inbound_events.c.event_id).where(inbound_events.c.source == source,
                                                   inbound_events.c.event_id == event_id[:200])
    async with svc.db.read() as conn:
        return (await conn.execute(q)).first() is not None


async def _remember(svc: Services, source: str, event_id: str) -> None:
    try:
        async with svc.db.tx() as conn:
            await conn.execute(inbound_events.insert().values(source=source, event_id=event_id[:200],
                                                              received_at=svc.clock.now()))
    except IntegrityError:
        pass  # a concurrent delivery of the same event remembered it first
