"""Native order routes: the merchant's server creates orders; payments are checked against them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from gyeol.core.orders.service import CreateOrder
from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import AnyCaller, MerchantCaller, Paging, Svc
from gyeol.faces.native.schemas import OrderIn
from gyeol.faces.native.views import order_view, page_view

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Orders"])


@router.post("/orders", summary="Create an order")
async def create_order(body: OrderIn, svc: Svc, caller: MerchantCaller) -> Any:
    return order_view(await svc.orders.create(caller, CreateOrder(
        order_id=body.order_id, amount=body.amount, currency=body.currency, customer_id=body.customer_id,
        user_id=body.user_id, order_name=body.order_name,
        items=[i.model_dump() for i in body.items] if body.items is not None else None, metadata=body.metadata,
    )))


@router.get("/orders", summary="List orders")
async def list_orders(svc: Svc, caller: AnyCaller, paging: Paging,
                      status: str | None = Query(default=None, min_length=1, max_length=24)) -> Any:
    return page_view(await svc.orders.list_page(caller, paging.page, paging.size, status), order_view)


@router.get("/orders/{order_id}", summary="Get an order")
async def get_order(order_id: str, svc: Svc, caller: AnyCaller) -> Any:
    return order_view(await svc.orders.get(caller, order_id))
