"""Native refund routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from gyeol.core.refunds.service import RefundCommand
from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import AnyCaller, Fault, MerchantCaller, Paging, Sensitive, Svc
from gyeol.faces.native.schemas import RefundIn
from gyeol.faces.native.views import page_view, refund_view

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Refunds"])


@router.post("/refunds", summary="Refund a payment, in full or in part")
async def create_refund(body: RefundIn, svc: Svc, caller: MerchantCaller, _: Sensitive, fault: Fault) -> Any:
    return refund_view(await svc.refunds.refund(
        caller, RefundCommand(body.payment_id, body.amount, body.reason, body.metadata), fault=fault))


@router.get("/refunds", summary="List refunds")
async def list_refunds(svc: Svc, caller: MerchantCaller, paging: Paging,
                       payment_id: str | None = Query(default=None, alias="paymentId", min_length=1,
                                                      max_length=40)) -> Any:
    return page_view(await svc.refunds.list_page(caller, paging.page, paging.size, payment_id), refund_view)


@router.get("/refunds/{refund_id}", summary="Get a refund")
async def get_refund(refund_id: str, svc: Svc, caller: AnyCaller) -> Any:
    return refund_view(await svc.refunds.get(caller, refund_id))
